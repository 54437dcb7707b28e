"""End to end: a tiny sweep (2 arms x 2 seeds, fake env) on a local pool and on a local Ray
instance; a re-run skips finished children and resumes an interrupted one."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from hieros_lab import cli
from hieros_lab.bench.tiny_sweep import tiny_sweep

STEPS, LOG_EVERY, EPISODE = 40, 20, 20
TINY = tiny_sweep("tiny", steps=STEPS, log_every=LOG_EVERY, episode_length=EPISODE)
KEYS = {f"{arm}/default/seed{s}" for arm in ("s5", "rssm") for s in (0, 1)}


@pytest.fixture
def tiny(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def runs_of(uri: str) -> tuple[object, dict[str, object]]:
    """(parent run, {arm/game/seedK: child run}) of experiment 'tiny'."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, f"expected one parent run, got {len(parents)}"
    children = {r.info.run_name: r for r in runs if r not in parents}
    assert len(children) == len(runs) - 1, "two children share a name"
    return parents[0], children


def check_sweep(uri: str, tmp_path) -> dict[str, object]:
    parent, children = runs_of(uri)
    assert parent.info.status == "FINISHED"
    assert set(children) == KEYS
    client = MlflowClient(tracking_uri=uri)
    for key, run in children.items():
        arm, _, seed = key.split("/")
        tags = run.data.tags
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert (tags["ablation"], tags["arm"], tags["game"], tags["seed"]) == (
            "tiny", arm, "default", seed[len("seed"):])
        assert tags["component.sequence"] == arm and run.info.status == "FINISHED"
        # every metric call of every concurrent child arrived (no lost sqlite writes)
        assert len(client.get_metric_history(run.info.run_id, "perf/updates")) == STEPS // LOG_EVERY
        episodes = client.get_metric_history(run.info.run_id, "episode/count")
        assert len(episodes) == int(episodes[-1].value) >= 1  # one entry per logged episode
        record = json.loads((tmp_path / "runs/tiny" / key / "run.json").read_text())
        assert record["run_id"] == run.info.run_id
    state = json.loads((tmp_path / "runs/tiny/sweep.json").read_text())
    assert state["parent_run_id"] == parent.info.run_id
    assert {k: v["status"] for k, v in state["children"].items()} == dict.fromkeys(KEYS, "FINISHED")
    return children


def test_local_sweep_then_rerun_skips_finished_and_resumes_interrupted(tiny, mlflow_uri, tmp_path):
    assert cli.main(["sweep", str(tiny), "--parallel", "4"]) == 0
    children = check_sweep(mlflow_uri, tmp_path)
    before = {k: r.info.run_id for k, r in children.items()}
    # Simulate an interrupted child: its run KILLED and no completed part in its run.json (as
    # SIGTERM in its final evaluation leaves them), checkpoint kept.
    client = MlflowClient(tracking_uri=mlflow_uri)
    cut = "rssm/default/seed1"
    client.set_terminated(before[cut], status="KILLED")
    record = tmp_path / "runs/tiny" / cut / "run.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "completed_step": None}))
    logs = {k: (tmp_path / "runs/tiny" / k / "train.log").stat().st_mtime for k in KEYS}

    assert cli.main(["sweep", str(tiny), "--parallel", "2"]) == 0
    after = check_sweep(mlflow_uri, tmp_path)  # still one parent, four children: no new run
    assert {k: r.info.run_id for k, r in after.items()} == before
    for key in KEYS - {cut}:  # finished children were not started again
        assert (tmp_path / "runs/tiny" / key / "train.log").stat().st_mtime == logs[key]
    # the interrupted child was resumed (same run, from its checkpoint at the last step): it
    # evaluated once more; the skipped ones did not
    evals = {k: len(client.get_metric_history(before[k], "eval/score")) for k in KEYS}
    assert evals == {**dict.fromkeys(KEYS - {cut}, 1), cut: 2}

    # The comparison report of these runs: per-arm final scores equal the runs' last eval/score.
    assert cli.main(["report", "--experiment", "tiny", "--out", "rep", "--reps", "200"]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    body = text.split("## Final score per game", 1)[1]
    row = next(ln for ln in body.splitlines() if ln.startswith("| default |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    for j, arm in enumerate(sorted(("s5", "rssm"))):
        finals = [client.get_run(before[f"{arm}/default/seed{s}"]).data.metrics["eval/score"]
                  for s in (0, 1)]
        assert cells[1 + j].startswith(f"{sum(finals) / 2:.2f}"), (arm, cells)


def test_rerun_after_a_config_change_refuses_before_running(tiny, mlflow_uri, tmp_path, capsys):
    """Children that ran under the old config are neither skipped (their result would count for
    the new one) nor resumed: the re-run stops first, naming them and the changed binding."""
    assert cli.main(["sweep", str(tiny), "--parallel", "4", "--only", "s5/*"]) == 0
    logs = {k: (tmp_path / "runs/tiny" / k / "train.log").stat().st_mtime
            for k in ("s5/default/seed0", "s5/default/seed1")}
    tiny.write_text(TINY.replace("fake.episode_length = 20", "fake.episode_length = 30"))
    capsys.readouterr()
    assert cli.main(["sweep", str(tiny), "--parallel", "2"]) == 2
    err = capsys.readouterr().err
    assert "2 child run(s)" in err and "s5/default/seed0" in err and "s5/default/seed1" in err
    assert "episode_length = 20" in err and "episode_length = 30" in err
    assert not (tmp_path / "runs/tiny/rssm").exists()  # nothing ran
    assert all((tmp_path / "runs/tiny" / k / "train.log").stat().st_mtime == t
               for k, t in logs.items())
    # Only a binding change counts: the same config written differently re-runs normally.
    tiny.write_text(TINY.replace('seeds = [0, 1]', '# same seeds\nseeds = [0, 1]'))
    assert cli.main(["sweep", str(tiny), "--parallel", "2", "--only", "s5/*"]) == 0


def test_ray_sweep_on_a_local_instance(tiny, mlflow_uri, tmp_path):
    import ray  # the 'ray' extra is part of the test install: a missing one must fail here

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        assert cli.main(["sweep", str(tiny), "--ray-address", address]) == 0
    finally:
        ray.shutdown()
    check_sweep(mlflow_uri, tmp_path)


def test_a_failing_child_does_not_stop_the_others(tmp_path, monkeypatch, mlflow_uri):
    """One arm fails while building (a 12x12 image cannot feed the CNN): the other arm still
    finishes, the parent ends FAILED and records the child's error."""
    monkeypatch.chdir(tmp_path)
    text = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace(
        '[arms.rssm]\nbindings = ["WorldModel.sequence = @rssm"]',
        '[arms.broken]\nbindings = ["fake.size = 12"]')
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    assert cli.main(["sweep", str(path), "--parallel", "2"]) == 1
    client = MlflowClient(tracking_uri=mlflow_uri)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = {r.data.tags["arm"]: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert parent.info.status == "FAILED"
    assert children["s5"].info.status == "FINISHED"
    assert "broken" not in children or children["broken"].info.status == "FAILED"
    errors = [a.path for a in client.list_artifacts(parent.info.run_id, "errors")]
    assert any("broken" in p for p in errors), errors


def test_ctrl_c_stops_children_cleanly_and_marks_them_killed(tmp_path):
    """SIGINT to a sweep whose children train (and evaluate and checkpoint every few steps):
    it exits 130 within 30 s, the parent and every child run are KILLED, every checkpoint
    loads (20 rounds at random moments under load: ``python -m hieros_lab.bench.ctrl_c``)."""
    from hieros_lab.bench import ctrl_c

    result = ctrl_c.interrupt_once(tmp_path, f"sqlite:///{tmp_path}/mlflow.db", delay_s=4.0,
                                   after_children=True)
    assert result.ok and result.children_opened >= 1, result
