"""A tiny, deterministic, learnable env for tests and smoke runs (no emulator needed).

Every observation shows a *target* in ``[0, num_actions)``, drawn afresh each step by the env's
seeded RNG. The reward returned by ``step(a)`` is 1.0 when ``a`` equals the target shown in the
observation the action was chosen from (the previous observation), else 0.0. In replay terms
(reward stored with the observation it arrives with): the reset step has reward 0, and the
optimal policy earns 1 at every later step; a uniformly random one earns 1/num_actions.
Episodes end with ``terminated=True`` after ``episode_length`` steps.

Image mode: uint8 ``(size, size, 3)``; the target is a bright vertical band (band k of
num_actions, coloured by k), the bottom row is a progress bar (t / episode_length) so the
continue head can learn when episodes end. Vector mode: float32 ``(vector_dim,)``; one-hot
target, then the progress t / episode_length.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding

from hieros_lab.envs.base import check_env, mark_carried
from hieros_lab.registry import register

#: Band colours (RGB), cycled for larger action counts; no two neighbours share a colour.
_PALETTE = np.array([[255, 64, 64], [64, 255, 64], [64, 64, 255], [255, 255, 64],
                     [255, 64, 255], [64, 255, 255]], dtype=np.uint8)


class FakeTargetEnv(gym.Env):
    """Repeat-the-target task; see the module docstring."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, seed: int, image: bool = True, size: int = 16, vector_dim: int = 8,
                 num_actions: int = 3, episode_length: int = 20) -> None:
        if num_actions < 1 or episode_length < 1:
            raise ValueError("fake env needs num_actions >= 1 and episode_length >= 1")
        if image and (size < 2 or num_actions > size):
            raise ValueError(f"fake env: image size {size} cannot show {num_actions} bands")
        if not image and vector_dim < num_actions:
            raise ValueError(f"fake env: vector_dim {vector_dim} < num_actions {num_actions}")
        self.image, self.size, self.vector_dim = image, size, vector_dim
        self.num_actions, self.episode_length = num_actions, episode_length
        self.action_space = gym.spaces.Discrete(num_actions, seed=seed)
        self.observation_space = (
            gym.spaces.Box(0, 255, (size, size, 3), np.uint8) if image
            else gym.spaces.Box(-np.inf, np.inf, (vector_dim,), np.float32))
        # Same RNG state as reset(seed=seed): a first reset without a seed is reproducible too.
        self.np_random = seeding.np_random(seed)[0]
        self._t = 0
        self._target = 0
        self._done = True

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)  # re-seeds self.np_random when a seed is given
        self._t, self._done = 0, False
        self._target = int(self.np_random.integers(self.num_actions))
        return self._obs(), {"target": self._target}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError("fake env: step() after the episode ended; call reset()")
        reward = 1.0 if int(action) == self._target else 0.0
        self._t += 1
        self._target = int(self.np_random.integers(self.num_actions))
        self._done = self._t >= self.episode_length
        return self._obs(), reward, self._done, False, {"target": self._target}

    def _obs(self) -> np.ndarray:
        progress = self._t / self.episode_length
        if not self.image:
            obs = np.zeros(self.vector_dim, np.float32)
            obs[self._target] = 1.0
            if self.vector_dim > self.num_actions:
                obs[self.num_actions] = progress
            return obs
        obs = np.zeros((self.size, self.size, 3), np.uint8)
        lo = self._target * self.size // self.num_actions
        hi = (self._target + 1) * self.size // self.num_actions
        obs[:-1, lo:hi] = _PALETTE[self._target % len(_PALETTE)]
        obs[-1, : round(progress * self.size)] = 255
        return obs


@register("env", "fake")
def fake(seed: int, image: bool = True, size: int = 16, vector_dim: int = 8,
         num_actions: int = 3, episode_length: int = 20) -> gym.Env:
    """Deterministic toy task: reward 1 for choosing the target shown (see module doc)."""
    env = FakeTargetEnv(seed, image=image, size=size, vector_dim=vector_dim,
                        num_actions=num_actions, episode_length=episode_length)
    check_env(env, "fake")
    return mark_carried(env)
