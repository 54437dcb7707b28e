"""Are two sets of runs the same computation? ``python -m hieros_lab.bench.same_runs A B``.

``A`` and ``B`` are run archives (``hieros-lab archive export``; a store is exported first).
Each finished run of ``B`` is matched with the run of ``A`` of the same experiment and run name
(a sweep child's name is ``arm/task/seed<k>``; where a file holds several, the latest started
wins, as on the suite page), and every value the two logged, at every step, is compared
exactly, except the wall-clock figures (``perf/*``, ``system/*``), which differ between any two
runs. One line per run of ``B``; exit 0 only when at least one run matched and every matched run
agrees everywhere.

It shows what :mod:`hieros_lab.bench.reproduce`'s score comparison cannot: that a rerun took the
same path to its score, e.g. across commits, or from a resumed run, on one machine kind.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hieros_lab.tracking.archive import FINISHED, read_lines

#: Metric prefixes that measure the clock, not the computation.
WALL_CLOCK = ("perf/", "system/")
RunKey = tuple[str, str]  # (experiment, run name)
Values = dict[tuple[str, int], tuple[float, ...]]  # (key, step) -> values in logged order


def logged_values(record: dict[str, Any]) -> Values:
    """Every value a run record logged but the wall-clock ones, by (key, step); a key logged
    twice at one step (a resumed run) keeps both, in logged order."""
    out: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for key, points in record.get("metrics", {}).items():
        if key.startswith(WALL_CLOCK):
            continue
        for step, timestamp, value in points:
            out.setdefault((key, int(step)), []).append((int(timestamp), float(value)))
    return {k: tuple(v for _, v in sorted(points)) for k, points in out.items()}


def finished_runs(path: Path) -> dict[RunKey, dict[str, Any]]:
    """The finished runs of an archive that logged metrics, by (experiment, run name); the
    latest started where a name repeats."""
    out: dict[RunKey, dict[str, Any]] = {}
    for rec in sorted(read_lines(path)[1], key=lambda r: int(r.get("start_time") or 0)):
        if rec["status"] == FINISHED and rec.get("metrics"):
            out[(rec["experiment"], rec.get("run_name") or rec["run_id"])] = rec
    return out


def compare_run(a: Values, b: Values) -> str:
    """``''`` when both logged the same values at the same steps, else what differs."""
    only = sorted(set(a) ^ set(b))
    differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    parts = []
    if differ:
        key, step = differ[0]
        parts.append(f"{len(differ)} values differ, first {key} at step {step}: "
                     f"{a[differ[0]]} vs {b[differ[0]]}")
    if only:
        parts.append(f"{len(only)} logged by one run only, first {only[0][0]} at step "
                     f"{only[0][1]}")
    return "; ".join(parts)


def compare(a_path: Path, b_path: Path) -> tuple[list[str], bool]:
    """One line per finished run of ``b_path``, and whether every matched run agrees (and one
    matched at all)."""
    a, b = finished_runs(a_path), finished_runs(b_path)
    lines, matched, same = [], 0, True
    for key in sorted(b):
        name = "/".join(key)
        if key not in a:
            lines.append(f"{name}: not in {a_path.name}")
            continue
        matched += 1
        mine, theirs = logged_values(a[key]), logged_values(b[key])
        diff = compare_run(mine, theirs)
        same &= not diff
        lines.append(f"{name}: " + (diff or f"all {len(mine)} logged values equal"))
    return lines, same and matched > 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="run archive (the reference)")
    parser.add_argument("b", type=Path, help="run archive (its runs are matched in A)")
    args = parser.parse_args(argv)
    lines, same = compare(args.a, args.b)
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.write("the same runs\n" if same else "NOT the same runs\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
