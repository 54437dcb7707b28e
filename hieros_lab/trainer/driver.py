"""Steps one gymnasium env with a policy and reports finished episodes.

The driver turns gymnasium's (obs, reward, terminated, truncated) into the replay's step format
(spec §6.1, :class:`~hieros_lab.replay.step.Step`): step t holds o_t, the reward that arrived
with o_t and is_first / is_last / is_terminal. The policy sees each step once and returns the
env action; what the agent stores is its own business (one call, no observe hook).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from hieros_lab.envs.base import EPISODE_METRICS
from hieros_lab.replay.step import Step

#: What ``env.step`` takes: an index (``Discrete``) or a float32 vector (``Box``).
EnvAction = int | np.ndarray


@dataclass
class Episode:
    """Summary of a finished episode; ``metrics``: the env's ``info[EPISODE_METRICS]``
    (:data:`hieros_lab.envs.base.EPISODE_METRICS`)."""

    score: float
    length: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Driver:
    """Runs ``env`` one step at a time with ``policy(step) -> env action`` (:meth:`step`), or
    as :meth:`current` then :meth:`advance` when one policy call serves several drivers."""

    env: gym.Env
    seed: int
    env_steps: int = 0
    _current: Step | None = None
    _score: float = 0.0
    _length: int = 0
    _metrics: dict[str, float] = field(default_factory=dict, repr=False)
    _seeded: bool = field(default=False, repr=False)

    def _reset(self) -> Step:
        obs, _ = self.env.reset(seed=None if self._seeded else self.seed)
        self._seeded = True
        self._score, self._length, self._metrics = 0.0, 0, {}
        return Step(np.asarray(obs), 0.0, True, False, False)

    def step(self, policy: Callable[[Step], EnvAction]) -> Episode | None:
        """Act once. Returns the finished :class:`Episode` when this step ended one.

        The policy also sees the last step of an episode (``is_last``): its action is not
        executed, but the agent stores the step (spec §6.1).
        """
        return self.advance(policy(self.current()))

    def current(self) -> Step:
        """The step the policy acts on next (a fresh episode's first step after an end)."""
        if self._current is None:
            self._current = self._reset()
        return self._current

    def advance(self, action: EnvAction) -> Episode | None:
        """Execute ``action`` for :meth:`current` (the policy's answer to it); at an episode's
        last step nothing is executed and the finished :class:`Episode` is returned."""
        current = self.current()
        if current.is_last:
            self._current = None
            return Episode(self._score, self._length, self._metrics)
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            self._metrics = {k: float(v) for k, v in info.get(EPISODE_METRICS, {}).items()}
        self.env_steps += 1
        self._score += float(reward)
        self._length += 1
        self._current = Step(np.asarray(obs), float(reward), False,
                             bool(terminated or truncated), bool(terminated))
        return None

    def close(self) -> None:
        self.env.close()

    def __setstate__(self, state: dict) -> None:
        # Checkpoints written before ``_metrics`` existed (issue #11) still resume.
        self.__dict__.update({"_metrics": {}, **state})
