"""Exactly-once metrics (issue 8 gap 1): real training processes are SIGKILLed at random
moments, inside a checkpoint write and in the middle of sending a checkpoint's metrics, then
resumed; every metric history must have one value per step, in increasing order, with every
expected step present, as if the run had never stopped."""

from __future__ import annotations

import json
import random

import pytest

from hieros_lab.bench import crashes

KILL_IN_COMMIT = """
import os, signal
from hieros_lab.trainer import checkpoint
_commit, _calls = checkpoint.commit_checkpoint, [0]
def _killing_commit(root, path):
    _calls[0] += 1
    if _calls[0] == 3:  # the third checkpoint is written in full but never committed
        os.kill(os.getpid(), signal.SIGKILL)
    _commit(root, path)
checkpoint.commit_checkpoint = _killing_commit
"""

KILL_MID_SEND = """
import os, signal
from hieros_lab.trainer import journal
_send, _calls = journal.send_entries, [0]
def _half_then_kill(tracker, entries, skip_through=None):
    entries = list(entries)
    _calls[0] += 1
    if _calls[0] == 4 and len(entries) > 1:  # committed checkpoint, half its metrics sent
        _send(tracker, entries[: len(entries) // 2], skip_through)
        os.kill(os.getpid(), signal.SIGKILL)
    return _send(tracker, entries, skip_through)
journal.send_entries = _half_then_kill
"""


def _check(run_dir, uri) -> crashes.Check:
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    return crashes.check_run(run_id, uri)


def _clean(result: crashes.Check) -> None:
    assert result.status == "FINISHED"
    assert (result.duplicated, result.unordered, result.missing) == (0, 0, 0), result
    assert result.keys > 10


@pytest.mark.parametrize("hook", [KILL_IN_COMMIT, KILL_MID_SEND], ids=["commit", "mid_send"])
def test_a_kill_inside_the_checkpoint_protocol_loses_and_doubles_nothing(hook, tmp_path,
                                                                         mlflow_uri):
    run_dir = tmp_path / "run"
    assert crashes.finish(run_dir, pre=hook, resume=False) == -9  # the hook killed it
    assert crashes.finish(run_dir) == 0
    _clean(_check(run_dir, mlflow_uri))


def test_random_sigkills_then_resume_give_one_clean_history(tmp_path, mlflow_uri):
    run_dir = tmp_path / "run"
    rng = random.Random(3)
    killed = sum(crashes.kill_at_random(run_dir, resume=k > 0, rng=rng, window_s=4.0)
                 for k in range(3))
    assert killed >= 1
    assert crashes.finish(run_dir) == 0
    _clean(_check(run_dir, mlflow_uri))
