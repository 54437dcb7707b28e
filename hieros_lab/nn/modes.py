"""Train/eval modes (DESIGN §8 "Modes", spec §1.5).

A learner module is in train mode exactly while its own loss is computed and in eval mode at
every other time: imagination, acting and evaluation never see dropout. Learners put themselves
in eval mode when built and compute their losses inside :func:`training`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def training(*modules: nn.Module) -> Iterator[None]:
    """Train mode for ``modules`` inside the block, eval mode after it (also on errors).

    The backward pass may run after the block: dropout masks live in the autograd graph.
    """
    for module in modules:
        module.train()
    try:
        yield
    finally:
        for module in modules:
            module.eval()
