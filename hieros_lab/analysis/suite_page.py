"""The text of a suite page (``docs/validation.md``) from :mod:`suite` results (no I/O).

Every sentence that states a finding is chosen by the numbers (:func:`verdict`), so the page
says what the runs show, a null result included, without hand edits.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from hieros_lab.analysis import signals
from hieros_lab.analysis.markdown import DASH, fmt, fmt_interval, table
from hieros_lab.analysis.markdown import mean_cell as _ci
from hieros_lab.analysis.suite import ArmResult, TaskResult
from hieros_lab.tracking import keys
from hieros_lab.trainer.host import kind_name


def _minutes(seconds: Sequence[float], budget_min: float | None = None) -> str:
    """``median / max`` in minutes, and how many runs took longer than ``budget_min``."""
    if not seconds:
        return DASH
    cell = f"{np.median(seconds) / 60:.1f} / {max(seconds) / 60:.1f}"
    over = _over(seconds, budget_min)
    return cell + (f" (**{over} over {budget_min:g}**)" if over else "")


def _over(seconds: Sequence[float], budget_min: float | None) -> int:
    """Runs longer than ``budget_min`` minutes (0 without a budget)."""
    return 0 if budget_min is None else sum(s > 60.0 * budget_min for s in seconds)


def _inexact_line(r: TaskResult) -> list[str]:
    """Runs that were resumed on a fresh env (``resume.inexact``): their episodes after the
    stop are not those of their seed, so a rerun from a clean clone will not reproduce them."""
    found = [f"`{a.arm}/seed{row.seed}` ({row.inexact_resumes})" for a in r.arms
             for row in a.rows if row.inexact_resumes]
    if not found:
        return []
    return ["Resumed on a fresh env (resumes in brackets), so not reproducible from their seed: "
            + ", ".join(found) + ".", ""]


def _budget_line(r: TaskResult) -> list[str]:
    """The file's per-run wall budget and the arms whose runs exceed it."""
    budget = r.exp.wall_budget_min
    if budget is None:
        return []
    over = [f"`{a.arm}` ({n} of {len(a.rows)})" for a in r.arms
            if (n := _over([row.wall_s for row in a.rows], budget))]
    verdict = ("every finished run fits it." if not over
               else "runs over it: " + ", ".join(over) + ".")
    return [f"Wall budget (`wall_budget_min`): {budget:g} min a run at `--parallel 2`; "
            + verdict, ""]


#: Fewer seeds per arm than this and no comparison is stated: with one or two runs a side the
#: bootstrap interval of P(X > Y) collapses onto a point and would read as certainty.
MIN_SEEDS = 3


def verdict(arm: ArmResult, baseline: ArmResult) -> str:
    """One sentence on P(arm > baseline): better, worse, no detectable difference, or too few
    seeds to say."""
    iv, n, m = arm.poi, len(arm.rows), len(baseline.rows)
    if iv is None:
        return f"`{arm.arm}`: no finished runs to compare."
    if min(n, m) < MIN_SEEDS:
        return (f"`{arm.arm}` vs `{baseline.arm}`: too few seeds to compare ({n} and {m} "
                f"finished; {MIN_SEEDS} needed).")
    baseline = baseline.arm
    if iv.lo > 0.5:
        return (f"`{arm.arm}` beats `{baseline}`: P = {fmt_interval(iv)}, the interval is above "
                "0.5.")
    if iv.hi < 0.5:
        return (f"`{arm.arm}` is worse than `{baseline}`: P = {fmt_interval(iv)}, the interval "
                "is below 0.5.")
    return (f"`{arm.arm}` vs `{baseline}`: no detectable difference at {n} seeds "
            f"(P = {fmt_interval(iv)} contains 0.5).")


def _duration(seconds: float) -> str:
    """``12.5 min`` below an hour, ``3.42 h`` from an hour on."""
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def projected_wall(r: TaskResult) -> tuple[float, float | None, bool]:
    """``(done, projected, bound)``: training seconds of one task's runs at ``--parallel 2``.

    ``done`` halves the finished runs' wall; ``projected`` adds each unfinished run at its arm's
    median wall before halving, and is None when no run of the task has finished. An arm
    without a finished run is counted at the slowest arm's median, so then ``projected`` is
    only a lower bound (``bound`` True). Two children at a time, perfectly packed: the sweep
    starts the next child as soon as one ends.
    """
    walls = {a.arm: [row.wall_s for row in a.rows] for a in r.arms}
    done = sum(map(sum, walls.values()))
    medians = {arm: float(np.median(w)) for arm, w in walls.items() if w}
    if not medians:
        return done / 2, None, False
    slowest = max(medians.values())
    arms = [key.split("/")[0] for key in r.missing]
    rest = sum(medians.get(arm, slowest) for arm in arms)
    return done / 2, (done + rest) / 2, any(arm not in medians for arm in arms)


def _wall_cell(r: TaskResult) -> str:
    done, projected, bound = projected_wall(r)
    if projected is None:
        return DASH
    if not r.missing:
        return _duration(done)
    return f"{_duration(done)} done, {'at least' if bound else 'about'} {_duration(projected)} " \
        "in all"


def _suite_wall_line(results: Sequence[TaskResult]) -> list[str]:
    """The whole suite's time at ``--parallel 2``: measured so far and projected."""
    walls = [projected_wall(r) for r in results]
    done = sum(d for d, _, _ in walls)
    if any(p is None for _, p, _ in walls):
        return [f"The whole suite at `--parallel 2`: {_duration(done)} of training so far; "
                "a task without a finished run cannot be projected yet.", ""]
    total = sum(p for _, p, _ in walls)
    left = sum(len(r.missing) for r in results)
    bound = any(b for _, _, b in walls)
    tail = (f", {'at least' if bound else 'about'} {_duration(total)} in all with the {left} "
            "unfinished runs at their arm's median wall on the machine kinds above"
            + (" (an arm without a finished run at its task's slowest arm's: a lower bound)"
               if bound else "") if left else "")
    return [f"The whole suite at `--parallel 2` (finished runs' wall halved: two children at a "
            f"time): {_duration(done)} so far{tail}.", ""]


def _summary(results: Sequence[TaskResult]) -> list[str]:
    rows = []
    for r in results:
        best = r.best
        walls = [row.wall_s for a in r.arms for row in a.rows]
        clear = [f"`{a.arm}`" for a in r.arms if len(a.rows) >= MIN_SEEDS and a.above_random]
        rows.append([f"`{r.exp.name}`", r.task, f"`{best.arm}`" if best else DASH,
                     _ci(best.interval, len(best.rows)) if best else DASH,
                     _ci(r.random_interval, len(r.random)),
                     _excludes(best) if best else DASH, ", ".join(clear) or "none",
                     f"{sum(len(a.rows) for a in r.arms)} / "
                     f"{sum(len(r.exp.seeds_of(a)) for a in r.exp.arms)}",
                     _minutes(walls, r.exp.wall_budget_min), _wall_cell(r)])
    return ["## Summary", "",
            "Best arm per task (highest mean final score) next to the random policy. *Excludes "
            "random*: the lower end of the arm's 95 % interval is above the random mean (judged "
            f"only with {MIN_SEEDS} or more seeds). The highest mean can come with the widest "
            "interval, so the next column names every arm whose interval excludes random.", "",
            *table(["experiment", "task", "best arm", "final score", "random", "excludes random",
                     "arms that exclude random", "runs done",
                     "wall per run, min (median / max)", "all runs at `--parallel 2`"], rows),
            *_suite_wall_line(results)]


def _excludes(arm) -> str:
    """The "excludes random" cell: a verdict only from the seeds the suite asks for (an interval
    over two seeds can exclude random while the third seed fails)."""
    if len(arm.rows) < MIN_SEEDS:
        return f"{DASH} (< {MIN_SEEDS} seeds)" if arm.rows else "no"
    return "**yes**" if arm.above_random else "no"


#: Component kinds that name the run's plumbing, not the agent (never a difference to report).
_NOT_AGENT = ("env", "tracker")


def _also(arm: ArmResult, base: ArmResult, skip: Sequence[str] = ()) -> str:
    """`` The two arms also differ in: kind `a` vs `b`; ...`` over the components their runs
    built (``component.*`` tags) other than ``skip`` and the plumbing; empty when none differ."""
    ours, theirs = base.components, arm.components
    also = [f"{k} `{theirs.get(k, '?')}` vs `{ours.get(k, '?')}`"
            for k in sorted(set(ours) | set(theirs))
            if k not in (*skip, *_NOT_AGENT) and theirs.get(k) != ours.get(k)]
    return f" The two arms also differ in: {'; '.join(also)}." if also else ""


def _tally(sentence: str) -> str:
    """``better`` / ``worse`` / ``none`` / ``missing`` for a :func:`verdict` sentence."""
    return ("better" if " beats " in sentence else "worse" if " is worse " in sentence
            else "none" if "no detectable" in sentence else "missing")


def _hierarchy(results: Sequence[TaskResult]) -> list[str]:
    out = ["## Hierarchy: do more levels beat one?", ""]
    lines, tally = [], Counter()
    for r in results:
        base = r.baseline
        if base is None:
            continue
        for arm in r.arms:
            if arm is base or arm.levels in ("1", "?"):
                continue
            sentence = verdict(arm, base)
            tally[_tally(sentence)] += 1
            lines.append(f"- **{r.task}** ({arm.levels} levels): {sentence}"
                         + _also(arm, base))
    if not lines:
        return out + ["No hierarchical arm has finished runs next to a baseline arm yet.", ""]
    compared = tally["better"] + tally["worse"] + tally["none"]
    out += [f"Probability of improvement of each hierarchical arm over its file's 1-level "
            f"baseline (the same S5WM agent with one level), from final scores; 95 % bootstrap "
            f"interval; each line names the components (the runs' `component.*` tags) in which "
            f"the two arms differ besides the levels. Over {compared} comparisons: more levels "
            f"were better in {tally['better']}, worse in {tally['worse']}, and not "
            f"distinguishable in "
            f"{tally['none']}.", "", *lines, ""]
    if tally["better"] == 0 and compared:
        out += ["**At this scale the runs give no evidence that hierarchy helps.**", ""]
    return out


def _sequence_models(results: Sequence[TaskResult]) -> list[str]:
    """Which sequence model: every arm whose runs built another sequence model than its file's
    baseline at the same level count, compared with it (:func:`verdict`), with every other
    component the two arms differ in named, so a comparison that is not clean says so. Nothing
    when no file has such an arm."""
    lines, tally = [], Counter()
    for r in results:
        base = r.baseline
        if base is None or not base.rows:
            continue
        ours = base.components
        for arm in r.arms:
            theirs = arm.components
            if (arm is base or not arm.rows or arm.levels != base.levels
                    or theirs.get("sequence", "?") == ours.get("sequence", "?")):
                continue
            sentence = verdict(arm, base)
            tally[_tally(sentence)] += 1
            lines.append(f"- **{r.task}** (`{r.exp.name}`; {theirs.get('sequence', '?')} vs "
                         f"{ours.get('sequence', '?')}, {base.levels} level"
                         f"{'s' if base.levels != '1' else ''}): {sentence}"
                         + _also(arm, base, skip=("sequence",)))
    if not lines:
        return []
    compared = tally["better"] + tally["worse"] + tally["none"]
    return ["## Sequence models: which is best?", "",
            "Probability of improvement of each arm whose world model uses another sequence "
            "model than its file's baseline arm, at the same number of levels, from final "
            f"scores; 95 % bootstrap interval. Over {compared} comparisons: the other sequence "
            f"model was better in {tally['better']}, worse in {tally['worse']}, and not "
            f"distinguishable in {tally['none']}. Where the arms differ in more than the "
            "sequence model (their runs' `component.*` tags), the line names how.", "",
            *lines, ""]


def _sampled_section(r: TaskResult) -> list[str]:
    """Greedy against sampled final scores per seed, for the arms whose runs logged the sampled
    evaluation (``Trainer.sampled_eval_episodes``); nothing when none did."""
    rows = []
    for a in r.arms:
        pairs = [(row.seed, row.final_score, row.metrics.get(keys.EVAL_SAMPLED_SCORE))
                 for row in a.rows]
        if any(sampled is not None for _, _, sampled in pairs):
            rows.append([f"`{a.arm}`", ", ".join(
                f"{seed}: {fmt(greedy)} / {DASH if sampled is None else fmt(sampled)}"
                for seed, greedy, sampled in pairs)])
    if not rows:
        return []
    return ["Greedy against sampled policy at the last evaluation (`Trainer."
            "sampled_eval_episodes`; the final score is the greedy one). A hierarchy's greedy "
            "subgoal need not be one its sampled subgoals lead to.", "",
            *table(["arm", "seed: greedy / sampled"], rows)]


def _arm_seeds(exp) -> str:
    """``; hieros_2 and hieros_3: 0, 1, 2`` for the arms that run a subset of the seeds."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for arm in exp.arms:
        if arm.seeds is not None:
            groups.setdefault(arm.seeds, []).append(f"`{arm.name}`")
    return "".join(f"; {', '.join(names)}: {', '.join(map(str, seeds))}"
                   for seeds, names in groups.items())


def _task_section(r: TaskResult, figure: str | None) -> list[str]:
    base = r.exp.baseline
    rows = []
    for a in r.arms:
        seeds = ", ".join(f"{row.seed}: {fmt(row.final_score)}" for row in a.rows) or DASH
        few = base is not None and min(len(a.rows), len(r.baseline.rows)) < MIN_SEEDS
        poi = DASH if a.poi is None else f"{DASH} (< {MIN_SEEDS} seeds)" if few else \
            fmt_interval(a.poi)
        rows.append([f"`{a.arm}`", a.levels, _ci(a.interval, len(a.rows)), seeds,
                     _excludes(a), poi,
                     _minutes([row.wall_s for row in a.rows], r.exp.wall_budget_min),
                     a.description])
    rand = ", ".join(f"{s}: {fmt(v)}" for s, v in sorted(r.random.items()))
    rows.append(["random policy", DASH, _ci(r.random_interval, len(r.random)), rand, DASH, DASH,
                 DASH, "uniform actions, same evaluation protocol and seeds"])
    steps = sorted({row.env_steps for a in r.arms for row in a.rows})
    task = r.exp.tasks.get(r.task)
    about = [task.description, ""] if task is not None and task.description else []
    out = [f"### {r.task} (`{r.exp.path.as_posix()}`)", "", r.exp.description, "", *about,
           f"Env steps per run: {', '.join(map(str, steps)) or DASH}. "
           f"Seeds: {', '.join(map(str, r.exp.seeds))}{_arm_seeds(r.exp)}.", "",
           *table(["arm", "levels", "final score", "per seed", "excludes random",
                    f"P(> `{base}`)" if base else "P(> baseline)", "wall, min (median / max)",
                    "what it is"], rows)]
    out += _budget_line(r)
    out += _inexact_line(r)
    out += _sampled_section(r)
    out += _signals_section(r)
    if r.missing:
        out += [f"Not run yet or not finished ({len(r.missing)}): "
                + ", ".join(f"`{k}`" for k in r.missing), ""]
    if r.excluded:
        out += ["Excluded runs: " + "; ".join(f"`{rid}` ({why})" for rid, why in r.excluded), ""]
    if figure:
        out += [f"![learning curves of {r.exp.name}]({figure})", ""]
    return out


def _signals_section(r: TaskResult) -> list[str]:
    """The arms' learning signals at the end of their runs, and which arms' actors are still
    uniform (:mod:`~hieros_lab.analysis.signals`)."""
    done = [a for a in r.arms if a.rows]
    if not done:
        return []
    rows, uniform = [], []
    for a in done:
        values = a.signals
        # 3 significant digits: an imagined reward of 0.003 must not read as 0.00.
        rows.append([f"`{a.arm}`", *(f"{values[k]:.3g}" if k in values else DASH
                                     for k, _ in signals.SIGNALS)])
        if signals.near_uniform(values, r.num_actions):
            uniform.append(f"`{a.arm}`")
    bound = f" (at most ln {r.num_actions} = {math.log(r.num_actions):.2f})" \
        if r.num_actions > 1 else ""
    out = [f"Learning signals at the end of the runs, level 0, mean over seeds: the actor's "
           f"entropy{bound}, the mean extrinsic reward its world model predicts in imagination, "
           "the mean subgoal reward of the same states (levels that follow goals only), and the "
           "spread of its advantages.", "",
           *table(["arm", *(name for _, name in signals.SIGNALS)], rows)]
    if uniform:
        out += [f"Still a uniform policy at the end (entropy within "
                f"{100 * (1 - signals.UNIFORM_FRACTION):.0f} % of ln {r.num_actions}): "
                f"{', '.join(uniform)}. Its greedy evaluation plays one arbitrary action per "
                "state and can score below random.", ""]
    return out


def render(results: Sequence[TaskResult], files: Sequence[Path], figures: Mapping[str, str],
           csvs: Sequence[str], command: str, title: str = "Validation suite") -> str:
    """The whole page. ``figures``: experiment name -> curve figure path relative to the page."""
    rows = [r for res in results for a in res.arms for r in a.rows]
    shas = Counter(r.git_sha for r in rows)
    machines = Counter(kind_name((r.cpu, r.cpu_capability)) for r in rows)
    walls = [r.wall_s for r in rows]
    out = [f"# {title}", "",
           f"Generated by `{command}` from the MLflow runs of {len(files)} experiment files; do "
           "not edit by hand. **Final score** (DESIGN §5): the mean return of the greedy "
           f"evaluation episodes at the last step (the last `{keys.EVAL_SCORE}`); intervals are "
           "95 % Student-t over seeds. The random policy is measured with the same evaluation "
           "env, episodes and seeds.", "",
           f"Runs: {len(rows)} finished. Commits they ran on: "
           + (", ".join(f"`{sha[:10]}` ({n} runs)" for sha, n in shas.most_common()) or DASH)
           + ". Machines they ran on (CPU model / torch's CPU capability): "
           + (", ".join(f"{m} ({n} runs)" for m, n in machines.most_common()) or DASH)
           + f". Training wall time, all runs: {_duration(sum(walls))} (the summary projects "
           "the whole suite).", "",
           "## Rerun it", "", "```", *[f"hieros-lab sweep {f.as_posix()} --parallel 2"
                                      for f in files], command, "```", "",
           f"`{csvs[0]}` holds every run's final score; a rerun of the same files from a clean "
           "clone reproduces each row exactly on a machine of the kind it ran on (same seeds, "
           "one thread per child, the same CPU model and CPU capability: torch picks other "
           "float kernels on AVX2 than on AVX-512, MKL other matrix kernels on an AMD EPYC than "
           "on an Intel Xeon, and the scores then differ slightly; `nox -s validation` compares "
           "the rows of its own machine's kind; a run that was interrupted and resumed "
           "continues exactly where its env could be carried, and is named below where it "
           f"could not, `{keys.RESUME_INEXACT}`). `{csvs[1]}` adds what differs between "
           "reruns: wall time, commit, run id, "
           "CPU model and capability ('?': recorded before runs logged it).", ""]
    out += _summary(results)
    out += _hierarchy(results)
    out += _sequence_models(results)
    out += ["## Per task", ""]
    for r in results:
        out += _task_section(r, figures.get(r.exp.name) if r is _last_of(results, r) else None)
    return "\n".join(out)


def _last_of(results: Sequence[TaskResult], r: TaskResult) -> TaskResult:
    """The last task of ``r``'s experiment: its section carries the experiment's figure."""
    return [x for x in results if x.exp.name == r.exp.name][-1]
