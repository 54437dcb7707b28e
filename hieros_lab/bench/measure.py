"""Small measuring tools: medians of timed calls, matmul peak, FLOP counts, peak RSS."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def median_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak_flops(size: int = 2048, repeats: int = 10, device: str = "cpu",
                      dtype: torch.dtype = torch.float32) -> float:
    """Best FLOP/s of a ``size`` x ``size`` matmul in ``dtype``: the machine's practical peak."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = float("inf")
    for i in range(repeats + 2):
        start = time.perf_counter()
        torch.mm(a, b)
        if device != "cpu":
            torch.cuda.synchronize()
        if i >= 2:
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of ``fn()`` (forward and backward) as torch's FLOP counter sees them."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024**3 if sys.platform == "darwin" else 1024**2)


def peak_gpu_mem_gib(device: str | torch.device) -> dict[str, float]:
    """``{"peak_gpu_mem_gib": ...}``: the most GPU memory torch's allocator has held in this
    process (``{}`` off CUDA, where :func:`peak_rss_gib` is the figure)."""
    device = torch.device(device)
    if device.type != "cuda":
        return {}
    return {"peak_gpu_mem_gib": torch.cuda.max_memory_allocated(device) / 1024**3}
