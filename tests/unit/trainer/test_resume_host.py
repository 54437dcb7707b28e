"""A resume computes as the stopped run did where it can (``host.continue_as``): torch's thread
count set back to the checkpoint's, and a resume on another machine kind tagged inexact.

Why threads: the quickstart's seed 2, stopped at step 211 and resumed with 2 threads after 1
(session 21), drifted from its uninterrupted run from step 250 on."""

from __future__ import annotations

import pytest
import torch

from hieros_lab import config
from hieros_lab.tracking.base import NullTracker
from hieros_lab.trainer import host
from hieros_lab.trainer.loop import Trainer


@pytest.fixture
def threads():
    """Restores this process's torch thread count after the test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _trainer(steps: int) -> Trainer:
    config.parse(["debug.gin"], [f"Trainer.steps = {steps}", "Trainer.eval_every = 0",
                                 "Trainer.eval_episodes = 1", "Trainer.tracker = @null"])
    trainer = Trainer()
    trainer.build()
    return trainer


def _stopped_run(root) -> None:
    """A finished 30-step debug run computed with one thread: its last checkpoint is what a
    resume loads."""
    torch.set_num_threads(1)
    tracker = NullTracker()
    tracker.start("first part")
    _trainer(30).fit(tracker, root, progress=False)


def test_a_resume_sets_the_threads_the_run_computed_with(tmp_path, threads):
    _stopped_run(tmp_path)
    torch.set_num_threads(2)
    trainer = _trainer(60)
    assert trainer.restore(tmp_path)
    assert torch.get_num_threads() == 1
    assert trainer.resumed_exactly and trainer.inexact_resumes == 0
    assert trainer.resume_notes == ["with torch threads set to 1, as the run computed before it "
                                    "stopped (this process had 2)"]


def test_a_resume_on_another_machine_kind_is_inexact(tmp_path, threads, monkeypatch):
    _stopped_run(tmp_path)
    monkeypatch.setattr(host, "machine_kind", lambda: ("Other CPU", "AVX2"))
    trainer = _trainer(60)
    assert trainer.restore(tmp_path)
    assert not trainer.resumed_exactly and trainer.inexact_resumes == 1
    assert "another machine kind" in trainer.resume_notes[-1]
    assert "Other CPU / AVX2 now" in trainer.resume_notes[-1]


def test_a_checkpoint_that_recorded_neither_changes_nothing(threads):
    torch.set_num_threads(2)
    assert host.continue_as({}) == ([], False)
    assert torch.get_num_threads() == 2
    # a part the run did not record matches any machine, as in the reproduction check
    assert host.continue_as({"machine_kind": [host.UNKNOWN, host.machine_kind()[1]]}) == \
        ([], False)
