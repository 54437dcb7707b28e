"""Keep freed memory in the process, so that large tensors reuse pages instead of faulting in.

glibc's malloc serves every block above 32 MB (at most; its adaptive threshold) with a fresh
``mmap`` and returns it with ``munmap`` when the tensor is freed. PyTorch's CPU allocator caches
nothing, so a paper-size update that allocates and frees such tensors hundreds of times (Mamba's
selective state ``[B, T, 512, 16]`` is 32 MB; an imagination step at 1,024 starts makes several)
pays a page fault per 4 KiB each time, and the kernel zeroes every page. :func:`retain_freed_memory`
tells malloc never to ``mmap`` a block and never to give the heap's top back, so freed blocks
are reused.

What it does not change: any number computed (only where tensors live). What it costs: the
process keeps its peak memory until it exits (the RSS does not shrink after a peak).

Measured (session 19, AVX512, one thread, one training run beside;
``python -m hieros_lab.bench.update --sequence ...``): paper-size Mamba update 12.0 s -> 9.3 s,
S5 update 5.8 s -> 5.1 s; the small Pinpad agent's training call (tensors well below the
threshold) is unchanged. ``Trainer.retain_freed_memory`` (on by default) applies it; runs record
it as the ``host.malloc_retained`` tag.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: never trim the top of the heap (bytes; mallopt takes an int)
NO_TRIM = 2**31 - 1

_applied = False


def retain_freed_memory() -> bool:
    """Switch glibc malloc to keep freed memory (see the module doc). Returns whether it is on:
    False where the C library is not glibc (macOS, musl), where nothing is changed."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    _applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, NO_TRIM))
    return _applied


def retained() -> bool:
    """Whether :func:`retain_freed_memory` has been applied in this process."""
    return _applied
