"""DeepMind Control Suite tasks (``dm_control``) as gymnasium envs with continuous actions.

The protocol of DreamerV3's DMC benchmarks:

* ``action_repeat`` (2): each agent action is repeated, the rewards summed; a task's 1,000
  physics-control steps are then 500 agent steps, and every count the trainer keeps
  (``Trainer.steps``, evaluation episodes) is in agent steps, so a budget of 500,000 agent steps
  is the 1,000,000 env frames of the papers;
* actions: the task's bounded vector, seen as [-1, 1]^A (most suite tasks already use that
  range; others are mapped linearly);
* observations: the flattened proprioceptive features, float32 ``(D,)`` (``pixels=False``), or a
  ``size x size`` RGB rendering, uint8 (``pixels=True``; camera 2 for quadruped, 0 otherwise, as
  DreamerV3). Rendering needs an OpenGL backend: importing this module sets ``MUJOCO_GL=egl``
  unless the user chose one;
* episodes end by the suite's time limit, reported as truncation (no terminal state); a step
  whose discount is 0 would be terminal.

``seed`` seeds the task's random initial states; the first ``reset(seed=...)`` reseeds them.
dm_control's physics and task pickle with their state and random generator, and the copy
continues exactly (tests/contracts/test_env_contract.py), so checkpoints carry the env and a
stopped run resumes mid-episode.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

import gymnasium as gym
import numpy as np

from hieros_lab.envs.base import check_env, mark_carried
from hieros_lab.registry import register

# Headless rendering; dm_control reads it once, when first imported (so before any env loads).
os.environ.setdefault("MUJOCO_GL", "egl")

#: The standard tasks (DreamerV3's DMC suites): name -> (domain, task).
TASKS: dict[str, tuple[str, str]] = {
    "acrobot_swingup": ("acrobot", "swingup"),
    "cartpole_balance": ("cartpole", "balance"),
    "cartpole_balance_sparse": ("cartpole", "balance_sparse"),
    "cartpole_swingup": ("cartpole", "swingup"),
    "cartpole_swingup_sparse": ("cartpole", "swingup_sparse"),
    "cheetah_run": ("cheetah", "run"),
    "cup_catch": ("ball_in_cup", "catch"),
    "finger_spin": ("finger", "spin"),
    "finger_turn_easy": ("finger", "turn_easy"),
    "finger_turn_hard": ("finger", "turn_hard"),
    "hopper_hop": ("hopper", "hop"),
    "hopper_stand": ("hopper", "stand"),
    "pendulum_swingup": ("pendulum", "swingup"),
    "quadruped_run": ("quadruped", "run"),
    "quadruped_walk": ("quadruped", "walk"),
    "reacher_easy": ("reacher", "easy"),
    "reacher_hard": ("reacher", "hard"),
    "walker_run": ("walker", "run"),
    "walker_stand": ("walker", "stand"),
    "walker_walk": ("walker", "walk"),
}


def resolve_task(name: str) -> tuple[str, str]:
    """``'cartpole_swingup'`` -> ``('cartpole', 'swingup')``; ValueError naming close matches."""
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=4, cutoff=0.5)
        raise ValueError(f"unknown DMC task {name!r}; close matches: {', '.join(close) or 'none'}"
                         f" (all: {', '.join(TASKS)})")
    return TASKS[name]


class DMCEnv(gym.Env):
    """One suite task with action repeat; see the module docstring."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, seed: int, task: str, pixels: bool, size: int, action_repeat: int,
                 max_episode_steps: int | None = None) -> None:
        if action_repeat < 1 or size < 1 or (max_episode_steps is not None
                                             and max_episode_steps < 1):
            raise ValueError(f"dmc needs action_repeat, size and max_episode_steps >= 1, got "
                             f"{action_repeat}, {size}, {max_episode_steps}")
        self.max_episode_steps, self._steps = max_episode_steps, 0
        self.domain, self.task = resolve_task(task)
        self.pixels, self.size, self.action_repeat = pixels, size, action_repeat
        self.camera = 2 if self.domain == "quadruped" else 0
        self._env = self._load(seed)
        spec = self._env.action_spec()
        self._low = np.asarray(spec.minimum, np.float64)
        self._high = np.asarray(spec.maximum, np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, spec.shape, np.float32)
        self.action_space.seed(seed)
        if pixels:
            self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
        else:
            width = sum(int(np.prod(v.shape)) for v in self._env.observation_spec().values())
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (width,), np.float32)

    def _load(self, seed: int) -> Any:
        from dm_control import suite  # (imports MuJoCo: only when used)

        return suite.load(self.domain, self.task, task_kwargs={"random": seed})

    def _obs(self, time_step: Any) -> np.ndarray:
        if self.pixels:
            return self._env.physics.render(self.size, self.size, camera_id=self.camera)
        return np.concatenate([np.asarray(v, np.float32).reshape(-1)
                               for v in time_step.observation.values()])

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._env = self._load(seed)
        self._steps = 0
        return self._obs(self._env.reset()), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        unit = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        scaled = self._low + (unit + 1.0) * 0.5 * (self._high - self._low)
        reward, time_step = 0.0, None
        for _ in range(self.action_repeat):
            time_step = self._env.step(scaled)
            reward += float(time_step.reward or 0.0)
            if time_step.last():
                break
        assert time_step is not None
        self._steps += 1
        terminated = bool(time_step.last() and time_step.discount == 0.0)
        cut = self.max_episode_steps is not None and self._steps >= self.max_episode_steps
        truncated = bool((time_step.last() or cut) and not terminated)
        return self._obs(time_step), reward, terminated, truncated, {}

    def close(self) -> None:
        self._env.close()


@register("env", "dmc")
def dmc(seed: int, task: str = "cartpole_swingup", pixels: bool = False, size: int = 64,
        action_repeat: int = 2, max_episode_steps: int | None = None) -> gym.Env:
    """DeepMind Control Suite ``task`` (:data:`TASKS`) with [-1, 1] actions and action repeat.

    Proprioceptive float32 features, or ``size x size`` RGB pixels (``pixels``);
    ``action_repeat`` physics steps per action; ``max_episode_steps`` agent steps at most (None:
    the task's own limit, 500 at repeat 2)."""
    env = DMCEnv(seed, task, pixels, size, action_repeat, max_episode_steps)
    check_env(env, f"dmc/{task}")
    return mark_carried(env)
