"""The global random streams a checkpoint carries (torch, CUDA, numpy, Python), so that a resumed
run draws the numbers the uninterrupted one would have drawn."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def state() -> dict[str, Any]:
    """Every global generator's state (``cuda_rng`` only where CUDA is available)."""
    out = {"torch_rng": torch.get_rng_state(), "np_rng": np.random.get_state(),
           "py_rng": random.getstate()}
    if torch.cuda.is_available():
        out["cuda_rng"] = torch.cuda.get_rng_state_all()
    return out


def restore(saved: dict[str, Any]) -> None:
    """Put back :func:`state`'s generators (CUDA's when both sides have it)."""
    torch.set_rng_state(saved["torch_rng"])
    np.random.set_state(saved["np_rng"])
    random.setstate(saved["py_rng"])
    if "cuda_rng" in saved and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
