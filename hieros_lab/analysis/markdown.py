"""The text of ``report.md``: Markdown tables from an :class:`~report.Analysis` (no I/O).

Numbers are printed with two decimals so a test can find each one; intervals are 95 %.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from hieros_lab.analysis.scores import METRICS, PUBLISHED, Interval, ReferenceTable
from hieros_lab.tracking import keys

if TYPE_CHECKING:
    from hieros_lab.analysis.report import Analysis, Selection
    from hieros_lab.analysis.runs import Source

DASH = "–"


def fmt(x: float) -> str:
    """A score as printed in the report."""
    return DASH if x is None or math.isnan(x) else f"{x:.2f}"


def fmt_interval(iv: Interval) -> str:
    """``point [lo, hi]``."""
    return f"{fmt(iv.point)} [{fmt(iv.lo)}, {fmt(iv.hi)}]"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table (header, separator, rows) and a blank line."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(r) + " |" for r in rows], ""]


def _runs_section(an: Analysis, sel: Selection) -> list[str]:
    out = ["## Runs", "", f"{len(sel.used)} runs used ({len(an.arms)} arms x {len(an.games)} games"
           " x seeds). Seeds found per arm and game:", ""]
    rows = [[arm, *[str(len(an.seeds.get((arm, g), []))) for g in an.games]] for arm in an.arms]
    out += table(["arm", *an.games], rows)
    if sel.excluded:
        out += [f"{len(sel.excluded)} run(s) **excluded** (not FINISHED, no final "
                f"`{keys.EVAL_SCORE}`, or superseded by a later run of the same arm, game, seed):",
                ""]
        out += table(["run", "arm", "game", "seed", "reason"],
                     [[r.run_id, r.arm, r.game, r.seed, why] for r, why in sel.excluded])
    else:
        out += ["No run was excluded: every run is FINISHED with a final score.", ""]
    return out


def mean_cell(iv: Interval | None, n: int) -> str:
    """``mean ± half-width (n=..)`` of a Student-t interval; the mean alone for one seed."""
    if iv is None:
        return DASH
    if math.isnan(iv.lo):
        return f"{fmt(iv.point)} (n={n})"
    return f"{fmt(iv.point)} ± {fmt(iv.hi - iv.point)} (n={n})"


def _per_game_section(an: Analysis, refs: Mapping[str, Mapping[str, float]],
                      figure: str) -> list[str]:
    ref_cols = ["random", "human", *PUBLISHED]
    header = ["game", *an.arms, *[PUBLISHED.get(c, c) for c in ref_cols]]
    rows = [[g, *[mean_cell(an.per_game.get((a, g)), len(an.seeds.get((a, g), [])))
                  for a in an.arms],
             *[fmt(refs[c][g]) if g in refs[c] else DASH for c in ref_cols]] for g in an.games]
    return ["## Final score per game", "",
            "Mean over seeds ± half-width of the 95 % Student-t interval (n = seeds). Reference "
            "columns: random and human scores and published agents from the shipped table "
            f"(`{DASH}`: game not in the table).", "", *table(header, rows),
            f"![final scores per game]({figure})", ""]


def _aggregate_section(an: Analysis, figure: str | None) -> list[str]:
    out = ["## Human-normalised aggregates", ""]
    if an.unknown_games:
        out += [f"Not in the reference table, so reported per game only and left out of the "
                f"human-normalised aggregates: {', '.join(an.unknown_games)}.", ""]
    if not an.aggregates:
        return out + ["No game of the reference table was run by every arm: no aggregates.", ""]
    out += [f"HNS = (score − random) / (human − random) over the {len(an.hns_games)} games run "
            f"by every arm ({', '.join(an.hns_games)}). Point estimate [95 % stratified-bootstrap "
            f"percentile interval, {an.reps} replicates, runs resampled within each game]; "
            "optimality gap: lower is better. Published agents: the same code on their per-game "
            "table numbers (one run per game, so no interval).", ""]
    rows = [[a, str(an.runs_per_arm[a]), *[fmt_interval(an.aggregates[a][m]) for m in METRICS]]
            for a in an.arms]
    rows += [[PUBLISHED[c], "1", *[fmt(an.published[c][m]) for m in METRICS]] for c in PUBLISHED]
    out += table(["arm", "R", *METRICS.values()], rows) + an.notes
    if figure:
        out += ["", f"![aggregates]({figure})", ""]
    out += ["Published aggregates over all games of the reference table, for reference:", ""]
    out += table(["agent", *METRICS.values()],
                  [[PUBLISHED[c], *[fmt(an.published_all[c][m]) for m in METRICS]]
                   for c in PUBLISHED])
    return out


def _poi_section(an: Analysis, figure: str | None) -> list[str]:
    out = ["## Probability of improvement", ""]
    if not an.poi:
        return out + ["Needs at least two arms with a game in common.", ""]
    out += [f"P(X > Y): probability that a run of X scores higher than a run of Y on a game, "
            f"averaged over the {len(an.poi_games)} games both ran ({', '.join(an.poi_games)}); "
            "per-game ranks, so raw scores of all games count. 0.5 = no difference; 95 % "
            "stratified-bootstrap interval; P(Y > X) = 1 − P(X > Y).", ""]
    rows = [[x, y, fmt_interval(iv)] for (x, y), iv in an.poi.items()]
    out += table(["X", "Y", "P(X > Y)"], rows)
    return out + ([f"![probability of improvement]({figure})", ""] if figure else [])


def render(an: Analysis, sel: Selection, table: ReferenceTable, source: Source,
           refs: Mapping[str, Mapping[str, float]], figures: Mapping[str, str],
           curve_metric: Mapping[str, str], parent: str | None) -> str:
    """The whole ``report.md``."""
    what = (f"children of parent run `{source.parent_run_id}`" if source.parent_run_id
            else f"runs of experiment `{source.name}` tagged `{keys.ARM}`")
    out = [f"# Report: {source.name}", "", f"Source: {what}."
           + (f" Also logged as artifacts of run `{parent}` under `report/`." if parent else ""),
           "", "**Final score protocol** (DESIGN §5): the mean return over the evaluation episodes "
           f"at the final step, i.e. the last logged `{keys.EVAL_SCORE}` of each run "
           "(`Trainer.fit` always evaluates at the end).", ""]
    out += _runs_section(an, sel)
    out += _per_game_section(an, refs, figures["scores"])
    out += _aggregate_section(an, figures.get("aggregates"))
    out += _poi_section(an, figures.get("improvement"))
    used = sorted(set(curve_metric.values()))
    out += ["## Learning curves", "", "Mean over seeds vs env steps with a 95 % Student-t band; "
            "curves interpolated onto the steps every seed covers. Metric per game: "
            + ", ".join(f"{g}: `{curve_metric[g]}`" for g in an.games) + "."
            if len(used) > 1 else f"Mean over seeds of `{used[0]}` vs env steps with a 95 % "
            "Student-t band; curves interpolated onto the steps every seed covers.", "",
            f"![learning curves]({figures['curves']})", ""]
    return "\n".join(out)
