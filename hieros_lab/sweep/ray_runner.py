"""Ray runner: each sweep child is a Ray task that runs the same ``hieros-lab train`` subprocess
on a worker of an existing cluster (DESIGN §7). ``ray`` is imported lazily (optional extra).

Children log to the tracking store named by ``MLFLOW_TRACKING_URI`` (passed in the task's
environment), so on a multi-machine cluster that must be an ``mlflow server``; run directories
are absolute paths, so skip/resume across sweeps needs a file system shared by the workers.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

from hieros_lab.config import ConfigError
from hieros_lab.sweep.runner import STOP_GRACE_S, STOPPED, Job, OnDone, stop
from hieros_lab.trainer.stopping import StopRequest

PROBE_TIMEOUT_S = 5.0


def _run_child(command: Sequence[str], log_path: str, env: Mapping[str, str],
               grace_s: float) -> int:
    """Body of the Ray task (runs on a worker): the child subprocess with the worker's Python.

    ``ray.cancel`` raises KeyboardInterrupt here: the child gets SIGTERM (it marks its run
    KILLED and checkpoints) before the task ends.
    """
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, *command[1:]], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env), start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop(proc, grace_s)
        return STOPPED


def _probe(address: str) -> None:
    """Fail fast (one line) when ``host:port`` does not accept connections: ``ray.init``
    would otherwise retry for a minute or more."""
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    host, port = parsed.hostname, parsed.port
    if not host or not port:
        raise ConfigError(f"--ray-address {address!r}: expected HOST:PORT, ray://HOST:PORT or "
                          "'auto'")
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as err:
        raise ConfigError(f"Ray cluster at {address} is not reachable: {err}") from None


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` (``auto``: the one started on this machine) or raise
    a one-line ConfigError. A Ray session already open in this process is reused."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray-address needs Ray: pip install -e '.[ray]'") from None
    if ray.is_initialized():
        return
    if address != "auto":
        _probe(address)
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except Exception as err:  # ConnectionError, RuntimeError, ... all mean "no cluster there"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot join Ray cluster at {address!r}: {first}") from None


def run_ray(jobs: Sequence[Job], env: Mapping[str, str], on_done: OnDone,
            grace_s: float = STOP_GRACE_S, stop_request: StopRequest | None = None) -> None:
    """Run every job as a Ray task (1 CPU each; the cluster decides how many at once).

    Call :func:`connect` first. On KeyboardInterrupt the unfinished tasks are cancelled (their
    children SIGTERMed), ``on_done`` gets each one's status, and the interrupt is re-raised.
    """
    import ray

    task = ray.remote(num_cpus=1, max_retries=0)(_run_child)
    refs = {task.remote(list(job.command), str(job.log_path), dict(env), grace_s): job
            for job in jobs}
    stop_request = stop_request or StopRequest()
    try:
        while refs:
            stop_request.check()
            done, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in done:
                on_done(refs.pop(ref), _result(ray, ref))
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref)
        for ref, job in list(refs.items()):
            code = _result(ray, ref, timeout=grace_s + 10)
            on_done(job, STOPPED if code in (None, -signal.SIGTERM) else code)
        raise


def _result(ray, ref, timeout: float | None = None) -> int | None:
    """The task's exit status; 1 if the task itself failed, None if it was cancelled."""
    try:
        return int(ray.get(ref, timeout=timeout))
    except ray.exceptions.TaskCancelledError:
        return None
    except ray.exceptions.GetTimeoutError:
        return None
    except Exception:  # the task crashed or its worker died: the child failed
        return 1
