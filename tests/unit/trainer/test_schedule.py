"""Step schedules: the planned number of updates is what :class:`Ratio` grants in a run."""

from __future__ import annotations

import pytest

from hieros_lab.trainer.schedule import Ratio, crossed, planned_updates


def _granted(steps: int, first_step: int, ratio: float) -> int:
    """Updates the trainer's loop gets from Ratio when training may start at ``first_step``."""
    schedule = Ratio(ratio)
    return sum(schedule(step) for step in range(first_step, steps + 1))


@pytest.mark.parametrize("steps, first_step, ratio", [
    (100, 19, 1.0), (100, 19, 0.25), (100, 19, 1e-6), (19, 19, 0.5), (18, 19, 1.0),
    (1000, 527, 0.0625), (50, 1, 3.0),
])
def test_planned_updates_match_the_ratio(steps, first_step, ratio):
    assert planned_updates(steps, first_step, ratio) == _granted(steps, first_step, ratio)


def test_no_updates_without_a_ratio_or_before_the_first_step():
    assert planned_updates(100, 19, 0.0) == 0
    assert planned_updates(18, 19, 1.0) == 0
    assert planned_updates(19, 19, 1e-9) == 1  # the first call always grants one update


@pytest.mark.parametrize("interval", [1, 3, 10, 0])
@pytest.mark.parametrize("stride", [1, 3, 7])
def test_crossed_fires_once_per_multiple_whatever_the_stride(interval, stride):
    """Several env streams advance the step count by up to ``num_envs``: logs, evaluations and
    checkpoints still come once per multiple of their interval, at the first count past it."""
    counts = list(range(stride, 61, stride))
    fired, before = [], 0
    for now in counts:
        if crossed(before, now, interval):
            fired.append(now)
        before = now
    # each multiple m of the interval fires at the first count >= m
    multiples = range(interval, counts[-1] + 1, interval) if interval else []
    assert fired == sorted({min(c for c in counts if c >= m) for m in multiples})
    if stride == 1:  # one env: exactly the multiples
        assert fired == ([] if interval == 0 else list(range(interval, 61, interval)))
