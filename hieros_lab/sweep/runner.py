"""Local pool: run sweep children as ``hieros-lab train`` subprocesses, at most N at once.

Children get their own session (``start_new_session``) so a Ctrl-C at the terminal reaches only
the sweep, which then SIGTERMs every running child: the child's trainer marks its MLflow run
KILLED and checkpoints (trainer/session.py), so a re-run resumes it.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hieros_lab.trainer.stopping import StopRequest

POLL_S = 0.2
#: Seconds a SIGTERMed child gets to checkpoint and end its run before it is killed.
STOP_GRACE_S = 120.0
#: Exit status recorded for a child stopped by the sweep (as the CLI's EXIT_INTERRUPTED).
STOPPED = 130


@dataclass(frozen=True)
class Job:
    """One child to run: ``command[0]`` is replaced by this machine's Python.

    ``resume_command`` is what to run instead once the child has opened its run (its run
    directory holds ``run.json``): a runner that starts the child again after losing it (a Ray
    node died) resumes that run rather than opening a second one.
    """

    key: str
    command: tuple[str, ...]
    log_path: Path
    resume_command: tuple[str, ...] | None = None

    def command_now(self) -> tuple[str, ...]:
        opened = (self.log_path.parent / "run.json").is_file()
        return self.resume_command if opened and self.resume_command else self.command


#: Called once per job that ran, with its exit status, as soon as it ends.
OnDone = Callable[[Job, int], None]


def local_command(command: Sequence[str]) -> list[str]:
    """``command`` with this interpreter (the one that has hieros_lab installed)."""
    return [sys.executable, *command[1:]]


_PR_SET_PDEATHSIG = 1


def _prctl():
    """libc's ``prctl``, looked up in the parent: the ``preexec_fn`` runs between fork and exec
    in a process that may have other threads (a Ray worker has many), where loading a library
    could deadlock on the loader's lock."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the run-directory lock still guards it
        return None


def die_with_parent_hook() -> Callable[[], None] | None:
    """``preexec_fn`` for a child: SIGTERM it when the process that started it dies (Linux).

    A child in its own session outlives a sweep or Ray worker that is SIGKILLed; it would go on
    training while a retry of it starts, two processes on one run directory. With this it stops
    at its next safe point instead (checkpoint, run KILLED), and the retry resumes it.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def spawn_child(command: Sequence[str], log_path: Path,
                env: Mapping[str, str]) -> subprocess.Popen:
    """Start ``command`` with this interpreter, in its own session, SIGTERMed if we die; its
    stdout and stderr are appended to ``log_path`` (kept across resumes)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(local_command(command), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=dict(env),
                                start_new_session=True, preexec_fn=die_with_parent_hook())


def spawn(job: Job, env: Mapping[str, str]) -> subprocess.Popen:
    """Start ``job`` (its resume command if it opened its run already)."""
    return spawn_child(job.command_now(), job.log_path, env)


def stop(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> int:
    """SIGTERM ``proc``, wait up to ``grace_s`` for it to checkpoint, then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def run_local(jobs: Sequence[Job], parallel: int, env: Mapping[str, str], on_done: OnDone,
              grace_s: float = STOP_GRACE_S, stop_request: StopRequest | None = None) -> None:
    """Run ``jobs`` with at most ``parallel`` at once; ``on_done`` as each ends.

    ``stop_request`` is checked between polls. On a stop (or KeyboardInterrupt) every running
    child is stopped (``on_done`` is called for it with its exit status) and the interrupt is
    re-raised; jobs not yet started are not started.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be >= 1, got {parallel}")
    stop_request = stop_request or StopRequest()
    pending = list(jobs)
    running: dict[subprocess.Popen, Job] = {}
    try:
        while pending or running:
            stop_request.check()
            while pending and len(running) < parallel:
                job = pending.pop(0)
                running[spawn(job, env)] = job
            for proc in [p for p in running if p.poll() is not None]:
                on_done(running.pop(proc), proc.returncode)
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        for proc in list(running):  # signal all first, so they checkpoint in parallel
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, job in list(running.items()):
            code = stop(proc, grace_s)
            on_done(job, STOPPED if code in (-signal.SIGTERM, -signal.SIGKILL) else code)
        raise
