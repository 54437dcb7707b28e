"""Temporal abstraction and schedules (spec §12.17-§12.18)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hieros_lab.hierarchy import schedule
from hieros_lab.hierarchy.abstraction import Abstraction, period_mean, period_sum
from hieros_lab.replay.step import Step

E = 3


def enc(value: float) -> torch.Tensor:
    return torch.full((E,), value)


def window(step: Step) -> torch.Tensor:
    """A popped step's observation ``[K * E]`` (numpy) as ``[K, E]``."""
    return torch.from_numpy(step.obs).view(-1, E)


@pytest.mark.parametrize("level, k", [(0, 4), (1, 4), (2, 4), (3, 2)])
def test_act_and_train_schedules(level, k):
    steps = range(200)
    acting = [t for t in steps if schedule.acts(level, t, k)]
    assert acting == [t for t in steps if t % k**level == 0]
    assert sum(schedule.trains(level, c, k) for c in steps) == len(range(0, 200, k**level))


def test_observation_is_the_k_latest_oldest_first():
    ab = Abstraction(k=4, encoding_dim=E, period_reward=period_sum)
    for t in range(6):
        ab.push(enc(t), reward=1.0, is_first=(t == 0))
        if t == 0:
            first = ab.pop()
    step = ab.pop()
    assert isinstance(step, Step) and isinstance(step.obs, np.ndarray)
    assert step.action is None and step.goal is None  # chosen later by the level
    assert ab.obs_dim == 4 * E and step.obs.shape == (4 * E,)
    assert torch.equal(window(step)[:, 0], torch.tensor([2.0, 3.0, 4.0, 5.0]))
    assert first.is_first and not step.is_first
    # first step of the episode: zero-padded window, no reward
    assert torch.equal(window(first)[:3], torch.zeros(3, E)) and first.reward == 0.0


def test_period_reward_sum_and_mean():
    for fn, expected in ((period_sum, 6.0), (period_mean, 1.5)):
        ab = Abstraction(k=4, encoding_dim=E, period_reward=fn)
        ab.push(enc(0), 0.0, True)
        ab.pop()
        for r in (1.0, 2.0, 0.0, 3.0):
            ab.push(enc(1), r, False)
        assert ab.pop().reward == expected


def test_episode_end_closes_the_period_and_a_new_episode_clears_the_window():
    ab = Abstraction(k=4, encoding_dim=E, period_reward=period_sum)
    ab.push(enc(1), 0.0, True)
    ab.pop()
    ab.push(enc(2), 5.0, False)
    end = ab.pop(is_last=True, is_terminal=True)
    assert end.is_last and end.is_terminal and end.reward == 5.0
    ab.push(enc(9), 7.0, True)
    start = ab.pop()
    assert start.is_first and start.reward == 0.0
    assert torch.equal(window(start)[:3], torch.zeros(3, E))


def test_no_intermediate_keeps_only_the_newest():
    ab = Abstraction(k=4, encoding_dim=E, period_reward=period_sum, intermediate=False)
    for t in range(4):
        ab.push(enc(t), 0.0, t == 0)
    assert ab.obs_dim == E and torch.equal(torch.from_numpy(ab.pop().obs), enc(3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="Abstraction.k"):
        Abstraction(k=0, encoding_dim=E, period_reward=period_sum)
    ab = Abstraction(k=2, encoding_dim=E, period_reward=period_sum)
    with pytest.raises(ValueError, match="encoding shape"):
        ab.push(torch.zeros(E + 1), 0.0, True)
    with pytest.raises(RuntimeError):
        Abstraction(k=2, encoding_dim=E, period_reward=period_sum).pop()


def test_a_period_in_progress_survives_its_state_dict():
    """A checkpoint taken mid-period (trainer/carry.py) restores the same next higher step,
    into a fresh copy whose settings come from the build, not from the checkpoint."""
    a = Abstraction(k=3, encoding_dim=2, period_reward=period_sum)
    a.push(torch.tensor([1.0, 2.0]), 0.0, is_first=True)
    a.push(torch.tensor([3.0, 4.0]), 0.5, is_first=False)
    copy = a.spawn()
    copy.load_state_dict(a.state_dict())
    a.push(torch.tensor([5.0, 6.0]), 1.0, is_first=False)
    copy.push(torch.tensor([5.0, 6.0]), 1.0, is_first=False)
    x, y = a.pop(), copy.pop()
    assert np.array_equal(x.obs, y.obs) and x.reward == y.reward == 1.5
    assert x.is_first and y.is_first
