"""Sweep bookkeeping: one sweep of a file at a time, the records of an ``--only`` sweep, and
the pace each ended child reports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from hieros_lab import cli, config
from hieros_lab.config import ConfigError
from hieros_lab.sweep import experiment
from hieros_lab.sweep.runner import Job
from hieros_lab.sweep.sweep import SWEEP_FILE, Sweep, sweep_lock
from hieros_lab.trainer.run_lock import LOCK_FILE

TINY = config.GIN_DIR.parent / "experiments" / "tiny_fake.toml"
HOLD = ("import sys, time; from pathlib import Path\n"
        "from hieros_lab.sweep.sweep import sweep_lock\n"
        "with sweep_lock(Path(sys.argv[1]), 'x.toml'):\n"
        "    print('held', flush=True); time.sleep(60)\n")


def test_a_second_sweep_of_one_file_is_refused_before_it_runs_anything(tmp_path, monkeypatch,
                                                                       capsys, mlflow_uri):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "runs" / "tiny_fake"
    with sweep_lock(root, TINY):
        assert cli.main(["sweep", str(TINY)]) == 2
    err = capsys.readouterr().err
    assert "tiny_fake.toml" in err and "another sweep of this experiment is running" in err
    assert f"pid {__import__('os').getpid()}" in err and str(root / LOCK_FILE) in err
    assert sorted(p.name for p in root.iterdir()) == [LOCK_FILE]  # no sweep.json, no children
    assert MlflowClient(mlflow_uri).search_experiments(filter_string="name = 'tiny_fake'") == []


def test_the_lock_is_free_again_after_its_holder_ends_or_dies(tmp_path):
    with sweep_lock(tmp_path, "a.toml"):
        pass
    with sweep_lock(tmp_path, "a.toml"):  # released on a normal exit
        pass
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=rf"b.toml: .*\(pid {holder.pid}, lock "):
            with sweep_lock(tmp_path, "b.toml"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with sweep_lock(tmp_path, "b.toml"):  # a killed holder leaves no stale lock
        pass


def test_a_sweep_of_some_children_keeps_the_records_of_the_others(tmp_path, mlflow_uri):
    exp = experiment.load(TINY)
    old = {"parent_run_id": "p", "children": {
        "rssm/default/seed1": {"status": "FINISHED", "run_id": "r1"},
        "s5/default/seed0": {"status": "KILLED", "run_id": "old"}}}
    (tmp_path / SWEEP_FILE).write_text(json.dumps(old))
    sweep = Sweep(exp, tmp_path, print, only=["s5/*/seed0"])
    sweep.statuses["s5/default/seed0"] = "FINISHED"
    sweep.save_state()
    children = json.loads((tmp_path / SWEEP_FILE).read_text())["children"]
    assert children == {"rssm/default/seed1": {"status": "FINISHED", "run_id": "r1"},
                        "s5/default/seed0": {"status": "FINISHED", "run_id": None}}


def test_each_ended_child_reports_the_time_so_far_and_an_estimate_of_what_is_left(tmp_path,
                                                                                  mlflow_uri):
    exp = experiment.load(TINY)
    lines: list[str] = []
    sweep = Sweep(exp, tmp_path, lines.append)
    now = [100.0]
    sweep.clock = lambda: now[0]
    for key in sweep.by_key:  # 4 children, none run yet (what jobs() would make)
        sweep.statuses[key] = "PENDING"
    sweep.began = sweep.clock()
    keys = list(sweep.by_key)
    now[0] += 600  # two children end together after 10 minutes (--parallel 2)
    sweep.on_done(Job(keys[0], ("x",), tmp_path / "a.log"), 0)
    sweep.on_done(Job(keys[1], ("x",), tmp_path / "b.log"), 0)
    assert lines[0].endswith("; 10 min so far, about 30 min left")  # 10 min per child, 3 left
    assert lines[1].endswith("; 10 min so far, about 10 min left")  # 2 in 10 min, 2 left
    now[0] += 600
    sweep.on_done(Job(keys[2], ("x",), tmp_path / "c.log"), 0)
    sweep.on_done(Job(keys[3], ("x",), tmp_path / "d.log"), 0)
    assert lines[3].startswith("[4/4] FINISHED") and lines[3].endswith("; 20 min so far")
