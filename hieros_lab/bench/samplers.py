"""Replay-sampler bench: cost per index and time balance, as flat keys for ``hieros-lab bench``.

Keys:

* ``sampler_us_per_sample_<name>_<size>``: µs per index for every registered sampler (registry
  kind ``sampler``, so new samplers are benchmarked automatically), at size = capacity = 1e3,
  1e5, 1e7, drawing batches of 16 (the training batch). Median over 15 blocks of calls; a block
  repeats calls until it lasts ``block_s`` (20 ms); blocks of all cases are interleaved. A case
  whose block is slow gets fewer blocks (``max_s`` = 2 s in all, at least 3): ``time_balanced``
  at 1e7 (O(N) per call, one call ≈ 0.1 s per block) gets 15 blocks of one call each here.
* ``sampler_cv_uniform`` and ``etbs_cv_ratio``, ``etbs_cv_ratio_tau1``,
  ``etbs_official_cv_ratio``: grow a buffer to ``cv_items`` items, 1 insert then 16 draws over
  the current size per insert (capacity 1e6 as in the authors' config), count draws per item;
  the coefficient of variation (std / mean) of the final counts of ETBS (τ 0.3; τ 1; official
  τ 0.3) divided by the CV of uniform under the same protocol (spec §6.3, §12 item 23).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hieros_lab.replay.base import Sampler

SIZES: tuple[int, ...] = (1_000, 100_000, 10_000_000)
BATCH = 16  # the training batch (spec §0.1)
#: ``sampler_bench`` arguments for ``hieros-lab bench --quick`` (a smoke test, not a measurement).
QUICK: dict[str, Any] = {"sizes": (1_000, 10_000), "cv_items": 2_000, "block_s": 0.002}


def _timed(sampler: Sampler, size: int, reps: int) -> float:
    """Seconds per call of ``reps`` back-to-back draws of BATCH at size = capacity."""
    start = time.perf_counter()
    for _ in range(reps):
        sampler.sample(size, size, BATCH)
    return (time.perf_counter() - start) / reps


def _calibrate(sampler: Sampler, size: int, block_s: float) -> tuple[int, float]:
    """(calls per block, seconds per block): double the calls until a block lasts block_s."""
    sampler.sample(size, size, BATCH)  # warm-up: first-call allocations (per-item state)
    reps = 1
    while (per_call := _timed(sampler, size, reps)) * reps < block_s:
        reps *= 2
    return reps, per_call * reps


def us_per_sample(cases: dict[str, tuple[Sampler, int]], block_s: float = 0.02,
                  blocks: int = 15, max_s: float = 2.0) -> dict[str, float]:
    """Median µs per index of ``sampler.sample(size, size, 16)`` for each ``key -> (sampler,
    size)``. Blocks of all cases are interleaved (round robin), so a transient load on a shared
    machine hits every case alike instead of skewing one; a case whose blocks are slow gets
    fewer of them (``max_s`` in all, at least 3)."""
    plan = {key: _calibrate(sampler, size, block_s) for key, (sampler, size) in cases.items()}
    rounds = {key: max(3, min(blocks, int(max_s / per_block)))
              for key, (_, per_block) in plan.items()}
    times: dict[str, list[float]] = {key: [] for key in cases}
    for r in range(max(rounds.values(), default=0)):
        for key, (sampler, size) in cases.items():
            if r < rounds[key]:
                times[key].append(_timed(sampler, size, plan[key][0]))
    return {key: statistics.median(t) / BATCH * 1e6 for key, t in times.items()}


def cumulative_counts(sampler: Sampler, items: int, capacity: int,
                      draws: int = BATCH) -> np.ndarray:
    """Draws per item ``[items]`` after growing a buffer from 1 to ``items`` items with ``draws``
    draws over the current size after every insert (no removals: item id = age index)."""
    idx = np.empty((items, draws), np.int64)
    for size in range(1, items + 1):
        idx[size - 1] = sampler.sample(size, capacity, draws)
    return np.bincount(idx.ravel(), minlength=items)


def coefficient_of_variation(counts: np.ndarray) -> float:
    """std / mean of per-item counts ``[N]``."""
    return float(np.std(counts) / np.mean(counts))


#: CV-ratio arms: key -> (registered sampler, constructor params).
CV_ARMS: dict[str, tuple[str, dict[str, float]]] = {
    "uniform": ("uniform", {}),
    "etbs": ("etbs", {"temperature": 0.3}),
    "etbs_tau1": ("etbs", {"temperature": 1.0}),
    "etbs_official": ("etbs_official", {"temperature": 0.3}),
}


def cv_ratios(make: Callable[..., Sampler], items: int = 100_000,
              capacity: int = 1_000_000) -> dict[str, float]:
    """CV of ETBS cumulative counts over uniform's (module doc); ``make(name, **params)``."""
    cv = {}
    for key, (name, params) in CV_ARMS.items():
        counts = cumulative_counts(make(name, **params), items, capacity)
        cv[key] = coefficient_of_variation(counts)
    return {"sampler_cv_uniform": cv["uniform"],
            "etbs_cv_ratio": cv["etbs"] / cv["uniform"],
            "etbs_cv_ratio_tau1": cv["etbs_tau1"] / cv["uniform"],
            "etbs_official_cv_ratio": cv["etbs_official"] / cv["uniform"]}


def sampler_bench(sizes: Sequence[int] = SIZES, cv_items: int = 100_000,
                  cv_capacity: int = 1_000_000, block_s: float = 0.02,
                  max_s: float = 2.0) -> dict[str, float]:
    """All keys of the module doc, as one flat dict (seed 0 everywhere)."""
    import hieros_lab.components  # noqa: F401  (every sampler registration)
    from hieros_lab import registry

    entries = registry.entries("sampler")

    def make(name: str, **params: Any) -> Sampler:
        return entries[name].target(seed=0, **params)

    cases = {f"sampler_us_per_sample_{name}_{size}": (make(name), size)
             for name in sorted(entries) for size in sizes}
    result = us_per_sample(cases, block_s=block_s, max_s=max_s)
    result.update(cv_ratios(make, cv_items, cv_capacity))
    return result
