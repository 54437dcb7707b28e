"""A run imported from an archive is reported under the id it was first logged with, so that
``runs.csv`` does not change when the same runs are loaded into another store."""

from __future__ import annotations

from types import SimpleNamespace

from hieros_lab.analysis import suite
from hieros_lab.analysis.runs import RunRecord
from hieros_lab.tracking import keys


def _record(tags: dict[str, str]) -> RunRecord:
    return RunRecord("store-id", "arm", "task", "0", "FINISHED", 1.5, None, 0, 1000,
                     tags={keys.ARM: "arm", **tags}, metrics={keys.WALL_S: 2.0})


def test_rows_carry_the_first_id_of_an_imported_run():
    exp = SimpleNamespace(name="validation_x")
    imported = suite._row(exp, _record({keys.ARCHIVED_RUN_ID: "first-id"}), 100)
    assert imported.run_id == "first-id"
    native = suite._row(exp, _record({}), 100)
    assert native.run_id == "store-id"
