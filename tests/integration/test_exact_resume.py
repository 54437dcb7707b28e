"""A stopped and resumed run is the run that never stopped (issue 9, reproducibility): same
episodes, same losses, same evaluations, step for step. The checkpoint carries the envs (when
they can be carried exactly), the acting memory of every level and the metric averages in
progress, so the resume continues mid-episode and mid-evaluation where the stop left it.

An env that cannot be carried (ALE) resumes on a fresh env, and the run says so: it is tagged
``resume.inexact`` with the number of such resumes."""

from __future__ import annotations

import json
import os
import signal

import pytest

from hieros_lab.hierarchy.agent import Agent
from hieros_lab.tracking import keys
from hieros_lab.trainer import carry, loop

CONFIGS = {
    # act_context > 0: the acting window is part of what a stop must keep.
    "1level": ("Trainer.steps = 120", "WorldModel.act_context = 4"),
    "2levels": ("Trainer.steps = 120", "Agent.num_levels = 2", "Agent.k = 2",
                "Trainer.sampled_eval_episodes = 1"),
    # several env streams: every env, every stream's acting memory and replay ring
    "2levels_3envs": ("Trainer.steps = 120", "Agent.num_levels = 2", "Agent.k = 2",
                      "Trainer.num_envs = 3", "WorldModel.act_context = 4"),
}
COMMON = ("Trainer.log_every = 25", "Trainer.eval_every = 50", "Trainer.checkpoint_every = 100")
#: Wall-clock metrics: the only ones a stop may change.
TIMED = (keys.UPDATES_PER_S, keys.ENV_STEPS_PER_S, keys.WALL_S)


def _histories(client, run_dir) -> dict[str, list[tuple[int, float]]]:
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    names = client.get_run(run_id).data.metrics
    return {k: [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, k),
                                                    key=lambda m: (m.step, m.timestamp))]
            for k in names if k not in TIMED}


def _signal_at_update(monkeypatch, n: int) -> None:
    """SIGINT after the n-th update: the trainer stops at the next env step, mid-episode
    (the fake env's episodes are 20 steps) and mid-way between two metric logs."""
    original, calls = Agent.train, {"n": 0}

    def train(self):
        result = original(self)
        calls["n"] += 1
        if calls["n"] == n:
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(Agent, "train", train)


def _signal_in_evaluation(monkeypatch, call: int) -> None:
    """SIGINT in the ``call``-th evaluation, after it stepped its env a few times."""
    original, calls = loop.evaluate, {"n": 0}

    def evaluate(driver, agent, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            for _ in range(7):
                driver.step(lambda step: 0)
            os.kill(os.getpid(), signal.SIGINT)  # raises here: evaluation is interruptible
        return original(driver, agent, *args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", evaluate)


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("where", ["update", "evaluation"])
def test_a_stopped_and_resumed_run_equals_the_uninterrupted_one(train, client, monkeypatch,
                                                                config, where):
    bindings = (*CONFIGS[config], *COMMON)
    code, straight = train(*bindings, run_dir="straight")
    assert code == 0
    with monkeypatch.context() as patch:
        if where == "update":
            _signal_at_update(patch, 37)  # training starts at step 19: about step 56
        else:
            _signal_in_evaluation(patch, 1)  # the evaluation at step 50
        code, stopped = train(*bindings, run_dir="stopped")
        assert code == 130
    assert train(run_dir="stopped", resume=True)[0] == 0
    expected, got = _histories(client, straight), _histories(client, stopped)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key
    run_id = json.loads((stopped / "run.json").read_text())["run_id"]
    assert keys.RESUME_INEXACT not in client.get_run(run_id).data.tags


def test_an_env_that_cannot_be_carried_resumes_fresh_and_the_run_says_so(train, client,
                                                                         monkeypatch):
    monkeypatch.setattr(carry, "carries_exactly", lambda env: False)
    with monkeypatch.context() as patch:
        _signal_at_update(patch, 37)
        assert train(*CONFIGS["1level"], *COMMON, run_dir="run")[0] == 130
    code, run_dir = train(run_dir="run", resume=True)
    assert code == 0
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags[keys.RESUME_INEXACT] == "1"


def test_a_resume_that_changes_the_env_builds_it_afresh_and_says_why(train, client, monkeypatch,
                                                                      capsys):
    """A carried env keeps the settings it was built with: a resume that rebinds the env must
    not get the old one silently."""
    with monkeypatch.context() as patch:
        _signal_at_update(patch, 37)
        assert train(*CONFIGS["1level"], *COMMON, run_dir="run")[0] == 130
    capsys.readouterr()
    code, run_dir = train("fake.episode_length = 30", run_dir="run", resume=True)
    assert code == 0
    err = capsys.readouterr().err
    assert "on a fresh env (its env settings changed: " in err and "episode_length=30" in err
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    assert client.get_run(run_id).data.tags[keys.RESUME_INEXACT] == "1"
    lengths = client.get_metric_history(run_id, keys.EPISODE_LENGTH)
    assert max(m.value for m in lengths) == 30  # the new binding reached the env
