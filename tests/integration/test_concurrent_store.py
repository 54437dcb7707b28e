"""Runs started together on a new sqlite store: all finish, nothing half-migrated (issue 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mlflow.tracking import MlflowClient

RUNS = 8
STEPS = 30  # debug.gin evaluates every 100 steps: the only eval is the final one, at 30
LOG_EVERY = 10


def test_runs_started_together_on_a_new_store_all_finish(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"  # does not exist yet: every run races to create it
    # One OpenMP thread each: eight processes on a small machine must not spin-wait on each other.
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "hieros_lab", "train", "--no_progress",
               "--gin_file", "debug.gin", "--gin_binding", f"Trainer.steps = {STEPS}",
               "--gin_binding", f"Trainer.log_every = {LOG_EVERY}"]
    procs = [subprocess.Popen([*command, "--run_dir", f"runs/r{i}"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(RUNS)]
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    failed = {i: out[-600:] for i, (proc, out) in enumerate(zip(procs, outputs, strict=True))
              if proc.returncode != 0}
    assert not failed, failed

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("hieros_lab")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    recorded = {json.loads((tmp_path / f"runs/r{i}" / "run.json").read_text())["run_id"]
                for i in range(RUNS)}
    assert {r.info.run_id for r in runs} == recorded and len(recorded) == RUNS
    assert {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:
        def steps(key: str, run_id: str = run.info.run_id) -> list[int]:
            return sorted(m.step for m in client.get_metric_history(run_id, key))

        assert steps("eval/score") == [STEPS], run.info.run_name
        assert steps("perf/updates") == list(range(LOG_EVERY, STEPS + 1, LOG_EVERY))
    # The store was built aside and renamed into place: no temporary database is left over.
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["mlartifacts", "mlflow.db", "mlflow.db.init.lock", "runs"]
