"""Uniform replay sampler: every stored window is equally likely (spec §6.2).

The authors' ``selectors.Uniform`` draws ``rng.integers(0, N)`` from ``default_rng(seed=0)``,
ignoring the run's seed (spec §9 B10). Here the generator is seeded from the run's seed and its
state is part of :meth:`state_dict`, so a resumed run continues the same draw sequence.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from hieros_lab.registry import register


@register("sampler", "uniform")
class UniformSampler:
    """Draws window indices uniformly from ``[0, size)``; O(1) per index."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def sample(self, size: int, capacity: int, count: int,
               inserted: int | None = None) -> np.ndarray:
        """``count`` indices in ``[0, size)`` as int64 ``[count]``. ``capacity`` and ``inserted``
        are unused: the uniform distribution does not depend on how full the buffer is."""
        if size <= 0:
            raise ValueError(f"cannot sample from an empty replay (size={size})")
        return self._rng.integers(0, size, size=count, dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        """The PCG64 bit-generator state (a plain dict of ints and strings)."""
        return {"bit_generator": copy.deepcopy(self._rng.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next draws continue the saved sequence."""
        self._rng.bit_generator.state = copy.deepcopy(state["bit_generator"])
