"""Uniform sampler: range, uniformity, seeding, resumable RNG state (spec §6.2, §9 B10, §12.26)."""

from __future__ import annotations

import numpy as np
import pytest

from hieros_lab.registry import component_of, entries
from hieros_lab.replay.base import Sampler
from hieros_lab.replay.uniform import UniformSampler


def _draws(sampler: UniformSampler, rounds: int = 5, size: int = 1000) -> np.ndarray:
    return np.stack([sampler.sample(size=size, capacity=10_000, count=16) for _ in range(rounds)])


def test_indices_in_range_int64_and_shape():
    sampler = UniformSampler(seed=3)
    idx = sampler.sample(size=7, capacity=100, count=500)
    assert idx.dtype == np.int64 and idx.shape == (500,)
    assert idx.min() >= 0 and idx.max() <= 6
    assert set(idx.tolist()) == set(range(7))  # every item reachable


def test_draws_are_uniform():
    counts = np.bincount(UniformSampler(seed=0).sample(size=10, capacity=10, count=50_000),
                         minlength=10)
    # Each bin expects 5000 draws with std ~67; 10 % is > 7 standard deviations.
    assert np.all(np.abs(counts - 5000) < 500), counts


def test_same_seed_same_sequence_different_seed_different():
    assert np.array_equal(_draws(UniformSampler(seed=11)), _draws(UniformSampler(seed=11)))
    assert not np.array_equal(_draws(UniformSampler(seed=11)), _draws(UniformSampler(seed=12)))


def test_state_dict_resumes_the_same_sequence():
    sampler = UniformSampler(seed=5)
    _draws(sampler, rounds=3)
    state = sampler.state_dict()
    expected = _draws(sampler)
    # A fresh sampler with another seed continues the saved sequence once loaded.
    resumed = UniformSampler(seed=999)
    resumed.load_state_dict(state)
    assert np.array_equal(_draws(resumed), expected)
    # The saved state is a snapshot: further draws do not alter it.
    sampler.load_state_dict(state)
    assert np.array_equal(_draws(sampler), expected)


def test_empty_buffer_raises():
    with pytest.raises(ValueError, match="empty"):
        UniformSampler().sample(size=0, capacity=10, count=4)


def test_registered_and_satisfies_protocol():
    assert entries("sampler")["uniform"].target is UniformSampler
    assert component_of(UniformSampler(seed=0)) == ("sampler", "uniform")
    assert isinstance(UniformSampler(seed=0), Sampler)
