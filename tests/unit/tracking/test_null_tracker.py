"""NullTracker records in memory what MLflow would receive; the shared key/value helpers."""

from __future__ import annotations

import numpy as np
import pytest

from hieros_lab import registry
from hieros_lab.tracking.base import (
    MAX_PARAM_LENGTH,
    TRUNCATION_MARKER,
    NullTracker,
    Tracker,
    TrackerError,
    clip_value,
    sanitize_key,
)
from hieros_lab.tracking.mlflow_tracker import MlflowTracker


def test_both_trackers_are_registered_and_satisfy_the_protocol():
    entries = registry.entries("tracker")
    assert entries["null"].target is NullTracker and entries["mlflow"].target is MlflowTracker
    assert isinstance(NullTracker(), Tracker)
    assert isinstance(MlflowTracker(tracking_uri="sqlite:///unused.db"), Tracker)
    assert registry.component_of(NullTracker()) == ("tracker", "null")


def test_records_everything_without_touching_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracker = NullTracker()
    with pytest.raises(TrackerError):
        tracker.log_metrics({"a": 1.0}, 0)  # no run yet
    run_id = tracker.start("run", parent_run_id="parent")
    assert tracker.run_id == run_id and tracker.status == "RUNNING"
    assert tracker.parent_run_id == "parent"
    tracker.log_params({"Trainer.steps": 120, "x": "y" * (MAX_PARAM_LENGTH + 5)})
    tracker.set_tags({"component.sequence": "s5"})
    tracker.log_metrics({"episode/score": 1.5, "loss": np.float32(2.0)}, step=10)
    tracker.log_metrics({"episode/score": float("nan"), "bad:key": 3.0}, step=20)
    tracker.log_text("cfg", "config/operative_config.gin")
    tracker.log_file("/nonexistent/ckpt.pt", "checkpoints")
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    tracker.log_image(image, "subgoals/a.png")
    image[:] = 0  # the tracker keeps its own copy
    tracker.end("FINISHED")

    assert tracker.params["Trainer.steps"] == "120"
    assert len(tracker.params["x"]) == MAX_PARAM_LENGTH
    assert tracker.tags == {"component.sequence": "s5"}
    assert tracker.metrics == {"episode/score": [(10, 1.5)], "loss": [(10, 2.0)],
                               "bad_key": [(20, 3.0)]}
    assert tracker.metrics_log() == [(10, {"episode/score": 1.5, "loss": 2.0}),
                                     (20, {"bad_key": 3.0})]
    assert tracker.skipped_nonfinite == {"episode/score": 1}
    assert tracker.texts == {"config/operative_config.gin": "cfg"}
    assert tracker.files == [("/nonexistent/ckpt.pt", "checkpoints")]
    assert tracker.images["subgoals/a.png"][1, 2, 2] == 17
    assert tracker.status == "FINISHED"
    assert list(tmp_path.iterdir()) == []


def test_status_rules_and_param_changes():
    tracker = NullTracker()
    tracker.check()
    first = tracker.start("a")
    tracker.log_params({"lr": 1e-4})
    tracker.log_params({"lr": 1e-4})  # the same value again is fine (resume)
    with pytest.raises(TrackerError, match="lr"):
        tracker.log_params({"lr": 3e-4})
    with pytest.raises(TrackerError):
        tracker.start("b")  # still running
    with pytest.raises(ValueError):
        tracker.end("DONE")
    tracker.end("KILLED")
    tracker.end("FINISHED")  # idempotent: the first terminal status stays
    assert tracker.status == "KILLED"
    assert tracker.start("a", run_id=first) == first  # resume keeps the id and the history
    tracker.log_metrics({"m": 1.0}, 5)
    assert tracker.status == "RUNNING" and tracker.params == {"lr": "0.0001"}
    assert tracker.run_id == first and tracker.metrics == {"m": [(5, 1.0)]}
    with pytest.raises(ValueError):
        tracker.log_image(np.zeros((4, 4), np.uint8), "gray.png")
    with pytest.raises(ValueError):
        tracker.log_image(np.zeros((4, 4, 3), np.float32), "float.png")


@pytest.mark.parametrize("key, expected", [
    ("level0/world_model/kl", "level0/world_model/kl"),
    ("eval/score std", "eval/score std"),
    ("a:b?c", "a_b_c"),
    ("//x//y/", "x/y"),
    ("a/../b", "a/__/b"),
    ("", "_"),
])
def test_sanitize_key(key, expected):
    assert sanitize_key(key) == expected


def test_sanitize_key_limits_length_and_clip_value_marks_cuts():
    assert len(sanitize_key("k" * 400)) == 250
    assert clip_value(12, 10) == "12"
    cut = clip_value("v" * 50, 30)
    assert len(cut) == 30 and cut.endswith(TRUNCATION_MARKER)
    assert clip_value(0.5, 10) == "0.5"
