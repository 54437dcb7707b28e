"""What machine a run trained on, as MLflow tags: results are exact only on the same kind.

Float results depend on the CPU's vector unit: torch picks its kernels by the CPU capability
(AVX2, AVX512, ...), and a different kernel sums in another order. Measured: the same Pinpad
run (same config and seed) scored 74.3 on the machine of session 6 (its CPU not recorded) and
74.7 on an AVX2 one, and took 848 s against 1,573 s. So each run records its CPU, torch's
capability, the torch build and the threads, and a rerun is compared with runs of the same
``host.cpu_capability``.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from hieros_lab.tracking import keys


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def host_tags() -> dict[str, str]:
    """Tags naming the machine and build a run's numbers come from."""
    import torch

    from hieros_lab.nn import allocator

    return {keys.HOST_CPU: cpu_model(),
            keys.HOST_CPU_CAPABILITY: str(torch.backends.cpu.get_cpu_capability()),
            keys.HOST_TORCH: torch.__version__,
            keys.HOST_CORES: str(os.cpu_count() or 0),
            keys.HOST_THREADS: str(torch.get_num_threads()),
            keys.HOST_MALLOC_RETAINED: str(allocator.retained())}
