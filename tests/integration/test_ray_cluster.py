"""Issue 8 gap 5, the shape a team runs: an ``mlflow server``, a Ray head and a Ray worker node
started with ``ray start``, and ``hieros-lab sweep --ray-address`` from a third process. The
worker node is killed (SIGKILL to its raylet and everything under it) once its children have
checkpointed: they must run again on the head, resume from those checkpoints, and end FINISHED
in their one run each, with every metric step exactly once (hieros_lab/bench/ray_cluster.py)."""

from __future__ import annotations

import json

from hieros_lab.bench import ray_cluster


def test_losing_a_node_mid_sweep_resumes_its_children_elsewhere(tmp_path):
    result = ray_cluster.run(tmp_path)
    summary = json.dumps(result, indent=1)
    assert result["killed_processes"] >= 2, summary  # the node died with children on it
    assert len(result["retried"]) == 2, summary
    assert all(nodes == ["worker", "head"] for nodes in result["retried"].values()), summary
    killed_at = result["killed_children_at_checkpoint_step"]  # (a later checkpoint may follow)
    assert all(result["resumed_from_step"][k] >= s > 0 for k, s in killed_at.items()), summary
    assert result["ok"], summary
