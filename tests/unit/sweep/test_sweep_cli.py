"""``hieros-lab sweep`` before anything runs: dry run, bad input, skip/resume decisions."""

from __future__ import annotations

import json
import shlex

import pytest

from hieros_lab import cli, config
from hieros_lab.sweep import sweep

TINY = config.GIN_DIR.parent / "experiments" / "tiny_fake.toml"


def test_dry_run_prints_every_child_command_and_creates_nothing(tmp_path, monkeypatch, capsys,
                                                                 mlflow_uri):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sweep", str(TINY), "--dry-run"]) == 0
    out = capsys.readouterr().out
    commands = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("hieros-lab train")]
    assert len(commands) == 4
    argv = shlex.split(commands[0])
    assert argv[argv.index("--run_dir") + 1] == str(tmp_path / "runs/tiny_fake/s5/default/seed0")
    assert "Trainer.seed = 0" in argv and "arm=s5" in argv and "ablation=tiny_fake" in argv
    assert "rssm/default/seed1" in out
    assert list(tmp_path.iterdir()) == []  # no runs/, no mlflow.db


def test_broken_experiment_is_one_error_before_anything_runs(tmp_path, monkeypatch, capsys,
                                                             mlflow_uri):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.read_text().replace("@s5", "@nope"))
    assert cli.main(["sweep", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "@nope" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_unreachable_ray_address_is_one_error_before_anything_runs(tmp_path, monkeypatch, capsys,
                                                                   mlflow_uri):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["sweep", str(TINY), "--ray-address", "127.0.0.1:9"])
    assert code == 2
    assert "not reachable" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_parallel_must_be_positive(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sweep", str(TINY), "--parallel", "0"]) == 2
    assert "--parallel" in capsys.readouterr().err


def test_decide_skips_finished_resumes_started_starts_the_rest(tmp_path):
    status = {"done": "FINISHED", "cut": "KILLED"}.get  # "gone": not in this store
    (tmp_path / "a").mkdir()
    assert sweep.decide(tmp_path / "a", status) == "new"
    for name, run_id in (("b", "done"), ("c", "cut"), ("d", "cut"), ("e", "gone")):
        (tmp_path / name / "checkpoints").mkdir(parents=True)
        (tmp_path / name / "run.json").write_text(json.dumps({"run_id": run_id}))
    (tmp_path / "c" / "checkpoints" / "latest").write_text("x")
    assert sweep.decide(tmp_path / "b", status) == "skip"
    assert sweep.decide(tmp_path / "c", status) == "resume"
    # killed before its first checkpoint: resumed (it starts over in its own run), not a
    # second run of the same child
    assert sweep.decide(tmp_path / "d", status) == "resume"
    assert sweep.decide(tmp_path / "e", status) == "new"  # its run is in another store


def test_train_tag_option_rejects_malformed_tags(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["train", "--gin_file", "debug.gin", "--tag", "novalue"])
    assert code == 2 and "KEY=VALUE" in capsys.readouterr().err


def test_ctrl_c_before_any_command_started_exits_130(monkeypatch, capsys):
    """Ctrl-C while a command is still importing its modules: a clean 130, no traceback."""
    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_components", interrupted)
    assert cli.main(["components"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_child_started_again_resumes_its_run_and_a_node_without_the_sweep_dir_fails(tmp_path):
    from hieros_lab.sweep import ray_runner
    from hieros_lab.sweep.runner import Job

    job = Job("a/b/seed0", ("python", "new"), tmp_path / "a" / "train.log", ("python", "resume"))
    assert job.command_now() == ("python", "new")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "run.json").write_text("{}")  # it opened its run before it was lost
    assert job.command_now() == ("python", "resume")
    with pytest.raises(ray_runner.SharedStorageError, match="shared by every Ray node"):
        ray_runner._run_child(job, str(tmp_path / "elsewhere" / "sweep.json"), {}, 1.0)


def test_children_share_the_cores_unless_the_environment_says_otherwise():
    from hieros_lab.sweep.sweep import child_threads

    assert child_threads(2, {}, 2) == ("1", "2 cores / --parallel 2")
    assert child_threads(1, {}, 2) == ("2", "2 cores / --parallel 1")
    assert child_threads(4, {}, 2) == ("1", "2 cores / --parallel 4")
    assert child_threads(1, {"OMP_NUM_THREADS": "1"}, 2) == ("1", "from the environment")
