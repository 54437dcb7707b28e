"""Rerun the validation suite into a fresh store and check it reproduces the committed scores.

``python -m hieros_lab.bench.reproduce --dir DIR`` (``nox -s validation``) runs every file of
:data:`SUITE` with ``hieros-lab sweep --parallel 2`` into ``DIR/runs`` and the tracking store
``DIR/mlflow.db``, writes the page to ``DIR/validation.md``, then compares its ``scores.csv``
with ``docs/validation/scores.csv`` row by row. Exit 0 when every committed row is reproduced
exactly; otherwise it prints each differing row and exits 1. Interrupted, it resumes: run the
same command again (the sweeps skip finished children). ``--only FILE`` reruns one file and
compares only its rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The files of docs/validation.md, in page order.
SUITE = ("experiments/quickstart.toml", "experiments/validation_cartpole.toml",
         "experiments/validation_minatar.toml", "experiments/validation_pinpad.toml")
COMMITTED = ROOT / "docs" / "validation" / "scores.csv"


def read_scores(path: Path) -> dict[tuple[str, ...], dict[str, str]]:
    """``(experiment, task, arm, seed) -> row`` of a scores.csv."""
    with path.open() as f:
        return {(r["experiment"], r["task"], r["arm"], r["seed"]): r for r in csv.DictReader(f)}


def differences(committed: Path, rerun: Path, experiments: set[str] | None = None) -> list[str]:
    """One line per committed row the rerun lacks or scores differently (None: every row)."""
    want, got = read_scores(committed), read_scores(rerun)
    out = []
    for key, row in sorted(want.items()):
        if experiments is not None and key[0] not in experiments:
            continue
        other = got.get(key)
        if other is None:
            out.append(f"{'/'.join(key)}: missing in the rerun")
        elif other != row:
            out.append(f"{'/'.join(key)}: committed {row['final_score']} at "
                       f"{row['env_steps']} steps, rerun {other['final_score']} at "
                       f"{other['env_steps']} steps")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="runs, store and page go here")
    parser.add_argument("--only", action="append", default=None, metavar="FILE",
                        help="rerun only this experiment file (repeatable)")
    args = parser.parse_args(argv)
    files = args.only or list(SUITE)
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
    diff = differences(COMMITTED, page.with_suffix("") / "scores.csv", names)
    for line in diff:
        sys.stdout.write(line + "\n")
    sys.stdout.write(f"{'reproduced' if not diff else 'NOT reproduced'}: "
                     f"{COMMITTED.relative_to(ROOT)} vs {page.with_suffix('')}/scores.csv\n")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
