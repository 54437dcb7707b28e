"""One sweep of an experiment at a time: an exclusive lock on ``runs/<experiment>/sweep.lock``.

Two sweeps of one file (say, two ``--only`` subsets started side by side) would both resume the
same parent run, and the first to end would mark it FINISHED while the other still runs; each
rewrites ``sweep.json`` from its own view, and an overlapping selection trains one child twice
into one run directory. The second sweep is refused before it opens anything. The lock is an
``flock`` on an open file, so the kernel drops it when its holder exits, however it exits: a
crashed sweep never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from hieros_lab.config import ConfigError

LOCK_FILE = "sweep.lock"


@contextlib.contextmanager
def sweep_lock(root: Path, experiment_file: Path | str) -> Iterator[None]:
    """Hold ``root/sweep.lock`` for the body; ConfigError naming ``experiment_file``, the lock
    and the holder's pid if another process holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX (Windows): no lock, as before
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ConfigError(
                f"{experiment_file}: another sweep of this experiment is running (pid {holder}, "
                f"lock {path}). Wait for it to end or stop it (Ctrl-C), then re-run: it skips "
                "finished children and resumes the rest. To run more children at once, use "
                "one sweep with --parallel N") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
