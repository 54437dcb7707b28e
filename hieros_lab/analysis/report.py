"""``hieros-lab report``: turn a sweep's MLflow runs into ``report.md`` + PNG plots.

Pipeline: :mod:`runs` reads the child runs, :func:`select_runs` keeps one FINISHED run with a
final ``eval/score`` per (arm, game, seed), :func:`analyse` does the numbers with
:mod:`scores`, :mod:`markdown` writes the text and :mod:`plots` the figures. Final score protocol:
DESIGN §5 (mean over evaluation episodes at the final step = the last ``eval/score``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hieros_lab.analysis import plots, runs
from hieros_lab.analysis.markdown import render
from hieros_lab.analysis.scores import (
    Interval,
    ReferenceTable,
    aggregate_intervals,
    curve_band,
    improvement_interval,
    load_reference,
    mean_ci,
    published_aggregates,
)
from hieros_lab.tracking import keys

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

Cell = tuple[str, str]  # (arm, game)


@dataclass
class Selection:
    """Runs used, keyed (arm, game, seed), and runs left out with the reason."""

    used: dict[tuple[str, str, str], runs.RunRecord]
    excluded: list[tuple[runs.RunRecord, str]]


@dataclass
class Analysis:
    """Every number of a report (inputs of :func:`markdown.render` and of the plots)."""

    arms: list[str]
    games: list[str]
    seeds: dict[Cell, list[tuple[str, float]]]  # per (arm, game): (seed, final score) by seed
    per_game: dict[Cell, Interval]
    hns_games: list[str]  # games in every arm and in the reference table
    unknown_games: list[str]  # games not in the reference table (no HNS)
    runs_per_arm: dict[str, int]  # runs per game used by the aggregates (equal across games)
    aggregates: dict[str, dict[str, Interval]]
    published: dict[str, dict[str, float]]  # over hns_games
    published_all: dict[str, dict[str, float]]  # over the whole table
    poi_games: list[str]
    poi: dict[tuple[str, str], Interval]
    reps: int
    notes: list[str] = field(default_factory=list)


def _seed_key(seed: str) -> tuple[int, str]:
    return (int(seed), seed) if seed.lstrip("-").isdigit() else (1 << 62, seed)


def select_runs(records: list[runs.RunRecord]) -> Selection:
    """One run per (arm, game, seed): FINISHED with an ``eval/score``; a later duplicate wins."""
    used: dict[tuple[str, str, str], runs.RunRecord] = {}
    excluded: list[tuple[runs.RunRecord, str]] = []
    for rec in sorted(records, key=lambda r: r.start_time):
        if rec.status != runs.FINISHED:
            excluded.append((rec, f"status {rec.status}"))
        elif rec.final_score is None:
            excluded.append((rec, f"FINISHED without {keys.EVAL_SCORE}"))
        else:
            key = (rec.arm, rec.game, rec.seed)
            if key in used:
                excluded.append((used[key], f"superseded by later run {rec.run_id}"))
            used[key] = rec
    return Selection(used, excluded)


def _matrix(seeds: dict[Cell, list[tuple[str, float]]], arm: str, games: list[str],
            n: int) -> np.ndarray:
    """(R=n, G) final scores of ``arm``: the first n seeds (by seed) of every game."""
    return np.array([[s for _, s in seeds[(arm, g)][:n]] for g in games]).T


def _aggregates(an: Analysis, table: ReferenceTable, reps: int, seed: int) -> None:
    for arm in an.arms:
        n = min(len(an.seeds[(arm, g)]) for g in an.hns_games)
        an.runs_per_arm[arm] = n
        raw = _matrix(an.seeds, arm, an.hns_games, n)
        hns = np.stack([table.human_normalized(raw[:, j], g)
                        for j, g in enumerate(an.hns_games)], axis=1)
        an.aggregates[arm] = aggregate_intervals(hns, reps, seed)
    if len(set(an.runs_per_arm.values())) > 1 or any(
            len(an.seeds[(a, g)]) != an.runs_per_arm[a] for a in an.arms for g in an.hns_games):
        an.notes.append("Seed counts differ between games: per arm, the aggregates use the first "
                        "R seeds of every game, R = the smallest count (column R).")


def analyse(sel: Selection, table: ReferenceTable, reps: int = 2000, seed: int = 0) -> Analysis:
    """All numbers of the report from the selected runs (no I/O)."""
    seeds: dict[Cell, list[tuple[str, float]]] = {}
    for (arm, game, s), rec in sel.used.items():
        seeds.setdefault((arm, game), []).append((s, float(rec.final_score)))
    for cell in seeds:
        seeds[cell].sort(key=lambda p: _seed_key(p[0]))
    arms = sorted({a for a, _ in seeds})
    games = sorted({g for _, g in seeds})
    common = [g for g in games if all((a, g) in seeds for a in arms)]
    canon = {g: table.canonical(g) for g in games}
    hns_games = [g for g in common if canon[g] is not None]
    an = Analysis(arms, games, seeds, {c: mean_ci(np.array([s for _, s in v]))
                                       for c, v in seeds.items()},
                  hns_games, [g for g in games if canon[g] is None], {}, {},
                  published_aggregates(table, [canon[g] for g in hns_games]) if hns_games else {},
                  published_aggregates(table, list(table.games)), common, {}, reps)
    if hns_games:
        # HNS needs the table's game names; keep our labels for the text.
        _aggregates(an, _renamed(table, canon), reps, seed)
    for i, (x, y) in enumerate(combinations(arms, 2)):
        nx = min(len(seeds[(x, g)]) for g in common) if common else 0
        ny = min(len(seeds[(y, g)]) for g in common) if common else 0
        if common:
            an.poi[(x, y)] = improvement_interval(_matrix(seeds, x, common, nx),
                                                  _matrix(seeds, y, common, ny), reps, seed + i)
    return an


def _renamed(table: ReferenceTable, canon: dict[str, str | None]) -> ReferenceTable:
    """The table with our game labels as extra keys (e.g. ``ALE/Pong-v5`` -> Pong's row)."""
    scores = {c: dict(v) for c, v in table.scores.items()}
    for ours, theirs in canon.items():
        if theirs is not None:
            for column in scores.values():
                column[ours] = column[theirs]
    return ReferenceTable(table.games, scores, table.ale_ids)


def learning_curves(client: MlflowClient, sel: Selection, games: list[str]
                    ) -> tuple[dict[str, dict[str, plots.Curve]], dict[str, str]]:
    """Per game and arm the mean curve over seeds; ``eval/score`` where every run of the game
    logged it at least twice, else ``episode/score`` (training episodes)."""
    curves: dict[str, dict[str, plots.Curve]] = {}
    metric: dict[str, str] = {}
    for game in games:
        recs = [r for (a, g, s), r in sel.used.items() if g == game]
        hist = {r.run_id: runs.fetch_curve(client, r.run_id, keys.EVAL_SCORE) for r in recs}
        if any(h[0].size < 2 for h in hist.values()):
            episodes = {r.run_id: runs.fetch_curve(client, r.run_id, keys.EPISODE_SCORE)
                        for r in recs}
            if all(h[0].size >= 1 for h in episodes.values()):
                hist, metric[game] = episodes, keys.EPISODE_SCORE
        metric.setdefault(game, keys.EVAL_SCORE)
        per_arm: dict[str, list] = {}
        for r in recs:
            per_arm.setdefault(r.arm, []).append(hist[r.run_id])
        curves[game] = {a: curve_band(s) for a, s in sorted(per_arm.items())}
    return curves, metric


@dataclass(frozen=True)
class ReportResult:
    """Where the report went and whether it was attached to the sweep's parent run."""

    path: Path
    parent_run_id: str | None


def write_report(client: MlflowClient, source: runs.Source, out_dir: Path, reps: int = 2000,
                 seed: int = 0, table: ReferenceTable | None = None) -> ReportResult:
    """Read the runs of ``source``, write ``out_dir/report.md`` + PNGs, attach them to the parent
    run (artifacts under ``report/``) when the runs share one."""
    table = table or load_reference()
    records = runs.fetch_records(client, source)
    sel = select_runs(records)
    if not sel.used:
        raise runs.ReportError(f"none of the {len(records)} runs of {source.name!r} is FINISHED "
                               f"with a final {keys.EVAL_SCORE}")
    an = analyse(sel, table, reps, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    refs = {c: {g: table.scores[c][t] for g in an.games if (t := table.canonical(g))}
            for c in table.scores}
    figures = {"scores": plots.plot_game_scores(an.games, an.arms, an.per_game, refs,
                                                out_dir / "scores.png")}
    if an.aggregates:
        figures["aggregates"] = plots.plot_aggregates(an.aggregates, an.published,
                                                      out_dir / "aggregates.png")
    if an.poi:
        figures["improvement"] = plots.plot_improvement(an.poi, out_dir / "improvement.png")
    curves, curve_metric = learning_curves(client, sel, an.games)
    figures["curves"] = plots.plot_curves(curves, curve_metric, out_dir / "curves.png")
    parent = source.parent_run_id or runs.sweep_parent(records)
    text = render(an, sel, table, source, refs, {k: p.name for k, p in figures.items()},
                  curve_metric, parent)
    path = out_dir / "report.md"
    path.write_text(text)
    if parent is not None:
        runs.log_report(client, parent, out_dir)
    return ReportResult(path, parent)
