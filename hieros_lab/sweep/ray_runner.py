"""Ray runner: each sweep child is a Ray task that runs the same ``hieros-lab train`` subprocess
on a worker of an existing cluster (DESIGN §7). ``ray`` is imported lazily (optional extra).

Children log to the tracking store named by ``MLFLOW_TRACKING_URI`` (passed in the task's
environment), so on a multi-machine cluster that must be an ``mlflow server``. Run directories
(checkpoints, ``run.json``, logs) are absolute paths that every node must see: a file system
shared by the nodes (NFS, a cluster file system). A task on a node that cannot see the sweep's
directory fails at once with a message that says so.

When a node dies, Ray runs its tasks again elsewhere (``NODE_RETRIES``; only system failures are
retried, never a child that failed by itself). The child process dies with its worker
(:func:`~hieros_lab.sweep.runner.die_with_parent_hook`), and the retry resumes its run from its last
checkpoint (:meth:`~hieros_lab.sweep.runner.Job.command_now`): one MLflow run per child, its
metrics exactly once (trainer/journal.py).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

from hieros_lab.config import ConfigError
from hieros_lab.sweep.runner import STOP_GRACE_S, STOPPED, Job, OnDone, spawn_child, stop
from hieros_lab.trainer.stopping import StopRequest

PROBE_TIMEOUT_S = 5.0
#: Times Ray starts a child again after its node (or worker process) died.
NODE_RETRIES = 3


class SharedStorageError(RuntimeError):
    """A node cannot see the sweep's directory (it is not on a shared file system)."""


def _run_child(job: Job, marker: str, env: Mapping[str, str], grace_s: float) -> int:
    """Body of the Ray task (runs on a worker): the child subprocess with the worker's Python.

    ``marker`` is a file the driver wrote into the sweep's directory; a node that does not see
    it cannot resume or be resumed, so the task fails naming the node. ``ray.cancel`` raises
    KeyboardInterrupt here: the child gets SIGTERM (it marks its run KILLED and checkpoints)
    before the task ends.
    """
    if not Path(marker).is_file():
        raise SharedStorageError(
            f"node {socket.gethostname()} cannot see {marker}: the sweep's run directories "
            "(checkpoints) must be on a file system shared by every Ray node")
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log_path, "a") as log:  # which node ran (or ran again) this child
        log.write(f"hieros-lab: on Ray node {_node_id()} ({socket.gethostname()})\n")
    proc = spawn_child(job.command_now(), job.log_path, env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop(proc, grace_s)
        return STOPPED


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


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


def run_ray(jobs: Sequence[Job], env: Mapping[str, str], on_done: OnDone, marker: Path,
            grace_s: float = STOP_GRACE_S, stop_request: StopRequest | None = None,
            say: Callable[[str], None] = print) -> None:
    """Run every job as a Ray task (1 CPU each; the cluster decides how many at once).

    Call :func:`connect` first; ``marker`` is a file in the sweep's directory (see
    :func:`_run_child`). A task whose node dies is run again (``NODE_RETRIES``). On
    KeyboardInterrupt the unfinished tasks are cancelled (their children SIGTERMed),
    ``on_done`` gets each one's status, and the interrupt is re-raised.
    """
    import ray

    task = ray.remote(num_cpus=1, max_retries=NODE_RETRIES, retry_exceptions=False)(_run_child)
    refs = {task.remote(job, str(marker), dict(env), grace_s): job for job in jobs}
    stop_request = stop_request or StopRequest()
    try:
        while refs:
            stop_request.check()
            done, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in done:
                job = refs.pop(ref)
                on_done(job, _result(ray, ref, say=lambda m, k=job.key: say(f"{k}: {m}")))
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref)
        for ref, job in list(refs.items()):
            code = _result(ray, ref, timeout=grace_s + 10)
            on_done(job, STOPPED if code in (None, -signal.SIGTERM) else code)
        raise


def _result(ray, ref, timeout: float | None = None,
            say: Callable[[str], None] | None = None) -> int | None:
    """The task's exit status; 1 if the task itself failed (or its node died more often than
    it was retried), None if it was cancelled."""
    try:
        return int(ray.get(ref, timeout=timeout))
    except ray.exceptions.TaskCancelledError:
        return None
    except ray.exceptions.GetTimeoutError:
        return None
    except Exception as err:  # noqa: BLE001  (any task failure is a failed child)
        if say is not None:
            cause = getattr(err, "cause", None) or err
            lines = str(cause).strip().splitlines()
            say(f"task failed: {type(cause).__name__}: {lines[-1] if lines else ''}")
        return 1
