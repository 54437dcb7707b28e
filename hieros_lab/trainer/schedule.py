"""Step-based schedules (never wall-clock; spec §1.1 and B18)."""

from __future__ import annotations


class Ratio:
    """How many updates are due so that updates / steps tracks ``ratio`` (spec §1.1).

    ``ratio`` = train_ratio / (batch_size * batch_length) updates per env step; the first call
    returns at least one update once training may start.
    """

    def __init__(self, ratio: float) -> None:
        if ratio < 0:
            raise ValueError(f"update ratio must be >= 0, got {ratio}")
        self.ratio = ratio
        self.prev_step: int | None = None
        self.carry = 0.0

    def __call__(self, step: int) -> int:
        if self.ratio == 0:
            return 0
        if self.prev_step is None:
            self.prev_step = step
            return 1
        self.carry += (step - self.prev_step) * self.ratio
        self.prev_step = step
        due = int(self.carry)
        self.carry -= due
        return due

    def state_dict(self) -> dict[str, float | int | None]:
        return {"prev_step": self.prev_step, "carry": self.carry}

    def load_state_dict(self, state: dict) -> None:
        self.prev_step, self.carry = state["prev_step"], float(state["carry"])


def planned_updates(steps: int, first_step: int, ratio: float) -> int:
    """Updates that :class:`Ratio` grants over a run of ``steps`` env steps when training may
    start at env step ``first_step``: one at the first call, then ``ratio`` per step after it.

    With ``ratio > 0`` this is 0 only when ``steps < first_step``: the first call always grants
    one update, so no positive ratio is "too small" once training has started.
    """
    if ratio <= 0 or steps < first_step:
        return 0
    return 1 + int((steps - first_step) * ratio)


def crossed(before: int, now: int, interval: int) -> bool:
    """True when a positive multiple of ``interval`` lies in ``(before, now]``: the step count
    went past it (several env streams advance it by more than one; ``interval <= 0``: never).
    With ``now = before + 1``: ``now`` is a positive multiple of ``interval``."""
    return interval > 0 and now > 0 and now // interval > before // interval
