"""Bad Trainer arguments fail at construction, naming the binding and the value."""

from __future__ import annotations

import pytest

from hieros_lab.trainer.loop import Trainer


def _trainer(**kw) -> Trainer:
    return Trainer(env=None, tracker=None, agent=None, device="cpu", **kw)


@pytest.mark.parametrize(("kw", "message"), [
    ({"steps": 0}, "Trainer.steps must be >= 1, got 0"),
    ({"eval_episodes": 0}, "Trainer.eval_episodes must be >= 1, got 0"),
    ({"train_ratio": 0.0}, "Trainer.train_ratio must be > 0, got 0.0"),
    ({"sampled_eval_episodes": -1}, "Trainer.sampled_eval_episodes must be >= 0, got -1"),
])
def test_bad_arguments_name_the_binding(kw, message) -> None:
    with pytest.raises(ValueError, match=message):
        _trainer(**kw)


def test_sampled_evaluation_is_off_by_default() -> None:
    assert _trainer().sampled_eval_episodes == 0
