"""``perf/wall_s``: the seconds a run spent training, carried over a resume."""

from __future__ import annotations

from hieros_lab import config
from hieros_lab.tracking import keys
from hieros_lab.tracking.base import NullTracker
from hieros_lab.trainer.loop import Trainer


def _fit(steps: int, root, resume: bool) -> list[tuple[int, float]]:
    config.parse(["debug.gin"], [f"Trainer.steps = {steps}", "Trainer.log_every = 10",
                                 "Trainer.eval_every = 0", "Trainer.eval_episodes = 1",
                                 "Trainer.tracker = @null"])
    trainer = Trainer()
    trainer.build()
    tracker = NullTracker()
    tracker.start("wall")
    if resume:
        assert trainer.restore(root)
    trainer.fit(tracker, root, progress=False)
    return [(step, m[keys.WALL_S]) for step, m in tracker.metrics_log() if keys.WALL_S in m]


def test_wall_time_grows_and_a_resume_continues_it(tmp_path):
    first = _fit(40, tmp_path, resume=False)
    walls = [w for _, w in first]
    assert len(walls) >= 4 and walls == sorted(walls) and walls[0] > 0
    assert first[-1][0] == 40  # the last value includes the final evaluation
    second = _fit(80, tmp_path, resume=True)
    assert second[0][0] > 40
    # Counted on from the checkpoint's total, not from zero.
    assert second[0][1] > first[-1][1]
    assert [w for _, w in second] == sorted(w for _, w in second)


def test_one_wall_time_per_step_when_the_last_step_is_also_a_log_step(tmp_path):
    walls = _fit(40, tmp_path, resume=False)  # log_every 10 divides the 40 steps
    steps = [s for s, _ in walls]
    assert steps == sorted(set(steps)) and steps[-1] == 40
