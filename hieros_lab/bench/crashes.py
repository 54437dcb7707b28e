"""Crash soak: SIGKILL real training processes at random moments, resume, check the histories.

``python -m hieros_lab.bench.crashes --runs 10 --kills 5`` trains ``runs`` tiny debug runs;
each is killed ``kills`` times with SIGKILL at a random moment after its first checkpoint
(during env steps, updates, evaluations or checkpoint writes, wherever the moment falls) and
resumed with ``--resume`` until it finishes. Then every metric history of every run is checked:
one value per step, steps strictly increasing, and every expected step of the regular metrics
(``eval/score``, ``perf/updates``) present. Prints one JSON object; the integration test uses
the same functions with fewer kills.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: A tiny run: checkpoints every 20 steps, logs every 10, evaluates every 50.
STEPS, CHECKPOINT_EVERY, LOG_EVERY, EVAL_EVERY = 200, 20, 10, 50
BINDINGS = (f"Trainer.steps = {STEPS}", f"Trainer.checkpoint_every = {CHECKPOINT_EVERY}",
            f"Trainer.log_every = {LOG_EVERY}", f"Trainer.eval_every = {EVAL_EVERY}",
            "Trainer.eval_episodes = 1")


@dataclass
class Check:
    """What the histories of one run look like after its crashes."""

    status: str
    duplicated: int  # values at a step that already had one, summed over keys
    unordered: int  # keys whose steps are not increasing
    missing: int  # expected steps of the regular metrics without a value
    keys: int


def train_command(run_dir: Path, resume: bool, pre: str = "") -> list[str]:
    """The CLI call (in a fresh interpreter; ``pre`` is Python run first, e.g. a fault hook)."""
    argv = ["train", "--no_progress"]
    if resume:
        argv += ["--resume", str(run_dir)]
    else:
        argv += ["--gin_file", "debug.gin", "--run_dir", str(run_dir)]
        for binding in BINDINGS:
            argv += ["--gin_binding", binding]
    code = f"{pre}\nimport sys\nfrom hieros_lab.cli import main\nsys.exit(main({argv!r}))"
    return [sys.executable, "-c", code]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def kill_at_random(run_dir: Path, resume: bool, rng: random.Random, window_s: float,
                   timeout_s: float = 300.0) -> bool:
    """Start a run (or resume it); once it has a checkpoint, SIGKILL it after a random delay in
    ``[0, window_s)``. Returns True if it was killed, False if it finished first."""
    proc = subprocess.Popen(train_command(run_dir, resume), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = run_dir / "checkpoints" / "latest"
    start = time.monotonic()
    while not latest.exists() and proc.poll() is None and time.monotonic() - start < timeout_s:
        time.sleep(0.05)
    deadline = time.monotonic() + rng.uniform(0.0, window_s)
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def finish(run_dir: Path, pre: str = "", resume: bool = True) -> int:
    """Run (or resume) to the end; returns the exit code."""
    return subprocess.run(train_command(run_dir, resume, pre), env=_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False).returncode


def check_run(run_id: str, tracking_uri: str) -> Check:
    """Count duplicated, unordered and missing metric steps of one MLflow run."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    duplicated = unordered = missing = 0
    expected = {"eval/score": set(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY)),
                "perf/updates": set(range(LOG_EVERY, STEPS + 1, LOG_EVERY))}
    for key in run.data.metrics:
        steps = [m.step for m in client.get_metric_history(run_id, key)]
        duplicated += len(steps) - len(set(steps))
        unordered += any(b <= a for a, b in zip(steps, steps[1:], strict=False))
        missing += len(expected.get(key, set()) - set(steps))
    return Check(run.info.status, duplicated, unordered, missing, len(run.data.metrics))


def soak(root: Path, runs: int, kills: int, seed: int = 0, window_s: float = 6.0) -> dict:
    """``runs`` runs with ``kills`` random SIGKILLs each; totals of :class:`Check`."""
    rng = random.Random(seed)
    uri = os.environ["MLFLOW_TRACKING_URI"]
    totals = {"runs": runs, "kills": 0, "finished_early": 0, "duplicated": 0, "unordered": 0,
              "missing": 0, "not_finished": 0, "failed_resumes": 0}
    begin = time.monotonic()
    for i in range(runs):
        run_dir = root / f"run{i}"
        for k in range(kills):
            if kill_at_random(run_dir, resume=k > 0, rng=rng, window_s=window_s):
                totals["kills"] += 1
            else:
                totals["finished_early"] += 1
                break
        if finish(run_dir) != 0:
            totals["failed_resumes"] += 1
        run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
        result = check_run(run_id, uri)
        totals["not_finished"] += result.status != "FINISHED"
        for key in ("duplicated", "unordered", "missing"):
            totals[key] += getattr(result, key)
    totals["wall_s"] = round(time.monotonic() - begin, 1)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--dir", default="runs/crash_soak")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    result = soak(root, args.runs, args.kills, args.seed)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
