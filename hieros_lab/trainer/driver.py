"""Steps one gymnasium env with a policy and reports finished episodes.

The driver turns gymnasium's (obs, reward, terminated, truncated) into the replay's step format
(spec §6.1): step t holds o_t, the reward that arrived with o_t, is_first / is_last /
is_terminal, and the action the agent chose after seeing o_t (written when it is chosen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np


@dataclass
class Step:
    """One env step as stored in replay (the action is filled in once chosen)."""

    obs: np.ndarray
    reward: float
    is_first: bool
    is_last: bool
    is_terminal: bool
    action: int = -1


@dataclass
class Episode:
    """Summary of a finished episode."""

    score: float
    length: int


@dataclass
class Driver:
    """Runs ``env`` one step at a time: ``policy(step) -> action``; ``on_step(step)`` per step."""

    env: gym.Env
    seed: int
    env_steps: int = 0
    _current: Step | None = None
    _score: float = 0.0
    _length: int = 0
    _seeded: bool = field(default=False, repr=False)

    def _reset(self) -> Step:
        obs, _ = self.env.reset(seed=None if self._seeded else self.seed)
        self._seeded = True
        self._score, self._length = 0.0, 0
        return Step(np.asarray(obs), 0.0, True, False, False)

    def step(self, policy: Callable[[Step], int],
             on_step: Callable[[Step], Any] | None = None) -> Episode | None:
        """Act once. Returns the finished :class:`Episode` when this step ended one."""
        if self._current is None:
            self._current = self._reset()
        current = self._current
        current.action = int(policy(current))
        if on_step is not None:
            on_step(current)
        if current.is_last:
            self._current = None
            return Episode(self._score, self._length)
        obs, reward, terminated, truncated, _ = self.env.step(current.action)
        self.env_steps += 1
        self._score += float(reward)
        self._length += 1
        self._current = Step(np.asarray(obs), float(reward), False,
                             bool(terminated or truncated), bool(terminated))
        return None

    def close(self) -> None:
        self.env.close()
