"""Run archives end to end: a tiny sweep is exported, imported into a fresh store and run
directory (a "clone"), reported on and re-swept there without training anything again."""

from __future__ import annotations

import gzip
import json

import pytest
from mlflow.tracking import MlflowClient

from hieros_lab import cli
from hieros_lab.bench.tiny_sweep import tiny_sweep
from hieros_lab.tracking import archive

TINY = tiny_sweep("tiny", steps=40, log_every=20, episode_length=20)
ONLY = ["--only", "s5/*"]  # two children: enough for parents, children and ids to be mapped


def _runs(uri: str) -> dict[str, object]:
    """{run name: run} of experiment 'tiny' (the parent is 'sweep/tiny')."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tiny")
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def _history(uri: str, run) -> dict[str, list[tuple[int, int, float]]]:
    client = MlflowClient(tracking_uri=uri)
    return {k: sorted((m.step, m.timestamp, m.value)
                      for m in client.get_metric_history(run.info.run_id, k))
            for k in run.data.metrics}


@pytest.fixture
def swept(tmp_path, monkeypatch, mlflow_uri):
    """A finished 2-child tiny sweep in ``tmp_path/origin``, exported to ``a.jsonl.gz``."""
    origin = tmp_path / "origin"
    origin.mkdir()
    monkeypatch.chdir(origin)
    (origin / "tiny.toml").write_text(TINY)
    assert cli.main(["sweep", "tiny.toml", "--parallel", "2", *ONLY]) == 0
    assert cli.main(["archive", "export", "--experiment", "tiny", "--out", "a.jsonl.gz"]) == 0
    return origin


def test_export_import_round_trip_restores_runs_and_lets_the_sweep_skip_them(
        swept, tmp_path, monkeypatch, capsys):
    origin_uri = f"sqlite:///{tmp_path}/mlflow.db"
    before = _runs(origin_uri)
    assert set(before) == {"sweep/tiny", "s5/default/seed0", "s5/default/seed1"}
    first = (swept / "a.jsonl.gz").read_bytes()
    assert cli.main(["archive", "export", "--experiment", "tiny", "--out", "b.jsonl.gz"]) == 0
    assert (swept / "b.jsonl.gz").read_bytes() == first  # same runs, same bytes

    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "tiny.toml").write_text(TINY)
    monkeypatch.chdir(clone)
    clone_uri = f"sqlite:///{clone}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", clone_uri)
    assert cli.main(["archive", "import", str(swept / "a.jsonl.gz")]) == 0
    after = _runs(clone_uri)
    assert set(after) == set(before)
    new_parent = after["sweep/tiny"].info.run_id
    for name, old in before.items():
        new = after[name]
        assert new.info.run_id != old.info.run_id
        assert new.data.tags[archive.ARCHIVED_ID] == old.info.run_id
        assert (new.info.status, new.info.start_time, new.info.end_time) == (
            old.info.status, old.info.start_time, old.info.end_time)
        assert new.data.params == old.data.params
        assert _history(clone_uri, new) == _history(origin_uri, old)  # every point
        tags = {k: v for k, v in new.data.tags.items()
                if k not in (archive.ARCHIVED_ID, archive.COMPLETE, "mlflow.parentRunId")}
        assert tags == {k: v for k, v in old.data.tags.items() if k != "mlflow.parentRunId"}
        if name != "sweep/tiny":
            assert new.data.tags["mlflow.parentRunId"] == new_parent
            spec = json.loads((clone / "runs/tiny" / name / "run.json").read_text())
            assert spec["run_id"] == new.info.run_id and spec["parent_run_id"] == new_parent
            assert (clone / "runs/tiny" / name / "config.gin").read_text() == (
                swept / "runs/tiny" / name / "config.gin").read_text()
            texts = MlflowClient(tracking_uri=clone_uri).list_artifacts(new.info.run_id, "config")
            assert {"config/command.txt", "config/operative_config.gin"} <= {t.path for t in texts}

    capsys.readouterr()
    assert cli.main(["archive", "import", str(swept / "a.jsonl.gz")]) == 0  # idempotent
    assert "imported 0 runs (3 already in the store)" in capsys.readouterr().out
    assert len(_runs(clone_uri)) == 3
    assert cli.main(["archive", "export", "--experiment", "tiny", "--out", "c.jsonl.gz"]) == 0
    assert (clone / "c.jsonl.gz").read_bytes() == first  # the round trip changes nothing

    # The sweep in the clone trains nothing: both children are skipped as finished.
    assert cli.main(["sweep", "tiny.toml", "--parallel", "2", *ONLY]) == 0
    assert "0 to run, 2 already finished" in capsys.readouterr().out
    assert not list((clone / "runs/tiny").rglob("train.log"))
    assert cli.main(["report", "--experiment", "tiny", "--out", "rep", "--reps", "50"]) == 0
    assert "## Final score per game" in (clone / "rep" / "report.md").read_text()


def test_an_import_cut_short_is_replaced_by_the_next(swept, tmp_path, monkeypatch):
    records = archive.read_lines(swept / "a.jsonl.gz")[1]
    uri = f"sqlite:///{tmp_path}/other.db"
    real_log = archive._log
    calls = []

    def dies_on_the_second_run(tracker, run_id, record):
        calls.append(run_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_log(tracker, run_id, record)

    monkeypatch.setattr(archive, "_log", dies_on_the_second_run)
    with pytest.raises(KeyboardInterrupt):
        archive.import_records(records, uri)
    monkeypatch.setattr(archive, "_log", real_log)
    result = archive.import_records(records, uri)
    assert len(result.present) == 1 and len(result.imported) == 2  # the cut run again
    runs = _runs(uri)
    assert len(runs) == 3 and all(archive.COMPLETE in r.data.tags for r in runs.values())
    assert calls[1] not in {r.info.run_id for r in runs.values()}  # the half run is gone


def test_a_damaged_archive_is_refused_naming_file_and_line(tmp_path, monkeypatch, mlflow_uri,
                                                          capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.jsonl.gz"
    header = json.dumps({"format": archive.FORMAT, "experiments": ["x"]})
    path.write_bytes(gzip.compress(f"{header}\n{{\"run_id\": 1\n".encode()))
    assert cli.main(["archive", "import", str(path)]) == 2
    assert f"{path}:2: damaged line" in capsys.readouterr().err
    path.write_bytes(b"not gzip")
    assert cli.main(["archive", "import", str(path)]) == 2
    assert f"{path}: not a readable run archive" in capsys.readouterr().err
    path.write_bytes(gzip.compress(b'{"format": "other"}\n'))
    assert cli.main(["archive", "import", str(path)]) == 2
    assert f"{path}:1: not a {archive.FORMAT} archive" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()  # refused before any store was opened


def test_the_run_directory_names_are_the_sweeps():
    """archive_rundirs repeats these names to stay torch-free; they must not drift apart."""
    from hieros_lab.sweep import sweep
    from hieros_lab.tracking import archive_rundirs
    from hieros_lab.trainer import config_record, session

    assert archive_rundirs.RUN_FILE == session.RUN_FILE
    assert archive_rundirs.SWEEP_FILE == sweep.SWEEP_FILE
    assert archive_rundirs.CONFIG_FILE == config_record.CONFIG_FILE
