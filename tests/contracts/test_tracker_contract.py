"""Every ``tracker`` component: a full run lifecycle, statuses, and resume."""

from __future__ import annotations

import numpy as np
import pytest

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import config, registry
from hieros_lab.tracking.base import Tracker

NAMES = sorted(registry.entries("tracker"))


@pytest.fixture
def make(mlflow_uri):
    def build(name: str) -> Tracker:  # as a run builds it: through gin, debug config parsed
        config.parse(["debug.gin"], finalize=False)
        return registry.configured("tracker", name)()

    return build


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED"])
def test_lifecycle(make, name, status):
    tracker = make(name)
    assert isinstance(tracker, Tracker)
    tracker.check()
    run_id = tracker.start("contract")
    assert run_id and tracker.run_id == run_id
    tracker.log_params({"Trainer.steps": 10, "level1/WorldModel.lr": 1e-4})
    tracker.set_tags({"component.sequence": "s5"})
    tracker.log_metrics({"episode/score": 1.0, "bad": float("nan")}, step=1)
    tracker.log_text("x = 1\n", "config/operative_config.gin")
    tracker.log_image(np.zeros((8, 8, 3), np.uint8), "images/x.png")
    tracker.end(status)
    tracker.end(status)  # idempotent
    assert tracker.skipped_nonfinite.get("bad") == 1


@pytest.mark.parametrize("name", NAMES)
def test_resume_keeps_the_run_id(make, name):
    tracker = make(name)
    run_id = tracker.start("first")
    tracker.log_metrics({"m": 1.0}, step=1)
    tracker.end("KILLED")
    again = make(name) if name != "null" else tracker
    assert again.start("first", run_id=run_id) == run_id
    again.log_metrics({"m": 2.0}, step=2)
    again.end("FINISHED")


@pytest.mark.parametrize("name", NAMES)
def test_last_steps_reports_the_largest_logged_step_per_key(make, name):
    tracker = make(name)
    tracker.start("last-steps")
    tracker.log_metrics({"level0/loss": 1.0, "eval/score": 2.0}, step=3)
    tracker.log_metrics({"level0/loss": 0.5}, step=7)
    assert tracker.last_steps(["level0/loss", "eval/score", "never"]) == {
        "level0/loss": 7, "eval/score": 3}
    tracker.end("FINISHED")
