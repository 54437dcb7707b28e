"""Count-balancing reference sampler: softmax weights, balance, items leaving the ring, resume."""

from __future__ import annotations

import gin
import gymnasium as gym
import numpy as np
import pytest

from hieros_lab import config, registry
from hieros_lab.bench.samplers import coefficient_of_variation, cumulative_counts
from hieros_lab.replay.base import Sampler
from hieros_lab.replay.buffer import ReplayBuffer
from hieros_lab.replay.time_balanced import TimeBalancedSampler
from hieros_lab.replay.uniform import UniformSampler

VEC = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)



def _with_counts(counts: list[int], bias: float, seed: int = 0) -> TimeBalancedSampler:
    sampler = TimeBalancedSampler(seed=seed, bias=bias)
    state = sampler.state_dict()
    sampler.load_state_dict({**state, "counts": np.array(counts), "inserted": len(counts)})
    return sampler


def test_draws_follow_softmax_of_negative_counts():
    sampler = _with_counts([0, 1, 2], bias=1.0)
    idx = sampler.sample(3, 3, 60_000)  # one call: i.i.d. from the call-start weights
    p = np.exp(-np.arange(3.0))
    p /= p.sum()  # 0.665, 0.245, 0.090
    assert np.allclose(np.bincount(idx, minlength=3) / 60_000, p, atol=0.01)
    assert np.array_equal(sampler.counts, np.array([0, 1, 2]) + np.bincount(idx, minlength=3))


def test_counts_stay_balanced_at_a_fixed_size():
    sampler = TimeBalancedSampler(seed=0, bias=1.0)
    for _ in range(400):
        sampler.sample(50, 50, 16)
    uniform = np.bincount(UniformSampler(seed=0).sample(50, 50, 400 * 16), minlength=50)
    assert sampler.counts.sum() == 400 * 16
    assert coefficient_of_variation(sampler.counts) < 0.3 * coefficient_of_variation(uniform)


def test_cumulative_counts_over_a_growing_buffer_beat_uniform():
    items = 1000
    tb = cumulative_counts(TimeBalancedSampler(seed=0, bias=2.0), items, 10_000)
    uniform = cumulative_counts(UniformSampler(seed=0), items, 10_000)
    assert coefficient_of_variation(tb) < 0.5 * coefficient_of_variation(uniform)


def test_growth_appends_new_items_with_zero_counts():
    sampler = _with_counts([5, 6, 7], bias=1e9)  # huge bias: ~uniform, counts still tracked
    sampler.sample(5, 100, 1)  # no `inserted`: 2 new items at the newest end
    counts = sampler.counts
    assert len(counts) == 5 and counts.sum() == 18 + 1
    assert np.all(counts[:3] >= [5, 6, 7]) and counts[3:].sum() <= 1


def test_items_leaving_the_ring_drop_their_counts():
    sampler = _with_counts([5, 6, 7, 8], bias=1e9)
    # Ring full at 4 items, 2 more inserted: the 2 oldest left, 2 new ones start at 0.
    sampler.sample(4, 4, 1, inserted=6)
    counts = sampler.counts
    assert counts.sum() == 7 + 8 + 1
    assert counts[0] >= 7 and counts[1] >= 8 and counts[2:].sum() <= 1
    assert sampler.state_dict()["inserted"] == 6


def test_buffer_passes_inserted_through_ring_wrap_and_save_load(tmp_path):
    buffer = ReplayBuffer(VEC, 3, capacity=20, length=4, sampler=TimeBalancedSampler, seed=1)
    for t in range(45):  # wraps the ring twice
        buffer.add(np.full(2, t, np.float32), t % 3, 0.0, t == 0, False, False)
        if t >= 3:
            batch = buffer.sample(2)
            assert np.all(np.diff(batch["obs"][..., 0], axis=1) == 1)
    state = buffer.sampler.state_dict()
    assert state["inserted"] == 45 - 4 + 1 and len(state["counts"]) == len(buffer) == 17
    buffer.save(tmp_path / "replay.npz")
    other = ReplayBuffer(VEC, 3, capacity=20, length=4, sampler=TimeBalancedSampler, seed=9)
    other.load(tmp_path / "replay.npz")
    assert np.array_equal(other.sampler.counts, buffer.sampler.counts)
    assert np.array_equal(other.sample(8)["obs"], buffer.sample(8)["obs"])


def test_seeded_and_resumable_with_counts():
    def draws(sampler: Sampler) -> np.ndarray:
        return np.stack([sampler.sample(200 + i, 1000, 16) for i in range(20)])

    assert np.array_equal(draws(TimeBalancedSampler(3)), draws(TimeBalancedSampler(3)))
    assert not np.array_equal(draws(TimeBalancedSampler(3)), draws(TimeBalancedSampler(4)))
    sampler = TimeBalancedSampler(3, bias=0.5)
    draws(sampler)
    state = sampler.state_dict()
    expected = draws(sampler)
    resumed = TimeBalancedSampler(77, bias=0.5)
    resumed.load_state_dict(state)
    assert np.array_equal(draws(resumed), expected)


@pytest.mark.parametrize("bias", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_bias_names_the_binding(bias):
    with pytest.raises(ValueError, match=rf"time_balanced\.bias = {bias} must be"):
        TimeBalancedSampler(bias=bias)


def test_bad_bias_through_gin_names_the_binding():
    gin.parse_config("time_balanced.bias = 0.0")
    with pytest.raises(ValueError, match=r"time_balanced\.bias = 0\.0 must be"):
        registry.configured("sampler", "time_balanced")()


def test_gin_file_selects_the_sampler():
    config.parse(["replay/time_balanced.gin"], finalize=False)
    buffer = config.configurable("ReplayBuffer")(VEC, 3, capacity=50, length=4)
    assert type(buffer.sampler) is TimeBalancedSampler and buffer.sampler.bias == 20.0


def test_registered_satisfies_protocol_and_rejects_empty():
    assert registry.entries("sampler")["time_balanced"].target is TimeBalancedSampler
    assert isinstance(TimeBalancedSampler(), Sampler)
    with pytest.raises(ValueError, match="empty"):
        TimeBalancedSampler().sample(0, 10, 4)
