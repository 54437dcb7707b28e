"""MlflowTracker against a real sqlite store, read back through a separate MlflowClient.

One store per module: creating a sqlite store runs MLflow's migrations (seconds).
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from hieros_lab.tracking.base import MAX_PARAM_LENGTH, TRUNCATION_MARKER, TrackerError
from hieros_lab.tracking.mlflow_tracker import MlflowTracker


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[str, MlflowClient, Path]:
    """(URI, reading client, directory) of a module-wide sqlite store, opened once."""
    root = tmp_path_factory.mktemp("mlflow_store")
    uri = f"sqlite:///{root}/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        MlflowTracker(uri).check()  # creates the database: the one slow step
        yield uri, MlflowClient(tracking_uri=uri), root


@pytest.fixture
def uri(store) -> str:
    return store[0]


@pytest.fixture
def client(store) -> MlflowClient:
    return store[1]


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_full_run_reads_back(uri, client, tmp_path):
    tracker = MlflowTracker(uri)
    run_id = tracker.start("full")
    assert tracker.run_id == run_id
    tracker.log_params({"Trainer.steps": 120, "level1/WorldModel.kl_dyn": 0.5})
    tracker.set_tags({"component.sequence": "s5", "hierarchy.levels": "1"})
    for step in (10, 20, 30):
        tracker.log_metrics({"episode/score": step / 10, "level0/world_model/kl": 1.0}, step)
    tracker.log_text("Trainer.steps = 120\n", "config/operative_config.gin")
    image = np.zeros((4, 5, 3), np.uint8)
    image[1, 2] = (255, 0, 7)
    tracker.log_image(image, "subgoals/level0.png")
    local = tmp_path / "notes.txt"
    local.write_text("a local file")
    tracker.log_file(str(local), "extra")
    tracker.end("FINISHED")

    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "full"
    assert run.info.end_time is not None
    assert run.data.params == {"Trainer.steps": "120", "level1/WorldModel.kl_dyn": "0.5"}
    assert run.data.tags["component.sequence"] == "s5"
    assert run.data.tags["hierarchy.levels"] == "1"
    assert _history(client, run_id, "episode/score") == [(10, 1.0), (20, 2.0), (30, 3.0)]
    assert [s for s, _ in _history(client, run_id, "level0/world_model/kl")] == [10, 20, 30]
    out = Path(client.download_artifacts(run_id, "", str(tmp_path / "dl")))
    assert (out / "config/operative_config.gin").read_text() == "Trainer.steps = 120\n"
    assert (out / "extra/notes.txt").read_text() == "a local file"
    assert np.array_equal(np.asarray(Image.open(out / "subgoals/level0.png")), image)


def test_resume_continues_the_same_run(uri, client):
    first = MlflowTracker(uri)
    run_id = first.start("resumable")
    first.log_params({"lr": 0.001})
    first.log_metrics({"eval/score": 1.0}, 100)
    first.end("KILLED")
    assert client.get_run(run_id).info.status == "KILLED"

    second = MlflowTracker(uri)  # a new process after the interrupt
    assert second.start("resumable", run_id=run_id) == run_id
    assert client.get_run(run_id).info.status == "RUNNING"
    second.log_params({"lr": 0.001})  # re-logging the same config is allowed
    second.log_metrics({"eval/score": 2.0}, 150)
    second.end("FINISHED")
    assert client.get_run(run_id).info.status == "FINISHED"
    assert _history(client, run_id, "eval/score") == [(100, 1.0), (150, 2.0)]
    exp = client.get_experiment_by_name("hieros_lab")
    assert len(client.search_runs([exp.experiment_id], "tags.mlflow.runName = 'resumable'")) == 1


def test_resume_of_an_unknown_run_names_the_store(uri):
    with pytest.raises(TrackerError, match="0123456789abcdef0123456789abcdef") as info:
        MlflowTracker(uri).start("x", run_id="0123456789abcdef0123456789abcdef")
    assert uri in str(info.value)


@pytest.mark.parametrize("status", ["FAILED", "KILLED"])
def test_terminal_statuses_and_idempotent_end(uri, client, status):
    tracker = MlflowTracker(uri)
    run_id = tracker.start(f"ends-{status}")
    tracker.end(status)
    tracker.end("FINISHED")  # no-op: the first terminal status stays
    assert client.get_run(run_id).info.status == status
    with pytest.raises(ValueError):
        tracker.end("DONE")
    with pytest.raises(TrackerError, match="start"):
        tracker.log_metrics({"a": 1.0}, 1)


def test_nested_runs_and_one_run_at_a_time(uri, client):
    parent = MlflowTracker(uri)
    parent_id = parent.start("sweep")
    child = MlflowTracker(uri)
    child_id = child.start("arm-a", parent_run_id=parent_id)
    assert client.get_run(child_id).data.tags["mlflow.parentRunId"] == parent_id
    with pytest.raises(TrackerError, match="still running"):
        child.start("again")
    child.end("FINISHED")
    parent.end("FINISHED")


def test_params_are_batched_and_clipped(uri, client):
    tracker = MlflowTracker(uri)
    run_id = tracker.start("many-params")
    params = {f"Block{i}.width": i for i in range(250)}
    params["Long.value"] = "x" * (MAX_PARAM_LENGTH + 1000)
    tracker.log_params(params)
    tracker.end("FINISHED")
    logged = client.get_run(run_id).data.params
    assert len(logged) == 251 and logged["Block249.width"] == "249"
    assert len(logged["Long.value"]) == MAX_PARAM_LENGTH
    assert logged["Long.value"].endswith(TRUNCATION_MARKER)


def test_changing_a_param_is_a_tracker_error(uri):
    tracker = MlflowTracker(uri)
    tracker.start("param-change")
    tracker.log_params({"lr": 1})
    with pytest.raises(TrackerError, match=uri):
        tracker.log_params({"lr": 2})
    tracker.end("FAILED")


def test_nonfinite_skipped_and_names_sanitised(uri, client):
    tracker = MlflowTracker(uri)
    run_id = tracker.start("nonfinite")
    metrics = {"a": float("nan"), "b": float("inf"), "ok": 1.0, "bad:name?": 2.0,
               **{f"bulk/m{i}": float(i) for i in range(1200)}}  # > one log_batch of metrics
    tracker.log_metrics(metrics, 5)
    tracker.log_metrics({"a": float("-inf")}, 6)
    tracker.end("FINISHED")
    assert tracker.skipped_nonfinite == {"a": 2, "b": 1}
    logged = client.get_run(run_id).data.metrics
    assert "a" not in logged and "b" not in logged
    assert logged["ok"] == 1.0 and logged["bad_name_"] == 2.0 and logged["bulk/m1199"] == 1199.0
    assert len(logged) == 1202


def test_env_var_overrides_the_default_and_argument_overrides_env(uri, client, monkeypatch,
                                                                   tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracker = MlflowTracker(experiment="from-env")
    assert tracker.tracking_uri == uri
    run_id = tracker.start("env")
    tracker.end("FINISHED")
    assert client.get_run(run_id).info.experiment_id == \
        client.get_experiment_by_name("from-env").experiment_id
    assert MlflowTracker(tracking_uri="http://example.invalid").tracking_uri == \
        "http://example.invalid"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    assert MlflowTracker().tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_artifacts_live_next_to_the_database(store, client, tmp_path, monkeypatch):
    uri, _, root = store
    monkeypatch.chdir(tmp_path)  # another working directory must not move them
    tracker = MlflowTracker(uri, experiment="artifacts-here")
    run_id = tracker.start("art")
    tracker.log_text("hello", "note.txt")
    tracker.end("FINISHED")
    artifact_uri = client.get_run(run_id).info.artifact_uri
    assert artifact_uri.startswith(str(root.resolve()))
    assert list(tmp_path.iterdir()) == []


def test_check_names_an_unusable_sqlite_path(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a regular file where a directory is expected")
    tracker = MlflowTracker(f"sqlite:///{blocker}/sub/mlflow.db")
    with pytest.raises(TrackerError) as info:
        tracker.check()
    message = str(info.value)
    assert str(blocker) in message and "not a directory" in message
    assert "\n" not in message
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(TrackerError, match="dir.db"):
        MlflowTracker(f"sqlite:///{tmp_path}/dir.db").check()


def test_check_names_a_server_that_does_not_answer():
    with socket.socket() as sock:  # a free port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    with pytest.raises(TrackerError, match="not usable") as info:
        MlflowTracker(uri).check()
    assert uri in str(info.value)


def test_check_refuses_a_deleted_experiment(uri, client):
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(TrackerError, match="deleted"):
        MlflowTracker(uri, experiment="gone").check()
    MlflowTracker(uri, experiment="hieros_lab").check()  # a healthy store passes


def _locked_error():
    """What MLflow raises when another process holds sqlite's write lock too long."""
    import sqlite3

    from mlflow.exceptions import MlflowException

    try:
        raise sqlite3.OperationalError("database is locked")
    except sqlite3.OperationalError as err:
        return MlflowException(f"(sqlite3.OperationalError) {err}")


def test_a_locked_store_is_retried_and_logs_once(uri, client, monkeypatch):
    tracker = MlflowTracker(uri)
    run_id = tracker.start("locked-once")
    real = tracker._client()
    log_batch, failures = real.log_batch, [_locked_error()]

    def flaky(*args, **kwargs):  # another run holds the write lock for the first try
        if failures:
            raise failures.pop()
        return log_batch(*args, **kwargs)

    monkeypatch.setattr(real, "log_batch", flaky)
    tracker.log_metrics({"eval/score": 3.0}, 30)
    tracker.end("FINISHED")
    assert _history(client, run_id, "eval/score") == [(30, 3.0)]


def test_an_experiment_created_meanwhile_is_read_not_duplicated(uri, client, monkeypatch):
    loser = MlflowTracker(uri, experiment="raced")
    real = loser._client()
    winner = MlflowTracker(uri, experiment="raced")
    winner_id = winner._get_experiment_id()
    read, stale = real.get_experiment_by_name, [None]
    # The loser read "no such experiment" just before the winner created it.
    monkeypatch.setattr(real, "get_experiment_by_name",
                        lambda name: stale.pop() if stale else read(name))
    run_id = loser.start("second")
    loser.end("FINISHED")
    assert client.get_run(run_id).info.experiment_id == winner_id
    assert [e.name for e in client.search_experiments()].count("raced") == 1
