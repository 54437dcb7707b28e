"""ETBS samplers (spec §6.3, §12 items 23-26): CDF, limits, distributions, balance, seeding."""

from __future__ import annotations

import gin
import gymnasium as gym
import numpy as np
import pytest

from hieros_lab import config, registry
from hieros_lab.bench.samplers import coefficient_of_variation, cumulative_counts
from hieros_lab.replay.base import Sampler
from hieros_lab.replay.etbs import EtbsSampler, OfficialEtbsSampler, etbs_cdf
from hieros_lab.replay.uniform import UniformSampler

VARIANTS = [EtbsSampler, OfficialEtbsSampler]
VEC = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)



def _deciles(idx: np.ndarray, size: int) -> np.ndarray:
    return np.histogram(idx, bins=10, range=(0, size))[0] / len(idx)


@pytest.mark.parametrize("n", [3.0, 12.0, 1e5 + 2, 1e7 + 2])
def test_cdf_limits_monotone_and_integral_of_density(n):
    y = np.geomspace(2.0, n, 20_001)  # fine where p curves most (small y)
    f = etbs_cdf(y, n)
    assert abs(f[0]) < 1e-12 and abs(f[-1] - 1.0) < 1e-12
    assert np.all(np.diff(f) >= 0)
    # F is the normalised integral of p(y) = ln n - ln y (trapezoid rule as the reference).
    p = np.log(n) - np.log(y)
    ref = np.concatenate([[0.0], np.cumsum((p[1:] + p[:-1]) / 2 * np.diff(y))])
    assert np.allclose(f, ref / ref[-1], atol=1e-6)


@pytest.mark.parametrize("cls", VARIANTS)
@pytest.mark.parametrize("tau", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("size", [1, 2, 3, 1000, 10_000_000])
def test_every_index_in_range(cls, tau, size):
    idx = cls(seed=1, temperature=tau).sample(size, max(size, 1_000_000), 20_000)
    assert idx.dtype == np.int64 and idx.shape == (20_000,)
    assert idx.min() >= 0 and idx.max() <= size - 1


@pytest.mark.parametrize("cls", VARIANTS)
def test_tau_zero_is_exactly_uniform_by_index(cls):
    size = 37
    idx = cls(seed=4, temperature=0.0).sample(size, 1_000_000, 50_000)
    # Same generator, same draws: index = floor(N * U[0, 1)).
    ref = np.floor(np.random.Generator(np.random.PCG64(4)).random(50_000) * size)
    assert np.array_equal(idx, ref.astype(np.int64))
    counts = np.bincount(idx, minlength=size)
    expected = 50_000 / size  # ~1351 per bin, std ~36: 15 % is > 5 standard deviations
    assert np.all(np.abs(counts - expected) < 0.15 * expected), counts


def test_official_instantaneous_distribution():
    size, capacity = 100_000, 1_000_000
    idx = OfficialEtbsSampler(seed=0, temperature=0.3).sample(size, capacity, 400_000)
    assert idx.min() >= 0 and idx.max() <= size - 1
    assert np.mean(idx < 0.3 * size) <= 0.03  # spec §12 item 24 (≈ 2 %)
    # The rest is ≈ uniform over [0.3 N, N): 13 bins from 0.35 N (the first 5 % of the range
    # misses the warped draws of the oldest 2 % of positions, spec §6.3).
    bins = np.histogram(idx, bins=13, range=(0.35 * size, size))[0]
    assert np.all(np.abs(bins / bins.mean() - 1) < 0.05), bins


def test_size_scaled_is_a_ramp_towards_recent_items():
    dec = _deciles(EtbsSampler(seed=0, temperature=0.3).sample(100_000, 1_000_000, 400_000),
                   100_000)
    assert np.all(np.diff(dec) > 0), dec  # spec §6.3: 0.054 ... 0.138
    assert 2.0 < dec[-1] / dec[0] < 3.2
    # The scale is the current size, so the capacity does not matter.
    same = EtbsSampler(seed=0, temperature=0.3).sample(100_000, 100_000, 400_000)
    assert np.array_equal(_deciles(same, 100_000), dec)


def test_official_equals_size_scaled_when_capacity_equals_size():
    a = OfficialEtbsSampler(seed=5, temperature=0.3).sample(5000, 5000, 1000)
    b = EtbsSampler(seed=5, temperature=0.3).sample(5000, 5000, 1000)
    c = OfficialEtbsSampler(seed=5, temperature=0.3).sample(5000, 50_000, 1000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("cls, tau", [(EtbsSampler, 0.3), (EtbsSampler, 1.0),
                                      (OfficialEtbsSampler, 0.3), (OfficialEtbsSampler, 1.0)])
def test_cumulative_counts_are_more_balanced_than_uniform(cls, tau):
    # spec §12 item 23 at T = 1e4 (1 insert then 16 draws per insert, capacity 1e6).
    items, capacity = 10_000, 1_000_000
    uniform = cumulative_counts(UniformSampler(seed=0), items, capacity)
    etbs = cumulative_counts(cls(seed=0, temperature=tau), items, capacity)
    assert uniform.sum() == etbs.sum() == 16 * items
    assert coefficient_of_variation(etbs) < 0.9 * coefficient_of_variation(uniform)
    oldest = items // 10

    def oldest_ratio(counts: np.ndarray) -> float:
        return float(counts[:oldest].mean() / counts.mean())

    assert oldest_ratio(etbs) < 0.9 * oldest_ratio(uniform)  # uniform ≈ 3.3 at 1e5


@pytest.mark.parametrize("cls", VARIANTS)
def test_seeded_and_resumable(cls):
    def draws(sampler: Sampler) -> np.ndarray:
        return np.stack([sampler.sample(1000 + i, 100_000, 16) for i in range(20)])

    assert np.array_equal(draws(cls(seed=8)), draws(cls(seed=8)))
    assert not np.array_equal(draws(cls(seed=8)), draws(cls(seed=9)))
    sampler = cls(seed=8)
    draws(sampler)
    state = sampler.state_dict()
    expected = draws(sampler)
    resumed = cls(seed=123)
    resumed.load_state_dict(state)
    assert np.array_equal(draws(resumed), expected)


@pytest.mark.parametrize("name, cls", [("etbs", EtbsSampler), ("etbs_official",
                                                                OfficialEtbsSampler)])
@pytest.mark.parametrize("tau", [1.5, -0.1, float("nan")])
def test_bad_temperature_names_the_binding(name, cls, tau):
    with pytest.raises(ValueError, match=rf"{name}\.temperature = {tau} is outside \[0, 1\]"):
        cls(temperature=tau)


def test_bad_temperature_through_gin_names_the_binding():
    gin.parse_config("etbs.temperature = 1.5")
    with pytest.raises(ValueError, match=r"etbs\.temperature = 1\.5 is outside \[0, 1\]"):
        registry.configured("sampler", "etbs")()


@pytest.mark.parametrize("name, cls", [("etbs", EtbsSampler), ("etbs_official",
                                                                OfficialEtbsSampler)])
def test_gin_file_selects_the_sampler(name, cls):
    config.parse([f"replay/{name}.gin"], [f"{name}.temperature = 0.5"], finalize=False)
    buffer = config.configurable("ReplayBuffer")(VEC, 3, capacity=50, length=4)
    assert type(buffer.sampler) is cls and buffer.sampler.temperature == 0.5
    for t in range(30):
        buffer.add(np.full(2, t, np.float32), 0, 0.0, t == 0, False, False)
    batch = buffer.sample(8)
    assert batch["obs"].shape == (8, 4, 2)


def test_registered_and_satisfy_protocol():
    assert registry.entries("sampler")["etbs"].target is EtbsSampler
    assert registry.entries("sampler")["etbs_official"].target is OfficialEtbsSampler
    assert registry.component_of(EtbsSampler()) == ("sampler", "etbs")
    assert all(isinstance(cls(), Sampler) for cls in VARIANTS)


@pytest.mark.parametrize("cls", VARIANTS)
def test_empty_buffer_raises(cls):
    with pytest.raises(ValueError, match="empty"):
        cls().sample(0, 10, 4)


def test_official_rejects_capacity_below_size():
    with pytest.raises(ValueError, match="capacity"):
        OfficialEtbsSampler().sample(100, 10, 4)
