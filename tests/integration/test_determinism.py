"""Same seed on CPU -> identical metrics; a different seed -> different ones."""

from __future__ import annotations

from hieros_lab import config
from hieros_lab.tracking.base import NullTracker
from hieros_lab.trainer.loop import Trainer


def _metrics(seed: int, tmp_path) -> list:
    config.parse(["debug.gin"], [f"Trainer.seed = {seed}", "Trainer.steps = 80",
                                 "Trainer.tracker = @null"])
    trainer = Trainer()
    trainer.build()
    tracker = NullTracker()
    tracker.start("det")
    trainer.fit(tracker, tmp_path / f"ckpt{seed}", progress=False)
    return [(step, {k: v for k, v in m.items() if not k.startswith("perf/")})
            for step, m in tracker.metrics_log()]


def test_same_seed_same_metrics(tmp_path):
    a, b = _metrics(3, tmp_path), _metrics(3, tmp_path / "b")
    assert a == b and len(a) > 3
    c = _metrics(4, tmp_path / "c")
    assert a != c
