"""Issue 8 gap 6: experiments open on MLflow 3's runs table (model-training kind), and system
metrics are sampled on request (``on``), for long runs only (``auto``) or never (``off``)."""

from __future__ import annotations

import time

import pytest
from mlflow.tracking import MlflowClient

from hieros_lab.tracking import keys
from hieros_lab.tracking.mlflow_tracker import MlflowTracker


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("kind_store")
    uri = f"sqlite:///{root}/mlflow.db"
    MlflowTracker(uri).check()
    return uri


def _kind(uri: str, name: str) -> str | None:
    return MlflowClient(tracking_uri=uri).get_experiment_by_name(name).tags.get(
        keys.EXPERIMENT_KIND)


def _one_run(uri: str, experiment: str, **options) -> str:
    tracker = MlflowTracker(uri, experiment=experiment, **options)
    run_id = tracker.start("r")
    tracker.log_metrics({"x": 1.0}, step=1)
    time.sleep(1.0)
    tracker.end("FINISHED")
    return run_id


def test_experiments_are_marked_as_model_training(uri):
    _one_run(uri, "fresh", system_metrics="off")
    assert _kind(uri, "fresh") == keys.MODEL_TRAINING == "custom_model_development"
    client = MlflowClient(tracking_uri=uri)
    client.create_experiment("made_elsewhere")  # e.g. by hand, or by an older hieros_lab
    _one_run(uri, "made_elsewhere", system_metrics="off")
    assert _kind(uri, "made_elsewhere") == keys.MODEL_TRAINING
    client.create_experiment("chosen", tags={keys.EXPERIMENT_KIND: "genai_development"})
    _one_run(uri, "chosen", system_metrics="off")
    assert _kind(uri, "chosen") == "genai_development"  # a kind someone chose is kept


def _system_keys(uri: str, run_id: str) -> set[str]:
    metrics = MlflowClient(tracking_uri=uri).get_run(run_id).data.metrics
    return {k for k in metrics if k.startswith("system/")}


def test_system_metrics_on_samples_from_the_start(uri):
    run_id = _one_run(uri, "sys", system_metrics="on", system_metrics_every_s=0.2)
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= (
        _system_keys(uri, run_id))


def test_system_metrics_auto_waits_for_a_long_run_and_off_never_samples(uri):
    short = _one_run(uri, "sys", system_metrics="auto", system_metrics_after_s=60.0,
                     system_metrics_every_s=0.2)
    assert _system_keys(uri, short) == set()
    long = _one_run(uri, "sys", system_metrics="auto", system_metrics_after_s=0.1,
                    system_metrics_every_s=0.2)
    assert _system_keys(uri, long)
    assert _system_keys(uri, _one_run(uri, "sys", system_metrics="off")) == set()


def test_bad_system_metrics_options_are_rejected():
    with pytest.raises(ValueError, match="system_metrics must be one of"):
        MlflowTracker("sqlite:///x.db", system_metrics="always")
    with pytest.raises(ValueError, match="system_metrics_every_s"):
        MlflowTracker("sqlite:///x.db", system_metrics_every_s=0)


def test_ui_links_open_the_model_training_view(uri):
    tracker = MlflowTracker(uri, experiment="links", system_metrics="off")
    run_id = tracker.start("r")
    tracker.end("FINISHED")
    exp_id = tracker._get_experiment_id()
    link = tracker.ui_link(run_id)
    assert link.startswith(f"`mlflow ui --backend-store-uri {uri}`")
    assert link.endswith(f"/#/experiments/{exp_id}/runs/{run_id}?workflowType=machine_learning")
    server = MlflowTracker("http://mlflow.lab:5000/")
    server._experiment_id = "7"  # (no server here: the id is what a lookup would return)
    assert server.ui_link() == ("http://mlflow.lab:5000/#/experiments/7/runs"
                                "?workflowType=machine_learning")


def test_status_of_other_runs_tells_no_such_run_from_a_store_that_fails(uri, tmp_path):
    """A sweep deciding skip/resume/new must not take a failing store for "never ran" (it
    would start a second run of the same child)."""
    from hieros_lab.tracking.base import TrackerError

    run_id = _one_run(uri, "status", system_metrics="off")
    tracker = MlflowTracker(uri, experiment="status")
    assert tracker.status_of(run_id) == "FINISHED"
    assert tracker.status_of("0" * 32) is None  # no such run in this store
    broken = MlflowTracker(uri, experiment="status")
    broken._client_obj = type("Away", (), {"get_run": lambda self, rid: 1 / 0})()
    with pytest.raises(TrackerError, match="cannot read run"):
        broken.status_of(run_id)
