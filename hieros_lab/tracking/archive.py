"""Run archives: an experiment's finished runs as one committed file, loadable into any store.

An MLflow store is a local sqlite file, ignored by git, so a fresh clone (or a new machine)
starts with none of the runs behind a committed page. ``hieros-lab archive export`` writes
an experiment's FINISHED child runs, and the sweep parents they hang under, to a gzipped JSON
Lines file; ``hieros-lab archive import`` loads such files into the current store, so that
``hieros-lab report`` regenerates the page from them and ``hieros-lab sweep`` skips those
children instead of training them again (:mod:`hieros_lab.tracking.archive_rundirs`).

One line per run (a ``dict``): ``run_id`` (its id in the store it was first logged to, kept
through any number of export/import rounds), ``experiment``, ``run_name``, ``status``,
``start_time`` / ``end_time`` (ms), ``tags`` (the parent tag holds the parent's original id),
``params``, ``metrics`` (``{key: [[step, timestamp_ms, value], ...]}``, every logged point),
``texts`` (the run's ``config/`` text artifacts) and ``run_dir`` (its sweep run directory's
``run.json`` and ``config.gin``, when the exporting machine had them). The first line is a
header ``{"format": ..., "experiments": [...]}``. Files are byte-identical for the same runs:
sorted keys, runs ordered by start time, gzip without a timestamp.

An import is idempotent: a run whose original id is already in the store (as its own id or
in its :data:`ARCHIVED_ID` tag) is not imported again, and one that an interrupted import left
half-logged is replaced.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hieros_lab.tracking import keys
from hieros_lab.tracking.archive_rundirs import RUN_FILE
from hieros_lab.tracking.mlflow_tracker import (
    METRICS_PER_BATCH,
    PARAMS_PER_BATCH,
    PARENT_RUN_TAG,
    MlflowTracker,
    _chunks,
)
from hieros_lab.tracking.store_lock import retry_locked

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

FORMAT = "hieros_lab.run_archive/1"
#: Tag of an imported run: the id it had where it was first logged.
ARCHIVED_ID = keys.ARCHIVED_RUN_ID
#: Set on an imported run once everything of it is logged: an import cut short leaves a run
#: without it, which the next import deletes and imports again.
COMPLETE = keys.ARCHIVE_COMPLETE
#: Artifact folder whose text files travel with a run (operative config, command, ...).
TEXT_DIR = "config"
FINISHED = "FINISHED"


class ArchiveError(Exception):
    """A user-facing problem with an archive file or its experiment: one line."""


@dataclass
class ImportResult:
    """What :func:`import_archive` did: original run id -> id in this store."""

    imported: dict[str, str] = field(default_factory=dict)
    present: dict[str, str] = field(default_factory=dict)  # already in the store

    @property
    def ids(self) -> dict[str, str]:
        return {**self.present, **self.imported}


# -- reading and writing files -------------------------------------------------------------------
def write_lines(path: Path, header: dict[str, Any], records: Iterable[dict[str, Any]]) -> int:
    """Write the header and ``records`` (gzip, no timestamp); returns the number of records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        for obj in (header, *records):
            gz.write((json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode())
            count += 1
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)  # a crash mid-write never leaves half an archive under the real name
    return count - 1


def read_lines(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and run records of an archive; ArchiveError naming the file and line."""
    try:
        text = gzip.decompress(path.read_bytes()).decode()
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ArchiveError(f"{path}: not a readable run archive ({err})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            rows.append(json.loads(line))
        except ValueError as err:
            raise ArchiveError(f"{path}:{number}: damaged line ({err})") from None
    if not rows or not isinstance(rows[0], dict) or rows[0].get("format") != FORMAT:
        raise ArchiveError(f"{path}:1: not a {FORMAT} archive (header "
                           f"{str(rows[0])[:80] if rows else 'missing'})")
    for number, rec in enumerate(rows[1:], start=2):
        if not isinstance(rec, dict):
            raise ArchiveError(f"{path}:{number}: not a run record")
        missing = {"run_id", "experiment", "status", "tags"} - rec.keys()
        if missing:
            raise ArchiveError(f"{path}:{number}: run record lacks {', '.join(sorted(missing))}")
    return rows[0], rows[1:]


# -- export --------------------------------------------------------------------------------------
def original_id(run: Run) -> str:
    return run.data.tags.get(ARCHIVED_ID, run.info.run_id)


def _search_all(client: MlflowClient, experiment_id: str) -> list[Run]:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], "", max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _texts(client: MlflowClient, run: Run) -> dict[str, str]:
    """Every text artifact under ``config/`` of a run (empty if it has none or none can be
    read: artifacts are a convenience of the archive, metrics and tags are its content)."""
    import mlflow.artifacts

    # MLflow draws a progress bar per downloaded file; an export reads hundreds of small ones.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    out: dict[str, str] = {}
    try:
        listing = client.list_artifacts(run.info.run_id, TEXT_DIR)
    except Exception:
        return out
    for item in listing:
        if item.is_dir:
            continue
        try:
            out[item.path] = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{item.path}")
        except Exception:
            continue
    return out


def run_record(client: MlflowClient, experiment: str, run: Run, ids: dict[str, str],
               run_dir: Callable[[Run], dict[str, Any]]) -> dict[str, Any]:
    """One run of ``experiment`` as an archive line; ``ids`` maps store ids to original ids
    (for the parent)."""
    info, data = run.info, run.data
    tags = {k: v for k, v in data.tags.items() if k not in (ARCHIVED_ID, COMPLETE)}
    if PARENT_RUN_TAG in tags:
        tags[PARENT_RUN_TAG] = ids.get(tags[PARENT_RUN_TAG], tags[PARENT_RUN_TAG])
    metrics = {}
    for key in sorted(data.metrics):
        hist = retry_locked(lambda k=key: client.get_metric_history(info.run_id, k),
                            client.tracking_uri, f"read {key} of run {info.run_id}")
        metrics[key] = sorted([int(m.step), int(m.timestamp), float(m.value)] for m in hist)
    saved = run_dir(run)
    if RUN_FILE in saved:  # ids as in the archive, so a round trip writes the same bytes
        saved[RUN_FILE] = {**saved[RUN_FILE], "run_id": original_id(run),
                           "parent_run_id": tags.get(PARENT_RUN_TAG)}
    return {"run_id": original_id(run), "experiment": experiment, "run_name": info.run_name,
            "status": info.status, "start_time": int(info.start_time or 0),
            "end_time": int(info.end_time or 0), "tags": tags, "params": dict(data.params),
            "metrics": metrics, "texts": _texts(client, run), "run_dir": saved}


def export_experiments(client: MlflowClient, names: Sequence[str], path: Path,
                       run_dir: Callable[[Run], dict[str, Any]] = lambda run: {},
                       say: Callable[[str], None] = lambda _: None) -> int:
    """Write every FINISHED run tagged with an ``arm`` of the experiments ``names``, and the
    parent runs they hang under, to ``path``. Returns the number of runs written."""
    records = []
    for name in names:
        exp = client.get_experiment_by_name(name)
        if exp is None or exp.lifecycle_stage != "active":
            raise ArchiveError(f"no experiment named {name!r} in MLflow store "
                               f"{client.tracking_uri}")
        every = _search_all(client, exp.experiment_id)
        ids = {r.info.run_id: original_id(r) for r in every}
        children = [r for r in every if keys.ARM in r.data.tags and r.info.status == FINISHED]
        parents = {r.data.tags.get(PARENT_RUN_TAG) for r in children} - {None}
        chosen = [r for r in every if r.info.run_id in parents] + children
        if not children:
            raise ArchiveError(f"experiment {name!r} has no FINISHED runs tagged "
                               f"'{keys.ARM}' in {client.tracking_uri}")
        for run in sorted(chosen, key=lambda r: (r.info.start_time or 0, original_id(r))):
            records.append(run_record(client, name, run, ids, run_dir))
            say(f"  {name}: {run.info.run_name} ({run.info.status})")
    header = {"format": FORMAT, "experiments": list(names)}
    return write_lines(path, header, records)


# -- import --------------------------------------------------------------------------------------
def _present(client: MlflowClient, experiment_id: str) -> dict[str, str]:
    """Original id -> store id of the runs already here; a run left half-imported by an
    import that was cut short (no :data:`COMPLETE` tag) is deleted, to be imported again."""
    present = {}
    for run in _search_all(client, experiment_id):
        if ARCHIVED_ID in run.data.tags and COMPLETE not in run.data.tags:
            retry_locked(lambda r=run.info.run_id: client.delete_run(r), client.tracking_uri,
                         f"delete half-imported run {run.info.run_id}")
            continue
        present[original_id(run)] = run.info.run_id
    return present


def _log(tracker: MlflowTracker, run_id: str, record: dict[str, Any]) -> None:
    """Params, metric points and texts of ``record``, one store request per batch (each
    retried on its own while sqlite is locked, so that no point is logged twice)."""
    from mlflow.entities import Metric, Param

    client = tracker._client()
    params = [Param(k, str(v)) for k, v in sorted(record.get("params", {}).items())]
    for chunk in _chunks(params, PARAMS_PER_BATCH):
        tracker._call(f"import params of {run_id}",
                      lambda c=chunk: client.log_batch(run_id, params=list(c)))
    points = [Metric(key, value, timestamp, step)
              for key, history in sorted(record.get("metrics", {}).items())
              for step, timestamp, value in history]
    for chunk in _chunks(points, METRICS_PER_BATCH):
        tracker._call(f"import metrics of {run_id}",
                      lambda c=chunk: client.log_batch(run_id, metrics=list(c)))
    for artifact, text in sorted(record.get("texts", {}).items()):
        tracker._call(f"import {artifact} of {run_id}",
                      lambda a=artifact, t=text: client.log_text(run_id, t, a))


def _import_one(tracker: MlflowTracker, rec: dict[str, Any], tags: dict[str, str]) -> str:
    """Create one run of ``rec`` with ``tags``; :data:`COMPLETE` is set last of all."""
    client, exp_id = tracker._client(), tracker._get_experiment_id()
    what = f"import run {rec['run_id']}"
    run_id = tracker._call(what, lambda: client.create_run(
        exp_id, start_time=rec.get("start_time") or None, tags=tags,
        run_name=rec.get("run_name")).info.run_id)
    _log(tracker, run_id, rec)
    if rec["status"] != "RUNNING":  # a parent exported while its sweep ran stays RUNNING
        tracker._call(what, lambda: client.set_terminated(
            run_id, rec["status"], end_time=rec.get("end_time") or None))
    tracker._call(what, lambda: client.set_tag(run_id, COMPLETE, "1"))
    return run_id


def _parents_first(records: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from (r for r in records if PARENT_RUN_TAG not in r["tags"])
    yield from (r for r in records if PARENT_RUN_TAG in r["tags"])


def import_records(records: Sequence[dict[str, Any]], tracking_uri: str | None = None,
                   say: Callable[[str], None] = lambda _: None) -> ImportResult:
    """Create each run of ``records`` that the store lacks, with its tags, params, every metric
    point, its texts, start and end time and status; parents before children."""
    result = ImportResult()
    trackers: dict[str, MlflowTracker] = {}
    present: dict[str, dict[str, str]] = {}
    for rec in _parents_first(records):
        name = rec["experiment"]
        if name not in trackers:
            trackers[name] = MlflowTracker(tracking_uri=tracking_uri, experiment=name,
                                           system_metrics="off")
            trackers[name].check()
        tracker = trackers[name]
        client, exp_id = tracker._client(), tracker._get_experiment_id()
        if name not in present:
            present[name] = _present(client, exp_id)
        if rec["run_id"] in present[name]:
            result.present[rec["run_id"]] = present[name][rec["run_id"]]
            continue
        tags = {**rec["tags"], ARCHIVED_ID: rec["run_id"]}
        if PARENT_RUN_TAG in tags:
            parent = result.ids.get(tags[PARENT_RUN_TAG])
            if parent is None:  # a child whose parent is not in the archive: keep it flat
                del tags[PARENT_RUN_TAG]
            else:
                tags[PARENT_RUN_TAG] = parent
        run_id = _import_one(tracker, rec, tags)
        result.imported[rec["run_id"]] = run_id
        present[name][rec["run_id"]] = run_id
        say(f"  {name}: {rec.get('run_name')} -> {run_id}")
    return result
