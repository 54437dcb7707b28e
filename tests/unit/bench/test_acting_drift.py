"""hieros_lab.bench.acting_drift: the per-bucket reconstruction error of acting states."""

from __future__ import annotations

import numpy as np
import pytest

from hieros_lab import config
from hieros_lab.bench import acting_drift
from hieros_lab.trainer.loop import Trainer


@pytest.fixture
def trainer():
    config.parse(["debug.gin"], ["fake.image = False", "fake.episode_length = 70"])
    built = Trainer()
    built.build()
    return built


def test_buckets_cover_every_step_once() -> None:
    assert [acting_drift.bucket(t) for t in (0, 63, 64, 200, 300, 600)] == [
        "0-63", "0-63", "64-127", "128-255", "256-511", ">=512"]


@pytest.mark.parametrize("context", [0, 3])
def test_every_step_of_every_episode_is_measured_at_the_asked_context(trainer, context) -> None:
    drift = acting_drift.measure(trainer, context, episodes=2)
    assert all(lvl.world_model.act_context == context for lvl in trainer.agent.levels)
    assert drift.lengths == [70, 70]
    assert sum(drift.count.values()) == 2 * 71  # the reset observation and 70 steps
    assert list(drift.count) == ["0-63", "64-127"] and drift.count["64-127"] == 2 * 7
    assert drift.error["0-63"].shape == (trainer.agent.levels[0].world_model.obs_shape[0],)
    assert all(np.isfinite(e).all() for e in drift.error.values())
    assert all(0.0 <= c <= 1.0 for c in drift.cont.values())
    text = acting_drift.format_drift("x", drift)
    assert "64-127" in text and "[70, 70]" in text
