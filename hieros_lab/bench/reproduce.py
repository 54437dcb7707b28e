"""Rerun the validation suite into a fresh store and check it reproduces the committed scores.

``python -m hieros_lab.bench.reproduce --dir DIR`` (``nox -s validation``) runs every file of
:data:`SUITE` with ``hieros-lab sweep --parallel 2`` into ``DIR/runs`` and the tracking store
``DIR/mlflow.db``, writes the page to ``DIR/validation.md``, then compares its ``scores.csv``
with ``docs/validation/scores.csv`` row by row. Exit 0 when every committed row is reproduced
exactly; otherwise it prints each differing row and exits 1. Interrupted, it resumes: run the
same command again (the sweeps skip finished children). ``--only FILE`` reruns one file and
compares only its rows. ``--plan-other-kinds`` prints the sweeps that rerun the committed rows
of other machine kinds on this one (:func:`other_kind_sweeps`).

Scores are bit-exact only on one machine kind, the CPU model and torch's CPU capability
(:func:`hieros_lab.trainer.host.machine_kind`: torch picks its float kernels by the capability,
MKL its matrix kernels by the processor), and the committed suite may mix kinds. So only the
committed rows that ran on this machine's kind (``cpu`` and ``cpu_capability`` in the
``runs.csv`` beside ``scores.csv``; a part that runs made before it was recorded, '?', matches
any) are checked; the others are counted and named by kind. ``--any-kind`` compares every row.
A rerun on a machine of a kind no committed row ran on checks nothing, says so and exits 1.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from hieros_lab.trainer.host import UNKNOWN, Kind, kind_name, machine_kind, same_kind

ROOT = Path(__file__).resolve().parents[2]
#: The files of docs/validation.md, in page order.
SUITE = ("experiments/quickstart.toml", "experiments/validation_cartpole.toml",
         "experiments/validation_minatar.toml", "experiments/validation_pinpad.toml",
         "experiments/validation_dmc.toml", "experiments/ablation_sequence_models.toml",
         "experiments/ablation_sequence_models_pinpad.toml")
COMMITTED = ROOT / "docs" / "validation" / "scores.csv"


def read_scores(path: Path) -> dict[tuple[str, ...], dict[str, str]]:
    """``(experiment, task, arm, seed) -> row`` of a scores.csv."""
    with path.open() as f:
        return {(r["experiment"], r["task"], r["arm"], r["seed"]): r for r in csv.DictReader(f)}


def kinds(committed: Path) -> dict[tuple[str, ...], Kind]:
    """``(experiment, task, arm, seed) -> (cpu, cpu_capability)`` from the ``runs.csv`` beside
    ``committed``; empty where that file is missing (pages before session 10), '?' where a
    column is (``cpu`` before session 20, ``cpu_capability`` before session 10)."""
    path = committed.with_name("runs.csv")
    if not path.is_file():
        return {}
    with path.open() as f:
        return {(r["experiment"], r["task"], r["arm"], r["seed"]):
                (r.get("cpu") or UNKNOWN, r.get("cpu_capability") or UNKNOWN)
                for r in csv.DictReader(f)}


def other_kinds(committed: Path, kind: Kind,
                experiments: set[str] | None = None) -> Counter[str]:
    """How many committed rows ran on each machine kind other than ``kind`` (not compared)."""
    return Counter(kind_name(k) for key, k in kinds(committed).items()
                   if not same_kind(k, kind)
                   and (experiments is None or key[0] in experiments))


def differences(committed: Path, rerun: Path, experiments: set[str] | None = None,
                kind: Kind | None = None) -> list[str]:
    """One line per committed row the rerun lacks or scores differently. ``experiments``: only
    their rows (None: every row); ``kind``: only rows that ran on a machine of that kind
    (:func:`~hieros_lab.trainer.host.same_kind`), None: rows of every kind."""
    want, got = read_scores(committed), read_scores(rerun)
    ran_on = kinds(committed) if kind is not None else {}
    out = []
    for key, row in sorted(want.items()):
        if experiments is not None and key[0] not in experiments:
            continue
        if kind is not None and not same_kind(ran_on.get(key, (UNKNOWN, UNKNOWN)), kind):
            continue
        other = got.get(key)
        if other is None:
            out.append(f"{'/'.join(key)}: missing in the rerun")
        elif other != row:
            out.append(f"{'/'.join(key)}: committed {row['final_score']} at "
                       f"{row['env_steps']} steps, rerun {other['final_score']} at "
                       f"{other['env_steps']} steps")
    return out


def other_kind_sweeps(committed: Path, kind: Kind, files: Sequence[str]) -> list[str]:
    """The sweeps that rerun, on this machine, every committed row of ``files`` that ran on
    another kind: one ``hieros-lab sweep`` line per file, its rows as ``--only`` keys, into a
    runs folder of its own (the original run folders would be skipped as finished). Run into the
    suite's store, each rerun supersedes its row on the page (the later run of an arm, task and
    seed wins), so the suite becomes one kind, reproducible on this machine."""
    from hieros_lab.sweep.experiment import parse_experiment

    slug = re.sub(r"[^a-z0-9]+", "_", kind_name(kind).lower()).strip("_")
    ran_on = kinds(committed)
    lines = []
    for f in files:
        name = parse_experiment(ROOT / f).name
        keys = [f"'{arm}/{task}/seed{seed}'" for (exp, task, arm, seed), k in sorted(
            ran_on.items()) if exp == name and not same_kind(k, kind)]
        if keys:
            lines.append(f"hieros-lab sweep {f} --parallel 2 --runs_dir runs/rerun_{slug} "
                         + " ".join(f"--only {k}" for k in keys))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="runs, store and page go here (required "
                        "unless --plan-other-kinds)")
    parser.add_argument("--plan-other-kinds", action="store_true",
                        help="print the sweeps that rerun the committed rows of other machine "
                        "kinds on this one, and exit")
    parser.add_argument("--only", action="append", default=None, metavar="FILE",
                        help="rerun only this experiment file (repeatable)")
    parser.add_argument("--any-kind", action="store_true",
                        help="compare rows that ran on another machine kind too")
    args = parser.parse_args(argv)
    files = args.only or list(SUITE)
    if args.plan_other_kinds:
        lines = other_kind_sweeps(COMMITTED, machine_kind(), files)
        sys.stdout.write("".join(line + "\n" for line in lines)
                         or f"every committed row ran on this kind, "
                            f"{kind_name(machine_kind())}\n")
        return 0
    if args.dir is None:
        parser.error("--dir is required (or pass --plan-other-kinds)")
    args.dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{args.dir.resolve()}/mlflow.db"}
    cli = [sys.executable, "-m", "hieros_lab"]
    for f in files:
        subprocess.run([*cli, "sweep", f, "--parallel", "2", "--runs_dir",
                        str(args.dir / "runs")], check=True, env=env, cwd=ROOT)
    page = args.dir / "validation.md"
    subprocess.run([*cli, "report", "--suite", *files, "--out", str(page)], check=True, env=env,
                   cwd=ROOT)
    from hieros_lab.sweep.experiment import parse_experiment

    names = None if args.only is None else {parse_experiment(ROOT / f).name for f in files}
    return compare(COMMITTED, page.with_suffix("") / "scores.csv", names,
                   None if args.any_kind else machine_kind())


def compare(committed: Path, rerun: Path, names: set[str] | None, kind: Kind | None) -> int:
    """Print the differing rows and the verdict; 0 when every comparable row reproduced."""
    diff = differences(committed, rerun, names, kind)
    want = read_scores(committed)
    skipped = other_kinds(committed, kind, names) if kind is not None else Counter()
    checked = sum(1 for key in want if names is None or key[0] in names) - sum(skipped.values())
    for line in diff:
        sys.stdout.write(line + "\n")
    if skipped:
        sys.stdout.write(f"not compared (ran on another machine kind than this "
                         f"{kind_name(kind)}): "
                         + ", ".join(f"{n} rows of {k}" for k, n in sorted(skipped.items()))
                         + "\n")
    if checked == 0:
        sys.stdout.write(f"nothing compared: no committed row ran on {kind_name(kind)} "
                         "(rerun on a machine of a kind above, or pass --any-kind)\n")
        return 1
    sys.stdout.write(f"{'reproduced' if not diff else 'NOT reproduced'} ({checked} rows "
                     f"compared): {committed} vs {rerun}\n")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
