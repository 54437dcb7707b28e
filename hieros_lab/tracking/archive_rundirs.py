"""The sweep's side of a run archive: run directories, so a sweep skips imported children.

``hieros-lab sweep`` decides skip / resume / new from a child's ``runs/<experiment>/<key>/
run.json`` and the status of the MLflow run it names (:func:`hieros_lab.sweep.sweep.decide`).
An export therefore carries each child's ``run.json`` and ``config.gin`` (the parsed config
it started with), and an import writes them back with the run's id in this store. A sweep of
the same file then skips those children, and refuses (naming the first changed binding) if
the files now parse to another config, exactly as for a child that ran on this machine.

An existing ``run.json`` is never overwritten: this machine's own record of a child wins.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hieros_lab.tracking import keys
from hieros_lab.tracking.mlflow_tracker import PARENT_RUN_TAG

if TYPE_CHECKING:
    from mlflow.entities import Run

# The run directory's files, defined by trainer/session.py, trainer/config_record.py and
# sweep/sweep.py. tracking sits below both in the import layers (tests/unit/
# test_import_layers.py) and must not import torch for an import, so the names are repeated
# here; tests/integration/test_archive.py checks that they match.
RUN_FILE = "run.json"
CONFIG_FILE = "config.gin"
SWEEP_FILE = "sweep.json"
SWEEP_TAGS = (keys.ABLATION, keys.ARM, keys.GAME, keys.SEED)


def child_dir(runs_dir: Path, tags: dict[str, str]) -> Path | None:
    """``runs_dir/<ablation>/<arm>/<game>/seed<k>`` of a sweep child, None for other runs."""
    if not all(t in tags for t in SWEEP_TAGS):
        return None
    return runs_dir / tags[keys.ABLATION] / tags[keys.ARM] / tags[keys.GAME] / \
        f"seed{tags[keys.SEED]}"


def reader(runs_dir: Path) -> Callable[[Run], dict[str, Any]]:
    """For an export: a run's ``run.json`` and ``config.gin`` when ``runs_dir`` holds the
    directory that recorded this very run (same run id), else nothing."""

    def read(run: Run) -> dict[str, Any]:
        path = child_dir(runs_dir, dict(run.data.tags))
        if path is None:
            return {}
        try:
            spec = json.loads((path / RUN_FILE).read_text())
        except (OSError, ValueError):
            return {}
        if spec.get("run_id") != run.info.run_id:
            return {}
        out: dict[str, Any] = {RUN_FILE: spec}
        if (path / CONFIG_FILE).is_file():
            out[CONFIG_FILE] = (path / CONFIG_FILE).read_text()
        return out

    return read


def restore(records: Sequence[dict[str, Any]], ids: dict[str, str], runs_dir: Path,
            tracking_uri: str, say: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Write the run directory of every FINISHED sweep child of ``records`` that carries one
    and has none here yet, pointing at its run in this store (``ids``: original -> store id);
    and each experiment's ``sweep.json`` if missing, naming the parent most children share.
    Returns the directories written."""
    written: list[Path] = []
    parents: dict[str, Counter[str]] = {}
    for rec in records:
        path = child_dir(runs_dir, rec["tags"])
        saved = rec.get("run_dir") or {}
        if path is None or rec["status"] != "FINISHED" or RUN_FILE not in saved:
            continue
        parent = ids.get(rec["tags"].get(PARENT_RUN_TAG, ""))
        if parent is not None:
            parents.setdefault(rec["tags"][keys.ABLATION], Counter())[parent] += 1
        if (path / RUN_FILE).exists():
            say(f"  kept {path / RUN_FILE} (this machine's own record)")
            continue
        spec = {**saved[RUN_FILE], "run_id": ids[rec["run_id"]], "parent_run_id": parent}
        path.mkdir(parents=True, exist_ok=True)
        if CONFIG_FILE in saved:
            (path / CONFIG_FILE).write_text(saved[CONFIG_FILE])
        (path / RUN_FILE).write_text(json.dumps(spec, indent=2))
        written.append(path)
    for experiment, counts in parents.items():
        sweep_file = runs_dir / experiment / SWEEP_FILE
        if sweep_file.exists():
            continue
        state = {"experiment": experiment, "tracking_uri": tracking_uri,
                 "parent_run_id": counts.most_common(1)[0][0], "children": {}}
        sweep_file.write_text(json.dumps(state, indent=2) + "\n")
    return written
