"""``hieros-lab report --suite FILE...``: one page over several experiment files.

This is how ``docs/validation.md`` is made. For every experiment file and each of its tasks:

- the final score of each arm (mean over seeds ± 95 % Student-t interval; DESIGN §5 protocol:
  the last ``eval/score``), next to a uniformly random policy measured with the same protocol on
  the same seeds (:func:`~hieros_lab.analysis.random_policy.random_scores`);
- whether the arm's interval excludes random (its lower bound is above the random mean);
- the probability of improvement of every other arm over the file's ``baseline`` arm;
- learning curves with 95 % bands, and each run's wall time (``perf/wall_s``) and commit;
- each arm's learning signals (:mod:`signals`: final actor entropy against ln A, imagined
  reward, advantage spread), which say why an arm that did not learn did not.

Numbers only here (MLflow reads go through :mod:`runs`); the text is :mod:`suite_page`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hieros_lab.analysis import plots, runs, signals
from hieros_lab.analysis.report import select_runs
from hieros_lab.analysis.scores import Interval, curve_band, improvement_interval, mean_ci
from hieros_lab.sweep.experiment import Experiment
from hieros_lab.tracking import keys

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: ``(gin_files, bindings, seeds) -> {seed: score}``: the random baseline of a config.
RandomFn = Callable[[Sequence[str], Sequence[str], Sequence[int]], dict[int, float]]
#: ``(gin_files, bindings) -> A``: the number of env actions of a config.
ActionsFn = Callable[[Sequence[str], Sequence[str]], int]
#: Columns of ``scores.csv``: what a rerun of the suite on the same machine kind reproduces.
SCORE_COLUMNS = ("experiment", "task", "arm", "seed", "final_score", "env_steps")
#: Columns of ``runs.csv``: the same rows plus what differs between reruns.
RUN_COLUMNS = (*SCORE_COLUMNS, "levels", "wall_s", "git_sha", "run_id", "cpu", "cpu_capability",
               "inexact_resumes")


@dataclass(frozen=True)
class RunRow:
    """One finished run of the suite."""

    experiment: str
    task: str
    arm: str
    seed: int
    final_score: float
    env_steps: int  # step of the final evaluation
    levels: str  # hierarchy levels the run built (its tag)
    wall_s: float  # perf/wall_s; MLflow end - start for runs that predate it
    git_sha: str
    run_id: str
    cpu_capability: str  # torch's kernels on the machine it ran on (AVX2, ...; '?' if unknown)
    #: resumes on a fresh env (keys.RESUME_INEXACT): > 0, the run is not its seed's straight run
    inexact_resumes: int = 0
    cpu: str = "?"  # the CPU model it ran on (host.cpu): with cpu_capability, the machine kind
    metrics: Mapping[str, float] = field(default_factory=dict, compare=False, repr=False)
    #: the registered component of each kind the run built (its ``component.<kind>`` tags)
    components: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class ArmResult:
    """One arm on one task."""

    arm: str
    description: str
    rows: list[RunRow]
    interval: Interval | None  # None: no finished run
    above_random: bool
    poi: Interval | None = None  # P(this arm > baseline), None for the baseline itself
    curve: plots.Curve | None = None

    @property
    def levels(self) -> str:
        return ", ".join(sorted({r.levels for r in self.rows})) or "?"

    @property
    def signals(self) -> dict[str, float]:
        """Mean learning signals over the arm's runs (:func:`signals.signals`)."""
        return signals.signals([r.metrics for r in self.rows])

    @property
    def components(self) -> dict[str, str]:
        """``{kind: registered name}`` its runs built (``"a, b"`` where runs differ)."""
        kinds = sorted({k for r in self.rows for k in r.components})
        return {k: ", ".join(sorted({r.components.get(k, "?") for r in self.rows}))
                for k in kinds}


@dataclass
class TaskResult:
    """Every arm of one experiment file on one of its tasks, with the random baseline."""

    exp: Experiment
    task: str
    arms: list[ArmResult]
    random: dict[int, float]
    random_interval: Interval
    num_actions: int = 0  # env actions A (0: unknown); the actor's entropy is at most ln A
    missing: list[str] = field(default_factory=list)  # child keys without a finished run
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (run id, reason)

    @property
    def best(self) -> ArmResult | None:
        done = [a for a in self.arms if a.interval is not None]
        return max(done, key=lambda a: a.interval.point) if done else None

    @property
    def baseline(self) -> ArmResult | None:
        return next((a for a in self.arms if a.arm == self.exp.baseline), None)


def _row(exp: Experiment, rec: runs.RunRecord, final_step: int) -> RunRow:
    wall = rec.metrics.get(keys.WALL_S)
    if wall is None:
        wall = max(0, rec.end_time - rec.start_time) / 1000.0
    return RunRow(exp.name, rec.game, rec.arm, int(rec.seed), float(rec.final_score), final_step,
                  rec.tags.get(keys.HIERARCHY_LEVELS, "?"), float(wall),
                  rec.tags.get(keys.GIT_SHA, "?"), rec.first_id,
                  rec.tags.get(keys.HOST_CPU_CAPABILITY, "?"),
                  int(rec.tags.get(keys.RESUME_INEXACT, 0)), rec.tags.get(keys.HOST_CPU, "?"),
                  dict(rec.metrics), keys.components_of(rec.tags))


def _records(client: MlflowClient, exp: Experiment) -> list[runs.RunRecord]:
    found = client.get_experiment_by_name(exp.run_name)
    if found is None or found.lifecycle_stage == "deleted":
        return []
    try:
        return runs.fetch_records(client, runs.Source(exp.run_name, (found.experiment_id,), None))
    except runs.ReportError:  # the experiment exists but holds no child run yet
        return []


def collect(client: MlflowClient, exp: Experiment, random_fn: RandomFn, reps: int = 2000,
            seed: int = 0, actions_fn: ActionsFn | None = None) -> list[TaskResult]:
    """The results of one experiment file, one :class:`TaskResult` per task (or game)."""
    expected = {(c.arm, c.game, str(c.seed)) for c in exp.expand()}
    records = [r for r in _records(client, exp) if (r.arm, r.game, r.seed) in expected]
    sel = select_runs(records)
    history = {rec.first_id: runs.fetch_curve(client, rec.run_id, keys.EVAL_SCORE)
               for rec in sel.used.values()}  # (steps, scores) of every used run, by first id
    out = []
    for t, task in enumerate(exp.games):
        first = exp.child(exp.arms[0], task, exp.seeds[0])
        random = random_fn(first.gin_files, first.bindings, exp.seeds)
        rand_iv = mean_ci(np.array(list(random.values())))
        arms = []
        for arm in exp.arms:
            rows = sorted((_row(exp, rec, int(history[rec.first_id][0][-1]))
                           for (a, g, _), rec in sel.used.items()
                           if a == arm.name and g == task), key=lambda r: r.seed)
            iv = mean_ci(np.array([r.final_score for r in rows])) if rows else None
            above = iv is not None and not np.isnan(iv.lo) and iv.lo > rand_iv.point
            curve = curve_band([history[r.run_id] for r in rows]) if rows else None
            arms.append(ArmResult(arm.name, arm.description, rows, iv, above, curve=curve))
        actions = actions_fn(first.gin_files, first.bindings) if actions_fn else 0
        result = TaskResult(exp, task, arms, random, rand_iv, actions,
                            missing=sorted(f"{a}/{g}/seed{s}" for a, g, s in expected
                                           if g == task and (a, g, s) not in sel.used),
                            excluded=[(r.run_id, why) for r, why in sel.excluded
                                      if r.game == task])
        _improvements(result, reps, seed + 100 * t)
        out.append(result)
    return out


def _improvements(result: TaskResult, reps: int, seed: int) -> None:
    """P(arm > baseline) for every arm with finished runs, from their final scores."""
    base = result.baseline
    if base is None or not base.rows:
        return
    y = np.array([[r.final_score] for r in base.rows])  # (R, 1): one task
    for i, arm in enumerate(result.arms):
        if arm is not base and arm.rows:
            x = np.array([[r.final_score] for r in arm.rows])
            arm.poi = improvement_interval(x, y, reps, seed + i)


def write_csvs(results: Sequence[TaskResult], out_dir: Path) -> tuple[Path, Path]:
    """``scores.csv`` (reproducible columns) and ``runs.csv`` (plus wall time, commit, run id)."""
    rows = sorted((r for res in results for a in res.arms for r in a.rows),
                  key=lambda r: (r.experiment, r.task, r.arm, r.seed))
    paths = out_dir / "scores.csv", out_dir / "runs.csv"
    for path, columns in zip(paths, (SCORE_COLUMNS, RUN_COLUMNS), strict=True):
        with path.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(columns)
            for r in rows:
                w.writerow([_csv_value(getattr(r, c)) for c in columns])
    return paths


def _csv_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 1000 else f"{value:.6g}"
    return str(value)


def plot_results(results: Sequence[TaskResult], out_dir: Path) -> dict[str, Path]:
    """One learning-curve panel per (experiment, task) with the random level, in one figure
    per experiment file: ``{experiment name: path}``."""
    paths = {}
    for name in dict.fromkeys(r.exp.name for r in results):
        mine = [r for r in results if r.exp.name == name]
        curves = {r.task: {a.arm: a.curve for a in r.arms if a.curve is not None} for r in mine}
        if not any(curves.values()):
            continue
        paths[name] = plots.plot_curves(
            {t: c for t, c in curves.items() if c}, dict.fromkeys(curves, keys.EVAL_SCORE),
            out_dir / f"curves_{name}.png",
            hlines={r.task: r.random_interval.point for r in mine}, cell=(5.5, 3.8),
            clip_bands=True)
    return paths


def write_page(client: MlflowClient, experiments: Sequence[Experiment], page: Path,
               command: str, random_fn: RandomFn | None = None, reps: int = 2000,
               seed: int = 0, say: Callable[[str], None] = lambda _: None,
               title: str = "Validation suite", actions_fn: ActionsFn | None = None) -> Path:
    """Write ``page`` (Markdown) and, in the folder named after it (``docs/validation/`` for
    ``docs/validation.md``), its figures, ``scores.csv`` and ``runs.csv``."""
    from hieros_lab.analysis import suite_page
    from hieros_lab.analysis.random_policy import num_actions, random_scores

    random_fn = random_fn or random_scores
    actions_fn = actions_fn or num_actions
    results = []
    for exp in experiments:
        say(f"hieros-lab: reading {exp.run_name} and measuring its random baselines")
        results += collect(client, exp, random_fn, reps, seed, actions_fn)
    assets = page.with_suffix("")
    assets.mkdir(parents=True, exist_ok=True)
    csvs = write_csvs(results, assets)
    plotted = plot_results(results, assets)
    for old in assets.glob("curves_*.png"):  # a figure of runs that are gone would mislead
        if old not in plotted.values():
            old.unlink()
    figures = {name: f"{assets.name}/{p.name}" for name, p in plotted.items()}
    text = suite_page.render(results, [e.path for e in experiments], figures,
                             [f"{assets.name}/{p.name}" for p in csvs], command, title)
    page.write_text(text)
    return page
