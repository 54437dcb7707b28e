"""``Trainer.precision``: a bf16 run trains and records what it used; fp32 is what ``auto``
gives on a CPU, bit for bit."""

from __future__ import annotations

import math

import pytest

from hieros_lab import config
from hieros_lab.tracking.base import NullTracker
from hieros_lab.trainer.loop import Trainer


def _run(tmp_path, *bindings: str) -> tuple[Trainer, list]:
    config.parse(["debug.gin", "hierarchy/levels_2.gin"],
                 ["Trainer.steps = 80", "Trainer.eval_every = 40", "Trainer.eval_episodes = 1",
                  "Trainer.tracker = @null", "Agent.k = 2", *bindings])
    trainer = Trainer()
    trainer.build()
    tracker = NullTracker()
    tracker.start("precision")
    trainer.fit(tracker, tmp_path / "ckpt", progress=False)
    return trainer, [(step, {k: v for k, v in m.items() if not k.startswith("perf/")})
                     for step, m in tracker.metrics_log()]


def test_bf16_trains_every_level_and_records_it(tmp_path):
    trainer, log = _run(tmp_path, "Trainer.precision = 'bf16'")
    assert trainer.agent.derived_params()["derived/precision"] == "bf16"
    values = {k: v for _, m in log for k, v in m.items()}
    assert "level1/world_model/loss" in values and "level0/behavior/actor_loss" in values
    assert all(math.isfinite(v) for v in values.values() if isinstance(v, float))


def test_auto_on_a_cpu_is_fp32_bit_for_bit(tmp_path):
    trainer, auto = _run(tmp_path / "a")
    assert trainer.agent.derived_params()["derived/precision"] == "fp32"
    assert _run(tmp_path / "b", "Trainer.precision = 'fp32'")[1] == auto
    assert _run(tmp_path / "c", "Trainer.precision = 'bf16'")[1] != auto


def test_an_unknown_precision_fails_at_build():
    config.parse(["debug.gin"], ["Trainer.precision = 'fp16'", "Trainer.tracker = @null"])
    with pytest.raises(ValueError, match="Trainer.precision must be one of auto, fp32, bf16"):
        Trainer()
