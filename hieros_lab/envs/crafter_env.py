"""Crafter (Hafner, 2021) as a gymnasium env, scored as its paper defines.

Observations are Crafter's own ``size x size`` RGB frames (64 by default), uint8, through the
CNN encoder; the 17 actions are discrete; the reward is Crafter's (+1 for each achievement the
first time it is unlocked in an episode, -0.1 / +0.1 per health point lost / regained). An
episode ends when the player dies (terminal) or after ``length`` steps (10,000: truncation).

The benchmark's score is not the return: it is the geometric mean of the 22 achievements'
success rates, S = exp(mean_i ln(1 + s_i)) - 1 with s_i in percent, the share of episodes in
which achievement i was unlocked at least once. On an episode's last step the env reports one
0/1 per achievement (``info["episode_metrics"]``, ``achievement/<name>``); evaluation averages
them into success rates (``eval/achievement/<name>``, fractions) and :meth:`CrafterEnv.summarize`
turns those into ``eval/crafter_score`` (percent, as the paper reports it).

``seed`` seeds the world generation (Crafter seeds episode e's world with a hash of the seed and
e), and the first ``reset(seed=...)`` restarts that sequence. A pickled copy of a Crafter world
drifts from the original within a few dozen steps (checked when this was written), so the env is
not marked carried: a resumed run starts a fresh episode and is tagged ``resume.inexact``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from hieros_lab.envs.base import EPISODE_METRICS, check_env
from hieros_lab.registry import register


def crafter_score(success_rates: list[float] | np.ndarray) -> float:
    """The Crafter score (percent) from the achievements' success rates in percent."""
    rates = np.asarray(success_rates, dtype=np.float64)
    if rates.size == 0 or np.any((rates < 0) | (rates > 100)):
        raise ValueError(f"success rates must be percentages, got {rates}")
    return float(np.exp(np.mean(np.log1p(rates))) - 1.0)


class CrafterEnv(gym.Env):
    """One Crafter world at a time; see the module docstring."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, seed: int, size: int = 64, length: int = 10000) -> None:
        import crafter  # (only when used)

        self.size, self.length = size, length
        self.achievements = tuple(crafter.constants.achievements)
        self._env = self._new(seed)
        self.action_space = gym.spaces.Discrete(self._env.action_space.n)
        self.action_space.seed(seed)
        self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._env = self._new(seed)
        return self._env.reset(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, done, info = self._env.step(int(action))
        terminated = bool(done and info["discount"] == 0.0)  # the player died
        out: dict[str, Any] = {}
        if done:
            counts = info["achievements"]
            out[EPISODE_METRICS] = {f"achievement/{name}": float(counts[name] > 0)
                                    for name in self.achievements}
        return obs, float(reward), terminated, bool(done and not terminated), out

    def summarize(self, means: dict[str, float]) -> dict[str, float]:
        """Evaluation means of the episode metrics -> ``{"crafter_score": S}`` (percent)."""
        rates = [100.0 * means.get(f"achievement/{name}", 0.0) for name in self.achievements]
        return {"crafter_score": crafter_score(rates)}

    def _new(self, seed: int) -> Any:
        import crafter

        return crafter.Env(size=(self.size, self.size), length=self.length, seed=seed)


@register("env", "crafter")
def crafter_env(seed: int, size: int = 64, length: int = 10000) -> gym.Env:
    """Crafter with ``size x size`` RGB observations and ``length``-step episodes."""
    env = CrafterEnv(seed, size, length)
    check_env(env, "crafter")
    return env
