"""Reading sweep runs from MLflow for a report: which runs, their final scores, their curves.

All MLflow I/O of the report lives here (DESIGN §4 conventions: child runs tagged ``ablation``,
``arm``, ``game``, ``seed`` and nested under a sweep's parent run via ``mlflow.parentRunId``;
metrics at step = env steps). The final score is the last logged ``eval/score`` (DESIGN §5: the
mean over evaluation episodes at the final step, which ``Trainer.fit`` always logs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hieros_lab.tracking import keys
from hieros_lab.tracking.mlflow_tracker import (
    DEFAULT_DB,
    PARENT_RUN_TAG,
    _quiet_store_setup,
    sqlite_db_path,
)
from hieros_lab.tracking.store_lock import open_store, retry_locked

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

FINISHED = "FINISHED"
_PAGE = 1000


class ReportError(Exception):
    """A user-facing problem (unknown experiment or run, no runs, missing store): one line."""


@dataclass(frozen=True)
class Source:
    """What a report is about: a name, experiments to search, and the sweep's parent run if any."""

    name: str
    experiment_ids: tuple[str, ...]
    parent_run_id: str | None


@dataclass(frozen=True)
class RunRecord:
    """One child run: its tags, status, final score (None if it logged no ``eval/score``)."""

    run_id: str
    arm: str
    game: str
    seed: str
    status: str
    final_score: float | None
    parent_run_id: str | None
    start_time: int
    end_time: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)  # every tag of the run
    metrics: Mapping[str, float] = field(default_factory=dict)  # latest value of each metric

    @property
    def first_id(self) -> str:
        """The id the run was first logged under: its own, or for a run imported from an
        archive the one in :data:`keys.ARCHIVED_RUN_ID` (stable across stores)."""
        return self.tags.get(keys.ARCHIVED_RUN_ID, self.run_id)


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the cwd (DESIGN §4)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def open_client(uri: str | None = None) -> MlflowClient:
    """A client on ``uri``; a sqlite store must already exist (a report never creates one)."""
    from mlflow.tracking import MlflowClient

    uri = uri or tracking_uri()
    db = sqlite_db_path(uri) if uri.startswith("sqlite:") else None
    if db is not None and not db.is_file():
        raise ReportError(f"no MLflow store at {db} (set MLFLOW_TRACKING_URI or run where "
                          f"{DEFAULT_DB} is)")
    with _quiet_store_setup():
        client = open_store(uri, db, lambda: MlflowClient(tracking_uri=uri))
    return RetryingClient(client, uri)  # type: ignore[return-value]


class RetryingClient:
    """An MlflowClient whose calls are retried while sqlite is locked: a report may read a
    store that a running sweep writes to (tracking/store_lock.py)."""

    def __init__(self, client: MlflowClient, uri: str) -> None:
        self._client, self._uri = client, uri

    @property
    def tracking_uri(self) -> str:
        return self._client.tracking_uri

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            return retry_locked(lambda: attr(*args, **kwargs), self._uri, name)

        return call


def resolve_source(client: MlflowClient, experiment: str | None = None,
                   run_id: str | None = None) -> Source:
    """The runs to report on: all of ``experiment`` (name), or the children of parent ``run_id``."""
    from mlflow.exceptions import MlflowException

    if run_id is not None:
        try:
            parent = client.get_run(run_id)
        except MlflowException as err:
            raise ReportError(f"no run {run_id!r} in MLflow store {client.tracking_uri}") from err
        name = parent.info.run_name or run_id
        return Source(name, (parent.info.experiment_id,), run_id)
    if experiment is None:
        raise ReportError("give --experiment NAME or --run PARENT_RUN_ID")
    exp = client.get_experiment_by_name(experiment)
    if exp is None or exp.lifecycle_stage == "deleted":
        raise ReportError(f"no experiment named {experiment!r} in MLflow store "
                          f"{client.tracking_uri}")
    return Source(experiment, (exp.experiment_id,), None)


def _search(client: MlflowClient, source: Source) -> list[Run]:
    filt = "" if source.parent_run_id is None else (
        f"tags.`{PARENT_RUN_TAG}` = '{source.parent_run_id}'")
    runs, token = [], None
    while True:
        page = client.search_runs(list(source.experiment_ids), filt, max_results=_PAGE,
                                  page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _record(run: Run) -> RunRecord:
    tags = run.data.tags
    score = run.data.metrics.get(keys.EVAL_SCORE)  # latest value = value at the largest step
    return RunRecord(run.info.run_id, tags[keys.ARM], tags.get(keys.GAME, "?"),
                     tags.get(keys.SEED, "?"), run.info.status,
                     None if score is None else float(score), tags.get(PARENT_RUN_TAG),
                     int(run.info.start_time or 0), int(run.info.end_time or 0), dict(tags),
                     dict(run.data.metrics))


def fetch_records(client: MlflowClient, source: Source) -> list[RunRecord]:
    """Every run of ``source`` tagged with an ``arm`` (whatever its status)."""
    records = [_record(r) for r in _search(client, source) if keys.ARM in r.data.tags]
    if not records:
        where = (f"under parent run {source.parent_run_id}" if source.parent_run_id
                 else f"in experiment {source.name!r}")
        raise ReportError(f"no runs tagged '{keys.ARM}' {where}")
    return records


def sweep_parent(records: list[RunRecord]) -> str | None:
    """The one parent run all ``records`` share, else None (nowhere to log the report)."""
    parents = {r.parent_run_id for r in records}
    return parents.pop() if len(parents) == 1 else None


def fetch_curve(client: MlflowClient, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """History of metric ``key``: (steps, values), ``(P,)`` each, sorted by step."""
    hist = client.get_metric_history(run_id, key)
    steps = np.array([m.step for m in hist], dtype=float)
    values = np.array([m.value for m in hist], dtype=float)
    order = np.argsort(steps, kind="stable")
    return steps[order], values[order]


def log_report(client: MlflowClient, run_id: str, out_dir: Path) -> None:
    """Attach every file of ``out_dir`` to run ``run_id`` under ``report/``."""
    client.log_artifacts(run_id, str(out_dir), artifact_path="report")
