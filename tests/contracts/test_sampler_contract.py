"""Every ``sampler`` component: valid indices, O(1)-style API, seeding, resumable draws."""

from __future__ import annotations

import numpy as np
import pytest

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import config, registry
from hieros_lab.replay.base import Sampler

NAMES = sorted(registry.entries("sampler"))


def make(name: str, seed: int = 0) -> Sampler:
    """The sampler as a run builds it: through gin, with the shipped gin files parsed."""
    config.parse(["debug.gin", *_files()], finalize=False)
    return registry.configured("sampler", name)(seed=seed)


def _files() -> list[str]:
    """Every replay/*.gin: each sampler gets the bindings its own file sets (e.g. tau 0.3)."""
    replay = config.GIN_DIR / "replay"
    return sorted(str(p.relative_to(config.GIN_DIR)) for p in replay.glob("*.gin"))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [1, 2, 17, 10_000])
def test_indices_are_valid(name, size):
    sampler = make(name)
    assert isinstance(sampler, Sampler)
    idx = sampler.sample(size=size, capacity=max(size, 100_000), count=257)
    assert idx.shape == (257,) and idx.dtype == np.int64
    assert idx.min() >= 0 and idx.max() < size


@pytest.mark.parametrize("name", NAMES)
def test_seeded_and_different_across_seeds(name):
    a = make(name, 1).sample(5000, 100_000, 200)
    b = make(name, 1).sample(5000, 100_000, 200)
    c = make(name, 2).sample(5000, 100_000, 200)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_resumes_the_draw_sequence(name):
    sampler = make(name, 3)
    sampler.sample(5000, 100_000, 50)
    state = sampler.state_dict()
    expected = sampler.sample(5000, 100_000, 50)
    other = make(name, 99)
    other.load_state_dict(state)
    assert np.array_equal(other.sample(5000, 100_000, 50), expected)


@pytest.mark.parametrize("name", NAMES)
def test_every_item_is_reachable(name):
    counts = np.bincount(make(name).sample(50, 50, 20_000), minlength=50)
    assert (counts > 0).all()
