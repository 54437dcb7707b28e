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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hieros_lab.tracking import keys

if TYPE_CHECKING:
    import torch


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


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU is an error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"Trainer.device = {device!r} but no CUDA device is available")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"Trainer.device must be auto, cpu or cuda[:N], got {device!r}")
    return torch.device(device)


def computed_on() -> dict[str, Any]:
    """What a checkpoint records of the process that computed it (``Trainer.save``): torch's
    intra-op threads and the machine kind."""
    import torch

    return {"threads": torch.get_num_threads(), "machine_kind": list(machine_kind())}


def continue_as(recorded: Mapping[str, Any]) -> tuple[list[str], bool]:
    """Set this process up to compute as the checkpoint's did (``Trainer.restore``); returns
    what it did or found, for the user, and whether the resume is inexact (another kind).

    Threads: their number changes how a float sum is split, so a resume with another count
    drifts from the uninterrupted run. Session 21: the quickstart's seed 2, stopped at step 211
    and resumed with 2 threads after 1, differed from the uninterrupted run from step 250 on, in
    the 9th digit at first (it still ended at 500). So torch's intra-op threads are set back to
    the recorded count: the resume computes as the run started, on the same kind of machine.
    The machine kind cannot be set: a resume on another kind (module doc) is inexact.
    A checkpoint written before these were recorded sets and finds nothing.
    """
    import torch

    notes: list[str] = []
    threads = recorded.get("threads")
    if threads is not None and int(threads) != torch.get_num_threads():
        notes.append(f"with torch threads set to {int(threads)}, as the run computed before it "
                     f"stopped (this process had {torch.get_num_threads()})")
        torch.set_num_threads(int(threads))
    kind = recorded.get("machine_kind")
    other = kind is not None and not same_kind(tuple(kind), machine_kind())
    if other:
        notes.append(f"on another machine kind ({kind_name(tuple(kind))} before, "
                     f"{kind_name(machine_kind())} now): its numbers are no longer the "
                     f"uninterrupted run's; the run is tagged {keys.RESUME_INEXACT}")
    return notes, other
