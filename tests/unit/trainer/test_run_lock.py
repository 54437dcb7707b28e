"""One process per run directory (a Ray retry must not train next to the run it resumes)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from hieros_lab.config import ConfigError
from hieros_lab.trainer.run_lock import run_dir_lock


def test_a_second_holder_waits_then_fails_naming_the_first(tmp_path):
    with run_dir_lock(tmp_path / "run"):
        start = time.monotonic()
        with pytest.raises(ConfigError, match=f"in use by another process \\(pid {os.getpid()}"):
            with run_dir_lock(tmp_path / "run", wait_s=0.6, poll_s=0.1):
                pass
        assert time.monotonic() - start >= 0.6


def test_the_lock_passes_on_when_its_holder_lets_go(tmp_path):
    released = threading.Event()

    def hold():
        with run_dir_lock(tmp_path / "run"):
            released.wait(0.5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    start = time.monotonic()
    with run_dir_lock(tmp_path / "run", wait_s=10, poll_s=0.05):  # waits for the thread
        assert time.monotonic() - start >= 0.3
    holder.join()
