"""Stopping on SIGTERM / SIGINT at a safe point, so that the checkpoint written on the way out
is one the run can resume from.

Raising an exception from the signal handler wherever the main thread happens to be (what a
plain KeyboardInterrupt does) can stop a run between the world-model and the actor-critic
update, in the middle of an optimizer step, or inside a tracking-store transaction; a checkpoint
written after that holds a state no uninterrupted run ever had, and an interrupted store call can
keep the sqlite write lock while the run tries to end. So a :class:`StopRequest` only *records*
the first signal, and the code that owns the state raises :class:`Killed` where the state is
whole: the trainer at the top of each env step (:meth:`StopRequest.check`). Inside regions that
change no training state (building, evaluation) the signal raises at once
(:meth:`StopRequest.interruptible`), so a long evaluation does not delay the stop.

A second signal raises at once wherever the run is, and marks the request ``forced``: the
caller then keeps the previous checkpoint instead of writing one from a half-updated state.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Killed(KeyboardInterrupt):
    """The run was asked to stop (SIGTERM or SIGINT)."""


class StopRequest:
    """The stop signal of one process, checked at safe points.

    Use as ``with stop.installed(): ...``; outside that block (or off the main thread, where
    Python cannot install handlers) it is a request that never arrives.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.forced = False
        self._immediate = 0

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        """Raise :class:`Killed` if a stop was requested (call where the state is whole)."""
        if self.signum is not None:
            raise Killed(f"signal {self.signum}")

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """A region that changes no state worth keeping: a signal raises here at once."""
        self.check()
        self._immediate += 1
        try:
            yield
        finally:
            self._immediate -= 1

    def _handler(self, signum: int, frame) -> None:  # noqa: ARG002
        if self.signum is not None:
            self.forced = True
            raise Killed(f"signal {signum} (second: stopping without a new checkpoint)")
        self.signum = signum
        if self._immediate:
            raise Killed(f"signal {signum}")

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Route SIGTERM and SIGINT to this request; the previous handlers come back after."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handler) for s in SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
