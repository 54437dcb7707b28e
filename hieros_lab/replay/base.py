"""The ``sampler`` swap point: which stored windows a batch is made of.

Items are indexed by age: 0 is the oldest window still stored, ``size - 1`` the newest. A
sampler only chooses indices; the buffer owns the data. Samplers are registered under kind
``sampler`` and constructed by the buffer as ``factory(seed=seed)``.

``inserted`` (optional, added for samplers with per-item state such as ``time_balanced``): the
number of items ever inserted, so a sampler can tell which items left the ring. The buffer passes
it only to samplers whose ``sample`` accepts it: three-argument samplers keep working.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Sampler(Protocol):
    """Draws window indices from a buffer of ``size`` items (0 = oldest)."""

    def sample(self, size: int, capacity: int, count: int,
               inserted: int | None = None) -> np.ndarray:
        """``count`` indices in ``[0, size)`` as int64 ``[count]``; ``capacity`` is the buffer's
        maximum number of items (some variants scale by it); ``inserted`` the number of items
        ever inserted (None: unknown). Must cost O(1) per index unless the sampler documents
        otherwise."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the same draw sequence after a resume (RNG state)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
