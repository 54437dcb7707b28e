"""Count-balancing replay sampler: the O(N)-per-draw reference that ETBS replaces (spec §6.3).

This is the semantics of the authors' ``selectors.TimeBalancedNaive``: every item keeps the
number of times it has been drawn, and an item is drawn with probability

    p_i = softmax(−count_i / bias)_i   over all N stored items,

so rarely drawn (mostly new) items are preferred and cumulative draw counts stay nearly equal.
Each call recomputes the softmax over all N items: O(N) per call, O(N / count) per index. The
paper's "O(n) prior time-balanced methods" are of this kind, which is why ``hieros-lab bench``
reports it next to ``etbs`` (spec §12 item 24).

Choices, where the authors' code differs or crashes (spec §6.3, §9 B8, B18):

* ``bias`` defaults to 20, the authors' selector default (their replay wrapper reads a
  ``replay_bias_factor`` that no config defines, so it crashes).
* Draws within one call are i.i.d. from the weights at the start of the call (the authors
  update the counts after every single draw, which needs a Python loop per draw); counts are
  updated once per call. At batch 16 and bias 20 the difference is negligible.
* The authors' first draw always returns key 0; here the first draw is uniform (all counts 0).
* Counts follow items by age. The buffer passes ``inserted`` (items ever inserted), so when the
  ring drops its oldest items their counts are dropped too and new items start at 0 (the
  authors' swap-with-last removal breaks this, spec §9 B8). Without ``inserted`` the sampler
  assumes that growth in ``size`` is new items and that nothing was removed, which is exact
  until the ring is full.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from hieros_lab.registry import register


@register("sampler", "time_balanced")
class TimeBalancedSampler:
    """Draws item i with probability softmax(−count_i / bias); O(N) per call (reference)."""

    def __init__(self, seed: int = 0, bias: float = 20.0) -> None:
        if not (bias > 0 and math.isfinite(bias)):  # also rejects NaN
            raise ValueError(f"time_balanced.bias = {bias} must be a finite number > 0")
        self.bias = float(bias)
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._counts = np.zeros(0, np.int64)  # [N] draws per stored item, oldest first
        self._inserted = 0  # items ever inserted = global id one past the newest tracked item

    @property
    def counts(self) -> np.ndarray:
        """Draw counts of the tracked items, oldest first: a copy ``[N]`` int64."""
        return self._counts.copy()

    def _align(self, size: int, inserted: int | None) -> None:
        """Re-index the counts to the items now stored: global ids [inserted − size, inserted)."""
        if inserted is None:
            inserted = self._inserted + max(0, size - len(self._counts))
        if inserted < size:
            raise ValueError(f"time_balanced: inserted={inserted} < size={size}")
        if inserted == self._inserted and size == len(self._counts):
            return
        lo, old_lo = inserted - size, self._inserted - len(self._counts)
        keep_lo, keep_hi = max(lo, old_lo), min(inserted, self._inserted)
        counts = np.zeros(size, np.int64)
        if keep_lo < keep_hi:  # items still stored keep their counts; new ones start at 0
            counts[keep_lo - lo:keep_hi - lo] = self._counts[keep_lo - old_lo:keep_hi - old_lo]
        self._counts, self._inserted = counts, int(inserted)

    def sample(self, size: int, capacity: int, count: int,
               inserted: int | None = None) -> np.ndarray:
        """``count`` indices in ``[0, size)`` as int64 ``[count]`` (0 = oldest); O(size) per call.

        ``inserted``: items ever inserted into the buffer (so items that left the ring are
        recognised); ``capacity`` is unused.
        """
        if size <= 0:
            raise ValueError(f"cannot sample from an empty replay (size={size})")
        self._align(size, inserted)
        counts = self._counts
        # Softmax without overflow: the least drawn item has weight exactly 1.
        weights = np.exp((counts.min() - counts) / self.bias)  # [N]
        cdf = np.cumsum(weights, out=weights)
        idx = np.searchsorted(cdf, self._rng.random(count) * cdf[-1], side="right")
        idx = np.minimum(idx, size - 1).astype(np.int64)  # guard: u * total rounding to total
        np.add.at(counts, idx, 1)
        return idx

    def state_dict(self) -> dict[str, Any]:
        """RNG state, per-item counts ``[N]`` and the insert counter they are aligned to."""
        return {"bit_generator": copy.deepcopy(self._rng.bit_generator.state),
                "counts": self._counts.copy(), "inserted": self._inserted}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next draws continue the saved sequence."""
        self._rng.bit_generator.state = copy.deepcopy(state["bit_generator"])
        self._counts = np.array(state["counts"], dtype=np.int64)
        self._inserted = int(state["inserted"])
        if self._inserted < len(self._counts):
            raise ValueError(f"time_balanced state has {len(self._counts)} counts but only "
                             f"{self._inserted} inserted items")
