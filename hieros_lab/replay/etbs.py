"""Efficient time-balanced sampling (ETBS): the paper's O(1) replay sampler, in two variants.

Uniform replay over a growing buffer over-samples old items: under 1 insert then k uniform draws
per step, the item inserted at time y has been drawn ≈ k(ln n − ln y) times by time n. ETBS
(spec §6.3) compensates with a closed-form warp of one uniform draw per index:

1. x ~ U[0, N) and s = x + 2 ~ U[2, N + 2), with N the current number of items, n = N + 2;
2. u = F(s), where F is the CDF of p(y) ∝ ln n − ln y on [2, n]:
   F(y) = (G(y) − G(2)) / Z, G(y) = y (ln n − ln y + 1), Z = G(n) − G(2) = n − 2 ln n + 2 ln 2 − 2.
   F is the *forward* CDF applied to a uniform sample, so u leans towards 1 (recent items);
3. adjusted = min(u · scale, N − 1);
4. index = ⌊τ · adjusted + (1 − τ) x⌋ (a convex combination of two index *values*).

The variants differ only in ``scale`` (spec §6.3, §11 item 1):

* ``etbs`` — scale = the current size N (spec "etbs_mode = size"): the paper's intent, a smooth
  ramp towards recent items. This is the default HIEROS replay of this library.
* ``etbs_official`` — scale = the buffer capacity, as the authors' code passes ``length=capacity``
  (1e6 in the paper config). Bit-faithful in distribution to ``selectors.EfficientTimeBalanced``:
  at N ≪ capacity, ``adjusted`` is almost always N − 1 and τ = 0.3 acts as "uniform over the
  newest 70 %". Use it (``include 'replay/etbs_official.gin'``) to reproduce the published runs.

Both are O(1) per index (two logs, no table), vectorised over the batch; τ = 0 is exactly
uniform-by-index. Unlike the authors' selector, the generator is seeded from the run's seed and
resumable (spec §9 B10), and items are indexed by age, so removals keep time order (spec §9 B8).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from hieros_lab.registry import component_of, register

_LN2 = math.log(2.0)


def etbs_cdf(y: np.ndarray | float, n: float) -> np.ndarray:
    """F(y) of p(y) ∝ ln n − ln y on [2, n] (spec §6.3); F(2) = 0, F(n) = 1, non-decreasing.

    ``y``: any shape, values in [2, n]; returns float64 of the same shape.
    """
    y = np.asarray(y, dtype=np.float64)
    log_n1 = math.log(n) + 1.0
    g2 = 2.0 * (log_n1 - _LN2)  # G(2)
    return (y * (log_n1 - np.log(y)) - g2) / (n - g2)  # G(n) = n


def etbs_warp(x: np.ndarray, size: int, scale: float, temperature: float) -> np.ndarray:
    """Steps 2-4 of the draw: uniform positions ``x: [B]`` in [0, size) -> int64 indices ``[B]``.

    Overwrites ``x`` (in-place arithmetic: at B = 16 numpy's per-call overhead, not the
    arithmetic, is the cost, so every temporary avoided counts; spec §12 item 24 wants O(1)).
    """
    n = size + 2.0
    log_n1 = math.log(n) + 1.0
    g2 = 2.0 * (log_n1 - _LN2)
    tau = temperature
    s = x + 2.0
    g = np.log(s)
    np.subtract(log_n1, g, out=g)
    g *= s                                   # G(s)
    g -= g2                                  # G(s) − G(2) = Z · F(s)
    g *= tau * scale / (n - g2)              # τ · u · scale
    np.minimum(g, tau * (size - 1), out=g)   # τ · adjusted (τ ≥ 0 commutes with min)
    x *= 1.0 - tau
    g += x
    # Non-negative up to rounding (G(2) − G(2) may be −ε): truncation is the floor, −ε -> 0.
    idx = g.astype(np.int64)
    np.minimum(idx, size - 1, out=idx)       # guard against rounding up to N
    return idx


class _EtbsBase:
    """Shared ETBS machinery; subclasses choose the scale of step 3 (see module doc)."""

    def __init__(self, seed: int = 0, temperature: float = 0.3) -> None:
        name = (component_of(type(self)) or ("sampler", type(self).__name__))[1]
        if not 0.0 <= temperature <= 1.0:  # also rejects NaN
            raise ValueError(f"{name}.temperature = {temperature} is outside [0, 1]")
        self.temperature = float(temperature)
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def _scale(self, size: int, capacity: int) -> float:
        raise NotImplementedError

    def sample(self, size: int, capacity: int, count: int,
               inserted: int | None = None) -> np.ndarray:
        """``count`` indices in ``[0, size)`` as int64 ``[count]`` (0 = oldest item); O(1) each.
        ``inserted`` (items ever inserted) is unused: ETBS keeps no per-item state."""
        if size <= 0:
            raise ValueError(f"cannot sample from an empty replay (size={size})")
        x = self._rng.random(count)
        x *= size
        return etbs_warp(x, size, self._scale(size, capacity), self.temperature)

    def state_dict(self) -> dict[str, Any]:
        """The PCG64 bit-generator state (a plain dict of ints and strings)."""
        return {"bit_generator": copy.deepcopy(self._rng.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next draws continue the saved sequence."""
        self._rng.bit_generator.state = copy.deepcopy(state["bit_generator"])


@register("sampler", "etbs")
class EtbsSampler(_EtbsBase):
    """ETBS scaled by the current size (the paper's intent; spec §6.3 etbs_mode = size)."""

    def _scale(self, size: int, capacity: int) -> float:
        return float(size)


@register("sampler", "etbs_official")
class OfficialEtbsSampler(_EtbsBase):
    """ETBS scaled by the capacity, as the authors' code does (spec §6.3 etbs_mode = official)."""

    def _scale(self, size: int, capacity: int) -> float:
        if capacity < size:
            raise ValueError(f"etbs_official needs capacity >= size (capacity={capacity}, "
                             f"size={size})")
        return float(capacity)
