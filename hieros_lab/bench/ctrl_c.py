"""Ctrl-C soak: interrupt a real local sweep many times, at random moments, optionally under load.

``python -m hieros_lab.bench.ctrl_c --runs 20 --load`` starts, ``runs`` times, a sweep of 2 arms
x 2 seeds of a tiny training at ``--parallel 2`` and sends it SIGINT after a random delay,
counted in rounds 0, 2, 4, ... from the sweep's start (children mostly starting) and in rounds
1, 3, 5, ... from the moment its first children opened their runs (children training,
evaluating or checkpointing: they evaluate and checkpoint every few steps). ``--load`` keeps
one more training busy on the same cores all the while. Each round passes when the sweep exits
130 within ``STOP_WITHIN_S`` of the SIGINT, its parent run and every child run it opened are
KILLED (none RUNNING), and every child checkpoint loads. Prints one JSON object: passes, the
slowest stop, wall time. The integration test runs one round with the same function.
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
from dataclasses import asdict, dataclass
from pathlib import Path

from hieros_lab.bench.tiny_sweep import tiny_sweep

#: Every child must end within this many seconds of its SIGTERM (issue 8 gap 7).
STOP_WITHIN_S = 30.0
#: A sweep that never ends: children train until they are stopped; they log, evaluate and
#: checkpoint often, so that a random moment can fall in any of those states.
TINY = tiny_sweep("tiny", steps=100_000, log_every=10, eval_every=30, checkpoint_every=20)


@dataclass
class Round:
    ok: bool
    exit_code: int
    stop_s: float  # SIGINT -> the sweep's exit (bounds the slowest child's stop)
    delay_s: float  # sweep start -> SIGINT
    children_opened: int  # child runs in MLflow at the end
    child_steps: list[int]  # env step of each child's last checkpoint (how far they got)
    not_killed: list[str]  # runs (parent or child) whose status is not KILLED
    bad_checkpoints: list[str]


def _env(uri: str) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONHASHSEED": "0"}


def interrupt_once(root: Path, uri: str, delay_s: float, after_children: bool = False,
                   timeout_s: float = 120.0) -> Round:
    """One sweep in ``root``, SIGINT ``delay_s`` after its start (``after_children``: after
    its first children opened their runs); what it left behind."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tiny.toml").write_text(TINY)
    proc = subprocess.Popen([sys.executable, "-m", "hieros_lab", "sweep", "tiny.toml",
                             "--parallel", "2"], cwd=root, env=_env(uri),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while (after_children and time.monotonic() < deadline and proc.poll() is None
           and not list(root.glob("runs/tiny/*/*/seed*/run.json"))):
        time.sleep(0.2)
    time.sleep(delay_s)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    stop_s = time.monotonic() - sent
    opened, not_killed = _statuses(uri)
    bad, steps = _checkpoints(root / "runs" / "tiny")
    ok = code == 130 and stop_s <= STOP_WITHIN_S and not not_killed and not bad
    return Round(ok, code, round(stop_s, 2), round(delay_s, 2), opened, steps, not_killed, bad)


def _statuses(uri: str) -> tuple[int, list[str]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id]) if exp is not None else []
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    not_killed = [f"{r.info.run_name}={r.info.status}" for r in runs
                  if r.info.status != "KILLED"]
    return len(children), not_killed


def _checkpoints(sweep_dir: Path) -> tuple[list[str], list[int]]:
    """(checkpoints that do not load or disagree with their name, steps of those that do)."""
    from hieros_lab.trainer import checkpoint as ckpt

    bad, steps = [], []
    for root in sorted(sweep_dir.glob("*/*/seed*/checkpoints")):
        try:
            latest = ckpt.latest_checkpoint(root)
            if latest is not None:
                state = ckpt.load_torch(latest / "state.pt")
                if int(state["step"]) != ckpt.checkpoint_step(root):
                    bad.append(f"{latest}: step {state['step']}")
                steps.append(int(state["step"]))
        except Exception as err:  # noqa: BLE001  (any failure to load is what we count)
            bad.append(f"{root}: {err}")
    return bad, steps


def _load(root: Path, uri: str) -> subprocess.Popen:
    """Another training on the same cores, until it is killed."""
    return subprocess.Popen([sys.executable, "-m", "hieros_lab", "train", "--no_progress",
                             "--gin_file", "debug.gin", "--run_dir", str(root / "load"),
                             "--gin_binding", "Trainer.steps = 10000000",
                             "--gin_binding", "Trainer.checkpoint_every = 0"],
                            env=_env(uri), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def soak(root: Path, runs: int, load: bool, seed: int = 0, max_delay_s: float = 15.0) -> dict:
    rng = random.Random(seed)
    begin = time.monotonic()
    background = _load(root, f"sqlite:///{root}/load.db") if load else None
    rounds = []
    try:
        for i in range(runs):
            rounds.append(interrupt_once(root / f"round{i}", f"sqlite:///{root}/round{i}.db",
                                         rng.uniform(0.5, max_delay_s), after_children=i % 2 == 1))
            sys.stderr.write(json.dumps(asdict(rounds[-1])) + "\n")
    finally:
        if background is not None:
            background.kill()
            background.wait()
    return {"runs": runs, "load": load, "passed": sum(r.ok for r in rounds),
            "slowest_stop_s": max(r.stop_s for r in rounds),
            "mean_stop_s": round(sum(r.stop_s for r in rounds) / runs, 2),
            "rounds_with_child_runs": sum(r.children_opened > 0 for r in rounds),
            "rounds_with_checkpoints": sum(bool(r.child_steps) for r in rounds),
            "failures": [asdict(r) for r in rounds if not r.ok],
            "wall_s": round(time.monotonic() - begin, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load", action="store_true", help="one more training on the cores")
    parser.add_argument("--dir", default="runs/ctrl_c_soak")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    result = soak(root, args.runs, args.load, args.seed)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
