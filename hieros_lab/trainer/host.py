"""What machine a run trained on, as MLflow tags: results are exact only on the same kind.

Float results depend on the CPU: torch picks its kernels by the CPU capability (AVX2, AVX512,
...), MKL its matrix kernels by the processor itself, and a different kernel sums in another
order. Measured: the same Pinpad run (same config and seed) scored 74.3 on the machine of
session 6 (its CPU not recorded) and 74.7 on an AVX2 one, and took 848 s against 1,573 s; and
Pinpad ``dreamer`` seed 4 scored 96.3 on an AMD EPYC and 83.3 on an Intel Xeon, both AVX512,
with the same code (session 20: its metrics part at the first update). So each run records its
CPU model, torch's capability, the torch build and the threads, and a rerun is compared only
with runs of the same :func:`machine_kind`, model and capability.
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


UNKNOWN = "?"  # a part of the kind that runs made before it was recorded do not name
#: ``(CPU model, torch CPU capability)``: runs of one kind give bit-identical numbers.
Kind = tuple[str, str]


def machine_kind() -> Kind:
    """This machine's kind, as its runs' ``host.cpu`` and ``host.cpu_capability`` tags say."""
    import torch

    return cpu_model(), str(torch.backends.cpu.get_cpu_capability())


def kind_name(kind: Kind) -> str:
    """``Intel(R) Xeon(R) Processor / AVX512``."""
    return " / ".join(kind)


def same_kind(recorded: Kind, machine: Kind) -> bool:
    """Whether a run recorded as ``recorded`` ran on a machine of kind ``machine``; a part the
    run did not record (:data:`UNKNOWN`) matches any."""
    return all(r in (m, UNKNOWN) for r, m in zip(recorded, machine, strict=True))


def host_tags() -> dict[str, str]:
    """Tags naming the machine and build a run's numbers come from."""
    import torch

    from hieros_lab.nn import allocator

    cpu, capability = machine_kind()
    return {keys.HOST_CPU: cpu, keys.HOST_CPU_CAPABILITY: capability,
            keys.HOST_TORCH: torch.__version__,
            keys.HOST_CORES: str(os.cpu_count() or 0),
            keys.HOST_THREADS: str(torch.get_num_threads()),
            keys.HOST_MALLOC_RETAINED: str(allocator.retained())}
