"""End to end: train on the fake env with each sequence model and check the MLflow run."""

from __future__ import annotations

import json

import pytest
import torch


@pytest.mark.parametrize("sequence", ["s5", "rssm"])
def test_train_logs_a_complete_mlflow_run(train, client, only_run, sequence):
    code, run_dir = train(f"WorldModel.sequence = @{sequence}", "Trainer.steps = 120")
    assert code == 0
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.info.run_name == f"debug-{sequence}-fake-seed0"  # what it is, not a timestamp
    tags = run.data.tags
    assert tags["component.sequence"] == sequence
    assert tags["component.sampler"] == "uniform"
    assert tags["component.env"] == "fake"
    assert tags["component.tracker"] == "mlflow"
    assert tags["hierarchy.levels"] == "1" and tags["seed"] == "0"
    # the machine the numbers come from: results are exact only on the same CPU capability
    assert tags["host.cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert tags["host.torch"] == torch.__version__ and tags["host.cpu"]
    params = run.data.params
    assert params["Trainer.steps"] == "120" and params["Agent.batch_size"] == "4"
    metrics = run.data.metrics
    for key in ("episode/score", "eval/score", "level0/world_model/loss", "level0/world_model/kl",
                "level0/behavior/actor_loss", "replay/size", "perf/updates_per_s"):
        assert key in metrics, key
    history = client.get_metric_history(run.info.run_id, "eval/score")
    assert [m.step for m in history] == [100, 120]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "config")}
    assert {"config/operative_config.gin", "config/command.txt"} <= artifacts
    record = json.loads((run_dir / "run.json").read_text())
    assert record["run_id"] == run.info.run_id


def test_resume_continues_the_same_run(train, client, only_run):
    code, run_dir = train("Trainer.steps = 100")
    assert code == 0
    first = only_run()
    updates_before = client.get_metric_history(first.info.run_id, "perf/updates")[-1].value
    code, _ = train("Trainer.steps = 150", resume=True)
    assert code == 0
    run = only_run()
    assert run.info.run_id == first.info.run_id and run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "eval/score")]
    assert steps == [100, 150]  # final eval of part one, then that of the resumed run
    updates = client.get_metric_history(run.info.run_id, "perf/updates")
    assert updates[-1].step == 150 and updates[-1].value > updates_before


def test_resume_of_a_finished_run_leaves_it_alone(train, client, only_run, capsys):
    code, _ = train("Trainer.steps = 60")
    assert code == 0
    before = only_run()
    evals = client.get_metric_history(before.info.run_id, "eval/score")
    capsys.readouterr()
    code, _ = train(resume=True)
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "finished" in out[0] and "Trainer.steps" in out[0], out
    run = only_run()
    assert run.info.status == "FINISHED" and run.info.end_time == before.info.end_time
    assert client.get_metric_history(run.info.run_id, "eval/score") == evals
    code, _ = train("Trainer.steps = 80", resume=True)  # a raised budget still trains on
    assert code == 0
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "eval/score")]
    assert steps == [60, 80] and only_run().info.status == "FINISHED"


def test_resume_after_a_kill_in_the_final_evaluation_evaluates(train, client, only_run,
                                                                monkeypatch):
    """The checkpoint is at Trainer.steps, but the run has no final score: not finished."""
    from hieros_lab.trainer.loop import Trainer

    original = Trainer.run_eval

    def killed_in_final_eval(self, tracker, stop=None):
        if self.step == self.steps:
            raise KeyboardInterrupt
        return original(self, tracker, stop)

    monkeypatch.setattr(Trainer, "run_eval", killed_in_final_eval)
    code, _ = train("Trainer.steps = 60")
    assert code == 130 and only_run().info.status == "KILLED"
    monkeypatch.setattr(Trainer, "run_eval", original)
    code, _ = train(resume=True)
    assert code == 0
    run = only_run()
    assert run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "eval/score")] == [60]


def test_failure_marks_run_failed_with_traceback(train, client, only_run, monkeypatch):
    from hieros_lab.hierarchy.agent import Agent

    def boom(self):
        raise RuntimeError("synthetic failure in training")

    monkeypatch.setattr(Agent, "train", boom)
    code, _ = train()
    assert code == 1
    run = only_run()
    assert run.info.status == "FAILED"
    paths = {a.path for a in client.list_artifacts(run.info.run_id, "error")}
    assert "error/traceback.txt" in paths


def test_interrupt_marks_run_killed_and_is_resumable(train, client, only_run, monkeypatch):
    from hieros_lab.hierarchy.agent import Agent

    original, calls = Agent.train, {"n": 0}

    def interrupt_later(self):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Agent, "train", interrupt_later)
    code, run_dir = train("Trainer.checkpoint_every = 0")
    assert code == 130
    assert only_run().info.status == "KILLED"
    assert (run_dir / "checkpoints" / "latest").is_file()
    monkeypatch.setattr(Agent, "train", original)
    code, _ = train(resume=True)
    assert code == 0 and only_run().info.status == "FINISHED"


@pytest.mark.parametrize("binding, needle", [
    ("Trainer.env = @atari", None),
    ("WorldModel.sequence = @s6", "@s6"),
    ("Trainer.steps = 'x'", "Trainer.steps"),
    # Settings under which the agent never trains (debug.gin: 4 windows of 16 steps = 19 steps).
    ("Trainer.train_ratio = 0.0", "Trainer.train_ratio"),
    ("Trainer.train_ratio = -1.0", "Trainer.train_ratio"),
    ("Trainer.steps = 18", "Trainer.steps"),
    ("ReplayBuffer.capacity = 18", "ReplayBuffer.capacity"),
])
def test_bad_input_exits_before_any_run(train, client, only_run, capsys, binding, needle):
    extra = ("atari.game = 'NotAGame'",) if "atari" in binding else ()
    code, _ = train(binding, *extra)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and (needle or "NotAGame") in err[0]
    exp = client.get_experiment_by_name("hieros_lab")
    assert exp is None or not client.search_runs([exp.experiment_id])


def test_the_shortest_accepted_run_trains_once(train, client, only_run):
    """The bound of the check above is exact: 19 env steps give level 0 its first update."""
    code, _ = train("Trainer.steps = 19", "Trainer.log_every = 19")
    assert code == 0
    updates = client.get_metric_history(only_run().info.run_id, "perf/updates")
    assert [(m.step, m.value) for m in updates] == [(19, 1.0)]


def test_unwritable_tracking_store_is_named(train, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/mlflow.db")
    code, _ = train()
    assert code == 2
    assert str(blocker) in capsys.readouterr().err


def test_corrupted_checkpoint_is_named(train, capsys):
    code, run_dir = train("Trainer.steps = 60")
    assert code == 0
    latest = run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()
    (latest / "state.pt").write_bytes(b"garbage")
    code, _ = train("Trainer.steps = 80", resume=True)  # a finished run would load nothing
    assert code == 2
    assert "state.pt" in capsys.readouterr().err


def test_sigterm_marks_run_killed(tmp_path, client, only_run):
    """A real SIGTERM to a training process: run KILLED, checkpoint written, exit 130."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "MLFLOW_TRACKING_URI": client.tracking_uri}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hieros_lab", "train", "--no_progress", "--gin_file", "debug.gin",
         "--gin_binding", "Trainer.steps = 100000", "--gin_binding", "Trainer.checkpoint_every = 0",
         "--run_dir", "run"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "run" / "run.json").exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # let it train a little
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert only_run().info.status == "KILLED"
    assert (tmp_path / "run" / "checkpoints" / "latest").is_file()


def test_run_name_names_preset_sequence_env_task_and_seed(train, only_run):
    code, _ = train("Trainer.steps = 25", "Trainer.seed = 3",
                    gin=("presets/quickstart.gin", "scale/tiny.gin"))
    assert code == 0
    assert only_run().info.run_name == "quickstart-s5-control:CartPole-v1-seed3"


def test_resume_refuses_a_gin_file_edited_since_the_run_started(train, client, only_run,
                                                                 tmp_path, capsys):
    """An edit that changes a binding of the run's files stops the resume (naming the binding
    before and after); a comment-only edit does not; the run record has the parsed config."""
    gin_file = tmp_path / "mine.gin"
    gin_file.write_text("include 'debug.gin'\nTrainer.eval_episodes = 2\n")
    code, run_dir = train("Trainer.steps = 60", gin=(str(gin_file),))
    assert code == 0
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config_digest"] and "Trainer.eval_episodes = 2" in (
        run_dir / "config.gin").read_text()
    gin_file.write_text("include 'debug.gin'\nTrainer.eval_episodes = 3\n")
    capsys.readouterr()
    assert train("Trainer.steps = 80", resume=True)[0] == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "eval_episodes = 2" in err and "eval_episodes = 3" in err
    assert [m.step for m in client.get_metric_history(only_run().info.run_id,
                                                      "eval/score")] == [60]
    gin_file.write_text("include 'debug.gin'\n# the same binding, now with a comment\n"
                        "Trainer.eval_episodes = 2\n")
    assert train("Trainer.steps = 80", resume=True)[0] == 0  # extra bindings are not an edit
    assert [m.step for m in client.get_metric_history(only_run().info.run_id,
                                                      "eval/score")] == [60, 80]
