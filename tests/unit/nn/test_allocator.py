"""Retaining freed memory (nn/allocator): a large tensor allocated again after it was freed
reuses the process's pages instead of faulting in fresh ones, and the run records the setting.
Each case runs in a fresh interpreter: the setting is process-wide and cannot be undone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, resource, sys, torch
from hieros_lab.nn import allocator
from hieros_lab.trainer.host import host_tags
before = allocator.retained()
if sys.argv[1] == "retain":
    allocator.retain_freed_memory()
def faults_of_two_allocations():
    x = torch.ones(16 * 2**20)  # 64 MiB, above glibc's largest mmap threshold
    del x
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    # smaller than the freed block: an aligned allocation of the same size would not fit in it
    y = torch.ones(8 * 2**20)
    del y
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start
print(json.dumps({"before": before, "after": allocator.retained(),
                  "faults": faults_of_two_allocations(),
                  "tag": host_tags()["host.malloc_retained"]}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
def test_a_freed_block_is_reused_without_page_faults():
    default, retained = _probe("default"), _probe("retain")
    assert (default["before"], default["after"], default["tag"]) == (False, False, "False")
    assert (retained["before"], retained["after"], retained["tag"]) == (False, True, "True")
    pages = 32 * 2**20 // 4096
    assert default["faults"] > pages // 2  # a fresh mapping: every page faults in again
    assert retained["faults"] < pages // 20


BUILD = """
import sys
from hieros_lab import config
from hieros_lab.nn import allocator
from hieros_lab.trainer.loop import Trainer
config.parse(["debug.gin"], ["Trainer.tracker = @null", *sys.argv[1:]])
Trainer().build()
print(allocator.retained())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
@pytest.mark.parametrize(("bindings", "want"), [([], "True"),
                                                (["Trainer.retain_freed_memory = False"],
                                                 "False")])
def test_the_trainer_applies_it_unless_told_not_to(bindings, want):
    out = subprocess.run([sys.executable, "-c", BUILD, *bindings], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == want
