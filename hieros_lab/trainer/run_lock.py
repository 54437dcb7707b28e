"""One process per run directory: a second ``hieros-lab train`` on the same directory waits for
the first to let go, then fails with a message naming it.

Two processes training into one run directory would interleave checkpoints and send the same
metric steps twice. It can happen without anyone meaning it: a Ray node dies, its child is
still writing its last checkpoint, and Ray has already started the retry that resumes it. The
lock is an ``flock`` on ``<run_dir>/.lock``, released by the kernel when its holder dies, so a
SIGKILLed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from hieros_lab.config import ConfigError

LOCK_FILE = ".lock"
#: Seconds to wait for another process to release the directory (one that was told to stop
#: needs up to ~30 s to checkpoint and end its run).
WAIT_S = 90.0


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def run_dir_lock(run_dir: Path, wait_s: float = WAIT_S, poll_s: float = 0.5,
                 say: Callable[[str], None] | None = None) -> AbstractContextManager[None]:
    """Hold ``run_dir``'s lock for the block; ConfigError if another process keeps it. ``say``
    hears once that we are waiting."""
    return dir_lock(run_dir, wait_s, poll_s, say, busy=lambda pid: (
        f"{run_dir} is in use by another process (pid {pid}) that kept it for {wait_s:.0f} s; "
        "stop it, or wait for it to end"))


@contextmanager
def dir_lock(directory: Path, wait_s: float, poll_s: float = 0.5,
             say: Callable[[str], None] | None = None,
             busy: Callable[[str], str] | None = None) -> Iterator[None]:
    """Hold ``directory/.lock`` for the block, waiting up to ``wait_s`` (0: not at all) for
    another process to release it; then ConfigError with ``busy(holder pid)``. The sweep uses
    it for ``runs/<experiment>`` (one sweep of a file at a time)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline, told = time.monotonic() + wait_s, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(path)
                    raise ConfigError(busy(holder) if busy is not None else
                                      f"{directory} is in use by another process (pid "
                                      f"{holder})") from None
                if not told and say is not None:
                    say(f"hieros-lab: waiting for pid {_holder(path)} to release {directory}")
                    told = True
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # (closing releases the lock)
