"""Gymnasium vector-observation tasks (CartPole, Acrobot, Pendulum, ...).

Small, fast tasks for smoke runs and CPU experiments. Observations are cast to float32 so they
meet the ``env`` contract (``envs/base.py``), and ``Box`` actions (Pendulum-v1,
MountainCarContinuous-v0) are rescaled to [-1, 1]; time limits from the gymnasium registration
are reported as truncation, not termination (spec §9 B9).
"""

from __future__ import annotations

import difflib

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.wrappers import DtypeObservation

from hieros_lab.envs.base import UnitActions, check_env, mark_carried
from hieros_lab.registry import register


@register("env", "control")
def control(seed: int, name: str = "CartPole-v1", max_episode_steps: int | None = None) -> gym.Env:
    """Gymnasium vector task ``name``: float32 ``(D,)`` observations, Discrete or [-1, 1] actions.

    ``Box`` actions are rescaled to [-1, 1] (:class:`~hieros_lab.envs.base.UnitActions`).

    Raises ValueError naming ``name`` if it is not a registered gymnasium id or does not have a
    vector observation and such actions. ``max_episode_steps`` replaces the registration's
    time limit (None keeps it).
    """
    if name not in gym.registry:
        close = difflib.get_close_matches(name, list(gym.registry), n=4, cutoff=0.6)
        raise ValueError(f"unknown gymnasium env id {name!r}; close matches: "
                         f"{', '.join(close) or 'none'}")
    if max_episode_steps is not None and max_episode_steps < 1:
        raise ValueError(f"control.max_episode_steps must be >= 1 or None, got {max_episode_steps}")
    env = gym.make(name, max_episode_steps=max_episode_steps)
    space = env.observation_space
    if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
        env.close()
        raise ValueError(f"env {name!r}: observation space {space} is not a vector Box")
    if space.dtype != np.float32:
        env = DtypeObservation(env, np.float32)
    if isinstance(env.action_space, gym.spaces.Box):
        env = UnitActions(env)
    # Same RNG state as reset(seed=seed), so a first reset without a seed is reproducible too
    # (spec §9 B10); the action space is seeded for reproducible random-action baselines.
    env.unwrapped.np_random = seeding.np_random(seed)[0]
    env.action_space.seed(seed)
    check_env(env, name)
    # Classic control keeps all its state in plain Python and its np_random: a pickle of it
    # continues exactly. Other families (Box2D, ...) hold native objects and are not marked.
    if type(env.unwrapped).__module__.startswith("gymnasium.envs.classic_control"):
        mark_carried(env)
    return env
