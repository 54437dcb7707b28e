"""A team's setup on one machine, and the loss of a node in the middle of a sweep.

``python -m hieros_lab.bench.ray_cluster`` starts, as separate processes:

- an ``mlflow server`` (sqlite backend, local artifact root) on localhost;
- a Ray head (``ray start --head``, 1 CPU) and a Ray worker node (``ray start --address``,
  2 CPUs);
- ``hieros-lab sweep --ray-address HOST:PORT`` from a third process, 2 arms x 2 seeds of a tiny
  training, logging to the server.

Once every child that runs on the worker node has written a checkpoint, the worker node is
killed: its raylet and every process under it (Ray workers and the training children) get
SIGKILL, as when a machine dies. Then it checks that the sweep exits 0, its parent run is
FINISHED, there is exactly one run per child and each is FINISHED, the children of the lost node
ran again (on the head) and resumed from their checkpoints, and no metric key of any child has a
duplicated, out-of-order or missing step. Prints (and writes with ``--json``) one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hieros_lab.bench.servers import free_port, mlflow_server
from hieros_lab.bench.tiny_sweep import tiny_sweep

STEPS, LOG_EVERY, CHECKPOINT_EVERY = 240, 10, 20
TINY = tiny_sweep("cluster", steps=STEPS, log_every=LOG_EVERY,
                  checkpoint_every=CHECKPOINT_EVERY)
NODE_LINE = re.compile(r"hieros-lab: on Ray node (\w+)")


def _ray(*args: str, env: dict[str, str]) -> None:
    ray = str(Path(sys.executable).with_name("ray"))
    subprocess.run([ray, *args], env=env, check=True, capture_output=True, timeout=180)


def _raylets() -> set[int]:
    import psutil

    return {p.pid for p in psutil.process_iter(["name", "cmdline"])
            if "raylet" in (p.info["name"] or "") or
            any(str(a).endswith("/raylet") for a in (p.info["cmdline"] or []))}


def _kill_tree(pid: int) -> int:
    """SIGKILL ``pid`` and everything under it; the number of processes killed."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for proc in procs:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    return len(procs)


def _nodes_of(sweep_dir: Path) -> dict[str, list[str]]:
    """child key -> Ray node ids its log says it ran on, in order."""
    out = {}
    for log in sorted(sweep_dir.glob("*/*/seed*/train.log")):
        key = str(log.parent.relative_to(sweep_dir))
        out[key] = NODE_LINE.findall(log.read_text(errors="replace"))
    return out


def _worker_node_id(address: str) -> str:
    import ray

    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    try:
        workers = [n["NodeID"] for n in ray.nodes() if n["Alive"]
                   and n["Resources"].get("CPU") == 2.0]
        if len(workers) != 1:
            raise RuntimeError(f"expected one 2-CPU worker node, found {len(workers)}")
        return workers[0]
    finally:
        ray.shutdown()


def run(root: Path, timeout_s: float = 1200.0) -> dict:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1",
           "PYTHONHASHSEED": "0"}
    begin = time.monotonic()
    port = free_port()
    address = f"127.0.0.1:{port}"
    result: dict = {"ray_address": address}
    with mlflow_server(root / "mlflow") as url:
        env["MLFLOW_TRACKING_URI"] = result["tracking_uri"] = url
        try:
            _ray("start", "--head", "--port", str(port), "--num-cpus", "1",
                 "--include-dashboard", "false", "--disable-usage-stats", env=env)
            head_raylets = _raylets()
            _ray("start", "--address", address, "--num-cpus", "2", "--disable-usage-stats",
                 env=env)
            worker_raylet = (_raylets() - head_raylets).pop()
            worker = _worker_node_id(address)
            result.update(_sweep_and_kill(root, address, env, worker, worker_raylet, timeout_s))
        finally:
            subprocess.run([str(Path(sys.executable).with_name("ray")), "stop", "--force"],
                           env=env, capture_output=True, check=False, timeout=120)
        result.update(_check(url, root / "runs" / "cluster", worker))
    result["wall_s"] = round(time.monotonic() - begin, 1)
    result["ok"] = bool(result["exit_code"] == 0 and result["parent_status"] == "FINISHED"
                        and result["children_finished"] == 4 and result["runs_per_child"] == 1
                        and result["retried"] and result["duplicated"] == 0
                        and result["unordered"] == 0 and result["missing"] == 0
                        and all(s > 0 for s in result["resumed_from_step"].values()))
    return result


def _sweep_and_kill(root: Path, address: str, env: dict[str, str], worker: str,
                    worker_raylet: int, timeout_s: float) -> dict:
    (root / "cluster.toml").write_text(TINY)
    out = open(root / "sweep.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "hieros_lab", "sweep", "cluster.toml",
                             "--ray-address", address], cwd=root, env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    sweep_dir = root / "runs" / "cluster"
    deadline = time.monotonic() + timeout_s
    killed_at: dict[str, int] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        on_worker = [k for k, nodes in _nodes_of(sweep_dir).items() if nodes == [worker]]
        steps = {k: _checkpoint_step(sweep_dir / k) for k in on_worker}
        if len(on_worker) == 2 and all(s is not None for s in steps.values()):
            killed_at = {k: int(s) for k, s in steps.items()}
            break
        time.sleep(0.5)
    killed = _kill_tree(worker_raylet) if killed_at else 0
    try:
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    out.close()
    return {"exit_code": code, "killed_processes": killed,
            "killed_children_at_checkpoint_step": killed_at}


def _checkpoint_step(run_dir: Path) -> int | None:
    from hieros_lab.trainer import checkpoint as ckpt

    try:
        return ckpt.checkpoint_step(run_dir / "checkpoints")
    except ckpt.CheckpointError:
        return None


def _check(url: str, sweep_dir: Path, worker: str) -> dict:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name("cluster")
    runs = client.search_runs([exp.experiment_id]) if exp else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r not in parents]
    names = [r.info.run_name for r in children]
    duplicated = unordered = missing = 0
    for run in children:
        for key in run.data.metrics:
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            duplicated += len(steps) - len(set(steps))
            unordered += any(b <= a for a, b in zip(steps, steps[1:], strict=False))
            if key == "perf/updates":
                missing += len(set(range(LOG_EVERY, STEPS + 1, LOG_EVERY)) - set(steps))
    nodes = _nodes_of(sweep_dir)
    retried = {k: n for k, n in nodes.items() if n and n[0] == worker}
    resumed = {}
    for key in retried:
        log = (sweep_dir / key / "train.log").read_text(errors="replace")
        resumed[key] = len(re.findall(r"hieros-lab: run \w+ in", log))
    return {"parent_status": parents[0].info.status if len(parents) == 1 else f"{len(parents)}",
            "children": sorted(names), "runs_per_child": max(map(names.count, names), default=0),
            "children_finished": sum(r.info.status == "FINISHED" for r in children),
            "retried": {k: [("worker" if n == worker else "head") for n in v]
                        for k, v in retried.items()},
            "run_starts_of_retried": resumed,
            "resumed_from_step": {k: _first_resume_step(sweep_dir / k) for k in retried},
            "duplicated": duplicated, "unordered": unordered, "missing": missing}


def _first_resume_step(run_dir: Path) -> int:
    """The step the retry resumed from (from the progress line the CLI logs), 0 if it started
    over."""
    log = (run_dir / "train.log").read_text(errors="replace")
    found = re.findall(r"resumed from step (\d+)", log)
    return int(found[0]) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    root = (args.dir or Path(tempfile.mkdtemp(prefix="hieros_cluster_"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    result = run(root)
    text = json.dumps(result, indent=2) + "\n"
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    sys.stdout.write(text)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
