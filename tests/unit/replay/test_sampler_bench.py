"""Sampler bench (bench/samplers.py) at tiny sizes: every key, sane values, counting protocol."""

from __future__ import annotations

import math
import time

import numpy as np

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import registry
from hieros_lab.bench import samplers
from hieros_lab.replay.uniform import UniformSampler


class _Newest:
    """Always the newest item: maximally unbalanced towards recent items."""

    def sample(self, size: int, capacity: int, count: int) -> np.ndarray:
        return np.full(count, size - 1, np.int64)


def test_sampler_bench_returns_every_key_for_every_registered_sampler():
    sizes = (50, 300)
    result = samplers.sampler_bench(sizes=sizes, cv_items=300, cv_capacity=10_000,
                                    block_s=0.0005, max_s=0.05)
    names = sorted(registry.entries("sampler"))
    assert {"uniform", "etbs", "etbs_official", "time_balanced"} <= set(names)
    expected = {f"sampler_us_per_sample_{n}_{s}" for n in names for s in sizes}
    expected |= {"sampler_cv_uniform", "etbs_cv_ratio", "etbs_cv_ratio_tau1",
                 "etbs_official_cv_ratio"}
    assert set(result) == expected
    assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in result.values())
    assert result["etbs_cv_ratio"] < 1 and result["etbs_official_cv_ratio"] < 1


def test_cumulative_counts_follow_the_growing_buffer_protocol():
    counts = samplers.cumulative_counts(_Newest(), items=100, capacity=1000, draws=16)
    # Each item is the newest exactly once, when it is inserted: 16 draws each.
    assert np.array_equal(counts, np.full(100, 16))
    assert samplers.coefficient_of_variation(counts) == 0.0
    uniform = samplers.cumulative_counts(UniformSampler(seed=0), items=2000, capacity=2000)
    assert uniform.sum() == 2000 * 16
    # Uniform over a growing buffer: item y expects 16 (H_n - H_{y-1}) draws; oldest >> newest.
    assert uniform[:200].mean() > 3 * uniform[-200:].mean()


def test_us_per_sample_is_per_index_interleaved_and_bounded():
    calls = []

    class _Sleeping:
        def __init__(self, name: str, sleep_s: float) -> None:
            self.name, self.sleep_s = name, sleep_s

        def sample(self, size: int, capacity: int, count: int) -> np.ndarray:
            calls.append((self.name, size, capacity, count))
            time.sleep(self.sleep_s)  # at least this long per call of 16 indices
            return np.zeros(count, np.int64)

    cases = {"fast": (_Sleeping("fast", 0.001), 10), "slow": (_Sleeping("slow", 0.02), 20)}
    result = samplers.us_per_sample(cases, block_s=0.001, blocks=6, max_s=0.05)
    assert result["fast"] >= 1000 / 16 and result["slow"] >= 20_000 / 16
    assert {c[1:] for c in calls if c[0] == "fast"} == {(10, 10, 16)}
    # The slow case gets the minimum of 3 blocks (+ warm-up + calibration); blocks interleave.
    timed = calls[4:]  # after warm-up and one calibration call per case
    assert [c[0] for c in timed if c[0] == "slow"] == ["slow"] * 3
    assert [c[0] for c in timed[:2]] == ["fast", "slow"]
