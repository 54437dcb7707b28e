"""MlflowTracker: the Tracker protocol on an explicit ``MlflowClient`` (no fluent global run).

Store: ``tracking_uri`` if given, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in
the working directory (MLflow's own default; DESIGN.md §4). :meth:`MlflowTracker.check` proves the
store usable before any training, so a typo in a path or a dead server costs seconds, not a run.
For a sqlite store the artifacts go next to the database (``<db dir>/mlartifacts/<experiment>``)
whatever the working directory, so a store directory holds its whole history.
Runs may share a sqlite store: it is created by one process at a time and requests that find
it locked are retried (store_lock.py).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlparse

import numpy as np

from hieros_lab.registry import register
from hieros_lab.tracking import keys
from hieros_lab.tracking.base import (
    TrackerError,
    check_image,
    check_status,
    prepare_params,
    prepare_tags,
    sanitize_key,
    split_finite,
)
from hieros_lab.tracking.store_checks import (  # noqa: F401  (sqlite_db_path: re-exported)
    _quiet_store_setup,
    dir_problem,
    http_problem,
    sqlite_db_path,
    sqlite_problem,
)
from hieros_lab.tracking.store_lock import open_store, retry_locked
from hieros_lab.tracking.system_metrics import SystemMetrics

if TYPE_CHECKING:  # mlflow is imported on first use: importing it costs seconds
    from mlflow.tracking import MlflowClient

DEFAULT_DB = "mlflow.db"
PARAMS_PER_BATCH = 100  # MLflow's MAX_PARAMS_TAGS_PER_BATCH
METRICS_PER_BATCH = 1000  # MLflow's MAX_METRICS_PER_BATCH
PARENT_RUN_TAG = "mlflow.parentRunId"  # how MLflow's UI nests child runs

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _one_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


#: Query of the UI links: MLflow 3.17's UI takes the view (GenAI or model training) from it.
UI_VIEW = "workflowType=machine_learning"


@register("tracker", "mlflow")
class MlflowTracker:
    """Logs one run at a time to an MLflow tracking store (sqlite file or ``mlflow server``).

    Args:
        tracking_uri: store URI; default ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db`` in the
            working directory.
        experiment: experiment name (created on first use, marked as a model-training
            experiment so that MLflow 3's UI opens it on the runs table, not the GenAI views).
        system_metrics: MLflow's CPU/memory/disk/network (and GPU) charts: ``auto`` once a
            run has been going ``system_metrics_after_s`` seconds, ``on`` from its start, or
            ``off`` (:mod:`hieros_lab.tracking.system_metrics`).
        system_metrics_after_s: wall time after which ``auto`` starts sampling.
        system_metrics_every_s: seconds between samples.

    The client is created once, lazily (opening a new sqlite store runs MLflow's migrations,
    seconds), so constructing a tracker is free and never fails.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = "hieros_lab",
                 system_metrics: str = "auto", system_metrics_after_s: float = 300.0,
                 system_metrics_every_s: float = 10.0) -> None:
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        # Resolve the default now: a later chdir must not move the store.
        self.tracking_uri = uri or f"sqlite:///{Path.cwd() / DEFAULT_DB}"
        self.experiment = experiment
        self._client_obj: MlflowClient | None = None
        self._experiment_id: str | None = None
        self._run_id: str | None = None
        self._running = False
        self._skipped: dict[str, int] = {}
        self._system = SystemMetrics(system_metrics, system_metrics_after_s,
                                     system_metrics_every_s)

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def skipped_nonfinite(self) -> dict[str, int]:
        return dict(self._skipped)

    @property
    def scheme(self) -> str:
        return urlparse(self.tracking_uri).scheme

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn any store failure into a one-line TrackerError naming the store."""
        try:
            yield
        except TrackerError:
            raise
        except Exception as err:
            raise TrackerError(f"MLflow store {self.tracking_uri}: cannot {action}: "
                               f"{_one_line(err)}") from err

    def _call(self, action: str, op: Callable[[], T]) -> T:
        """``op()`` (one store request), retried while sqlite is locked by another run; any
        failure becomes a one-line TrackerError naming the store."""
        with self._guard(action):
            return retry_locked(op, self.tracking_uri, action)

    def _client(self) -> MlflowClient:
        if self._client_obj is None:
            from mlflow.tracking import MlflowClient

            uri = self.tracking_uri
            db = sqlite_db_path(uri) if self.scheme == "sqlite" else None
            if db is not None:  # import it (~0.6 s) before the lock, not while others wait
                import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
            # Locked: runs started together on a new store must not all migrate it at once.
            with self._guard("open the store"), _quiet_store_setup():
                self._client_obj = open_store(uri, db, lambda: MlflowClient(tracking_uri=uri))
        return self._client_obj

    def _fail(self, reason: str) -> TrackerError:
        return TrackerError(f"MLflow store {self.tracking_uri} is not usable: {reason}")

    def _run(self) -> str:
        if not self._running or self._run_id is None:
            raise TrackerError(f"MLflow store {self.tracking_uri}: no running run; "
                               "call start() first")
        return self._run_id

    def _sqlite_artifact_root(self) -> Path | None:
        db = sqlite_db_path(self.tracking_uri) if self.scheme == "sqlite" else None
        if db is None:
            return None
        safe = re.sub(r"[^\w.-]", "_", self.experiment)
        return db.resolve().parent / "mlartifacts" / safe

    # -- checks ---------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise TrackerError (one line: URI + reason) unless runs and artifacts can be written.

        sqlite: the database file and its directory are writable and the database opens
        (creating it runs the migrations). Server: it answers ``/health``. Then the experiment
        is looked up (it must not be deleted) and a local artifact location must be writable."""
        if self.scheme == "sqlite" and (db := sqlite_db_path(self.tracking_uri)) is not None:
            if (problem := sqlite_problem(db)) is not None:
                raise self._fail(problem)
        if self.scheme in ("http", "https"):
            if (problem := http_problem(self.tracking_uri)) is not None:
                raise self._fail(problem)
        client = self._client()
        exp = self._call(f"read experiment {self.experiment!r}",
                         lambda: client.get_experiment_by_name(self.experiment))
        if exp is not None and exp.lifecycle_stage != "active":
            raise self._fail(f"experiment {self.experiment!r} is deleted (restore it with "
                             "`mlflow experiments restore` or choose another name)")
        location = self._sqlite_artifact_root() if exp is None else exp.artifact_location
        if location is not None and urlparse(str(location)).scheme in ("", "file"):
            local = Path(unquote(urlparse(str(location)).path))
            if (problem := dir_problem(local)) is not None:
                raise self._fail(f"artifact location: {problem}")

    def _get_experiment_id(self) -> str:
        """The experiment's id, created if missing. Race-free: when another process creates
        it between our read and our create, the create is refused and the winner's is read."""
        if self._experiment_id is not None:
            return self._experiment_id
        client, name = self._client(), self.experiment
        action = f"open experiment {name!r}"
        exp = self._call(action, lambda: client.get_experiment_by_name(name))
        if exp is None:
            root = self._sqlite_artifact_root()
            created = self._call(action, lambda: _create_experiment(client, name, root))
            if created is not None:
                self._experiment_id = created
                return created
            exp = self._call(action, lambda: client.get_experiment_by_name(name))
        if exp is None or exp.lifecycle_stage != "active":
            raise self._fail(f"experiment {name!r} is deleted")
        if keys.EXPERIMENT_KIND not in exp.tags:  # made elsewhere; a kind set there is kept
            exp_id = exp.experiment_id
            self._call(action, lambda: client.set_experiment_tag(
                exp_id, keys.EXPERIMENT_KIND, keys.MODEL_TRAINING))
        self._experiment_id = exp.experiment_id
        return self._experiment_id

    # -- the run --------------------------------------------------------------------------------
    def start(self, run_name: str, run_id: str | None = None,
              parent_run_id: str | None = None) -> str:
        """New run in the experiment (child of ``parent_run_id`` if given), or resume ``run_id``:
        same id, status RUNNING again, metrics continue at later steps."""
        if self._running:
            raise TrackerError(f"MLflow store {self.tracking_uri}: run {self._run_id} is still "
                               "running; end() it first")
        client = self._client()
        if run_id is None:
            experiment_id = self._get_experiment_id()
            tags = {PARENT_RUN_TAG: parent_run_id} if parent_run_id else {}
            run_id = self._call(f"create run {run_name!r}", lambda: client.create_run(
                experiment_id, tags=tags, run_name=run_name).info.run_id)
        else:
            resumed = run_id
            self._call(f"resume run {resumed}", lambda: client.get_run(resumed))
            self._call(f"resume run {resumed}",
                       lambda: client.update_run(resumed, status="RUNNING"))
        self._run_id, self._running = run_id, True
        self._system.start(run_id, self.tracking_uri)
        return run_id

    # -- other runs of the store (a sweep's parent keeping its children's books) ---------------
    def status_of(self, run_id: str) -> str | None:
        """Status of any run of this store; None only when the store has no such run. Other
        failures (store away, still locked after the retries) raise TrackerError: a caller
        that took them for "no such run" would start a second run of the same child."""
        from mlflow.exceptions import MlflowException

        client = self._client()
        try:
            return retry_locked(lambda: client.get_run(run_id).info.status, self.tracking_uri,
                                f"read run {run_id}")
        except MlflowException as err:
            if err.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise TrackerError(f"MLflow store {self.tracking_uri}: cannot read run {run_id}: "
                               f"{_one_line(err)}") from err
        except Exception as err:
            raise TrackerError(f"MLflow store {self.tracking_uri}: cannot read run {run_id}: "
                               f"{_one_line(err)}") from err

    def write_text_to(self, run_id: str, text: str, artifact_file: str) -> None:
        client = self._client()
        self._call(f"write {artifact_file} of run {run_id}",
                   lambda: client.log_text(run_id, text, artifact_file))

    def terminate(self, run_id: str, status: str) -> None:
        """End another run of this store (one whose process died without ending it)."""
        check_status(status)
        client = self._client()
        self._call(f"end run {run_id}", lambda: client.set_terminated(run_id, status=status))

    def ui_link(self, run_id: str | None = None) -> str:
        """Where to look at the experiment's runs table (or at ``run_id``) in MLflow's UI: a URL
        on a server; for a sqlite store, the ``mlflow ui`` command and the page's path. The link
        asks for the "Model training" view: MLflow 3.17's UI opens every experiment in its GenAI
        view (Traces, Judges) unless the URL or the browser's last choice says otherwise."""
        page = f"#/experiments/{self._get_experiment_id()}"
        page += f"/runs/{run_id}" if run_id else "/runs"
        page += f"?{UI_VIEW}"
        if self.scheme in ("http", "https"):
            return f"{self.tracking_uri.rstrip('/')}/{page}"
        return f"`mlflow ui --backend-store-uri {self.tracking_uri}`, then open /{page}"

    def _log_batch(self, action: str, run_id: str, **batch: Any) -> None:
        """One ``log_batch`` request; retried alone, so chunks already stored are not resent."""
        client = self._client()
        self._call(action, lambda: client.log_batch(run_id, synchronous=True, **batch))

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        run_id = self._run()
        items = [Param(k, v) for k, v in prepare_params(params).items()]
        for chunk in _chunks(items, PARAMS_PER_BATCH):
            self._log_batch("log params", run_id, params=chunk)

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        run_id = self._run()
        items = [RunTag(k, v) for k, v in prepare_tags(tags).items()]
        for chunk in _chunks(items, PARAMS_PER_BATCH):
            self._log_batch("set tags", run_id, tags=chunk)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Finite values go out in ``log_batch`` calls; NaN/inf are counted in
        :attr:`skipped_nonfinite` (MLflow stores them but cannot plot them)."""
        from mlflow.entities import Metric

        run_id = self._run()
        finite, skipped = split_finite(metrics)
        for key in skipped:
            self._skipped[key] = self._skipped.get(key, 0) + 1
        now_ms = int(time.time() * 1000)
        items = [Metric(k, v, now_ms, int(step)) for k, v in finite.items()]
        for chunk in _chunks(items, METRICS_PER_BATCH):
            self._log_batch(f"log metrics at step {step}", run_id, metrics=chunk)

    def last_steps(self, keys: list[str]) -> dict[str, int]:
        """One metric-history query per key (only a resume asks)."""
        run_id, client = self._run(), self._client()
        out = {}
        for key in keys:
            history = self._call(f"read the history of {key}",
                                 lambda k=key: client.get_metric_history(run_id, sanitize_key(k)))
            if history:
                out[key] = max(m.step for m in history)
        return out

    def log_text(self, text: str, artifact_file: str) -> None:
        run_id, client = self._run(), self._client()
        self._call(f"write artifact {artifact_file}",
                   lambda: client.log_text(run_id, text, artifact_file))

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None:
        """Copy a file, or a directory's contents, under ``artifact_dir`` (None: the root)."""
        run_id, client = self._run(), self._client()
        path = Path(local_path)
        if not path.exists():
            raise FileNotFoundError(f"cannot log {path}: no such file or directory")
        copy = client.log_artifacts if path.is_dir() else client.log_artifact
        self._call(f"copy {path} into the artifacts",
                   lambda: copy(run_id, str(path), artifact_dir))

    def log_image(self, image: np.ndarray, artifact_file: str) -> None:
        run_id, client = self._run(), self._client()
        check_image(image)
        self._call(f"write image {artifact_file}",
                   lambda: client.log_image(run_id, image, artifact_file=artifact_file))

    def end(self, status: str) -> None:
        """Set the terminal status (FINISHED/FAILED/KILLED); a no-op when no run is running."""
        check_status(status)
        if not self._running or self._run_id is None:
            return
        run_id, client = self._run_id, self._client()
        self._system.stop()  # its last samples go out while the run is still RUNNING
        self._call(f"end run {run_id}", lambda: client.set_terminated(run_id, status=status))
        self._running = False


def _create_experiment(client: MlflowClient, name: str, root: Path | None) -> str | None:
    """The new experiment's id, or None if one of that name exists already (created by
    another process since we looked)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.create_experiment(name, artifact_location=str(root) if root else None,
                                        tags={keys.EXPERIMENT_KIND: keys.MODEL_TRAINING})
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return None
