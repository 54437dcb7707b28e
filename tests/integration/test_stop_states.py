"""SIGTERM in every state of a run (issue 8 gap 7): a real ``hieros-lab train`` process signals
itself at a chosen point (while building, right after opening its run, in an update, in an
evaluation, in a checkpoint write). It must exit 130 within 30 s, leave its run KILLED (or no
run at all while building) with a checkpoint that matches the state it was in, and a resume
must finish the run with one clean history."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import torch
from mlflow.tracking import MlflowClient

from hieros_lab.bench import crashes
from hieros_lab.trainer import checkpoint as ckpt

STOP_WITHIN_S = 30.0

#: Python run before the CLI; ``{mark}`` is a file that gets the signal's time (and a count).
HOOKS = {
    "building": """
import os, signal, time
from hieros_lab.trainer import loop
_build = loop.Trainer.build
def _build_slowly(self):
    open({mark!r}, "w").write(str(time.time()))
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(120)  # building is interruptible: the signal must not wait for this
    _build(self)
loop.Trainer.build = _build_slowly
""",
    "opened": """
import os, signal, time
from hieros_lab.tracking import mlflow_tracker
_start = mlflow_tracker.MlflowTracker.start
def _start_then_signal(self, *args, **kwargs):
    run_id = _start(self, *args, **kwargs)
    open({mark!r}, "w").write(str(time.time()))
    os.kill(os.getpid(), signal.SIGTERM)
    return run_id
mlflow_tracker.MlflowTracker.start = _start_then_signal
""",
    "updating": """
import os, signal, time
from hieros_lab.hierarchy import agent
_train, _calls = agent.Agent.train, [0]
def _train_and_signal(self):
    result = _train(self)
    _calls[0] += 1
    if _calls[0] == 30:  # the update is done; the stop must not lose track of it
        open({mark!r}, "w").write(f"{{time.time()}} {{_calls[0]}}")
        os.kill(os.getpid(), signal.SIGTERM)
    return result
agent.Agent.train = _train_and_signal
""",
    "evaluating": """
import os, signal, time
from hieros_lab.trainer import loop
_evaluate = loop.evaluate
def _evaluate_forever(*args, **kwargs):
    open({mark!r}, "w").write(str(time.time()))
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(120)  # a very long evaluation: it must be cut short
    return _evaluate(*args, **kwargs)
loop.evaluate = _evaluate_forever
""",
    "checkpointing": """
import os, signal, time
from hieros_lab.trainer import checkpoint
_save, _calls = checkpoint.atomic_torch_save, [0]
def _signal_inside_save(obj, path):
    _calls[0] += path.name == "state.pt"  # (a checkpoint also writes acting.pt)
    if _calls[0] == 2 and path.name == "state.pt":  # inside the second checkpoint's write
        open({mark!r}, "w").write(str(time.time()))
        os.kill(os.getpid(), signal.SIGTERM)
    _save(obj, path)
checkpoint.atomic_torch_save = _signal_inside_save
""",
    "forced": """
import os, signal, time
from hieros_lab.hierarchy import agent
_train, _calls = agent.Agent.train, [0]
def _train_and_signal_twice(self):
    _calls[0] += 1
    if _calls[0] == 30:  # a second signal in the middle of an update: stop without saving it
        open({mark!r}, "w").write(str(time.time()))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # (two signals sent at once may reach Python as one)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
    return _train(self)
agent.Agent.train = _train_and_signal_twice
""",
}


def _run(run_dir, hook: str) -> tuple[int, float, str]:
    """Start the run with ``hook``; (exit code, seconds from the signal to the exit, mark)."""
    mark = run_dir.parent / "signal_time"
    pre = HOOKS[hook].format(mark=str(mark))
    proc = subprocess.run(crashes.train_command(run_dir, resume=False, pre=pre),
                          env=crashes._env(), capture_output=True, text=True, check=False)
    ended = time.time()
    text = mark.read_text().split()
    assert proc.returncode == 130, proc.stderr[-3000:]
    return proc.returncode, ended - float(text[0]), " ".join(text[1:])


def _run_id(run_dir) -> str | None:
    path = run_dir / "run.json"
    return json.loads(path.read_text())["run_id"] if path.is_file() else None


def _state(run_dir) -> dict:
    latest = ckpt.latest_checkpoint(run_dir / "checkpoints")
    assert latest is not None, "no checkpoint"
    return torch.load(latest / "state.pt", map_location="cpu", weights_only=False)


def _resume_clean(run_dir, uri) -> None:
    assert crashes.finish(run_dir) == 0
    result = crashes.check_run(_run_id(run_dir), uri)
    assert result.status == "FINISHED"
    assert (result.duplicated, result.unordered, result.missing) == (0, 0, 0), result
    runs = MlflowClient(tracking_uri=uri).search_runs(
        [e.experiment_id for e in MlflowClient(tracking_uri=uri).search_experiments()])
    assert [r.info.run_id for r in runs] == [_run_id(run_dir)]  # one run, never a second


def _status(run_dir, uri) -> str:
    return MlflowClient(tracking_uri=uri).get_run(_run_id(run_dir)).info.status


@pytest.mark.parametrize("hook", ["opened", "updating", "evaluating", "checkpointing",
                                  "forced"])
def test_sigterm_in_each_state_stops_promptly_killed_and_resumable(hook, tmp_path, mlflow_uri):
    run_dir = tmp_path / "run"
    _, took, detail = _run(run_dir, hook)
    assert took < STOP_WITHIN_S, f"stopped {took:.1f} s after SIGTERM"
    assert _status(run_dir, mlflow_uri) == "KILLED"
    if hook == "opened":  # nothing trained yet: no checkpoint, the resume starts it over
        assert ckpt.latest_checkpoint(run_dir / "checkpoints") is None
    elif hook == "updating":  # stopped after the update, with it counted
        assert _state(run_dir)["updates"] == int(detail)
    elif hook == "evaluating":  # the evaluation was cut short and is done after the resume
        state = _state(run_dir)
        assert state["eval_due"] and state["step"] == crashes.EVAL_EVERY
    elif hook == "checkpointing":  # the write finished; the run stopped right after it
        assert _state(run_dir)["step"] == 2 * crashes.CHECKPOINT_EVERY
    elif hook == "forced":  # the half-made update is not saved: the last checkpoint stays
        state = _state(run_dir)
        assert state["updates"] < 30 and state["step"] % crashes.CHECKPOINT_EVERY == 0
    _resume_clean(run_dir, mlflow_uri)


def test_sigterm_while_building_stops_at_once_without_a_run(tmp_path, mlflow_uri):
    run_dir = tmp_path / "run"
    _, took, _ = _run(run_dir, "building")
    assert took < STOP_WITHIN_S
    assert _run_id(run_dir) is None
    assert crashes.finish(run_dir, resume=False) == 0  # a plain re-run starts it
