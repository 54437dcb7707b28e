"""Gymnasium vector-observation tasks with Discrete actions (CartPole, Acrobot, ...).

Small, fast tasks for smoke runs and CPU experiments. Observations are cast to float32 so they
meet the ``env`` contract (``envs/base.py``); time limits from the gymnasium registration are
reported as truncation, not termination (spec §9 B9).
"""

from __future__ import annotations

import difflib

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.wrappers import DtypeObservation

from hieros_lab.envs.base import check_env, mark_carried
from hieros_lab.registry import register


@register("env", "control")
def control(seed: int, name: str = "CartPole-v1") -> gym.Env:
    """Gymnasium env ``name`` with float32 ``(D,)`` observations and a Discrete action space.

    Raises ValueError naming ``name`` if it is not a registered gymnasium id or does not have a
    vector observation and Discrete actions.
    """
    if name not in gym.registry:
        close = difflib.get_close_matches(name, list(gym.registry), n=4, cutoff=0.6)
        raise ValueError(f"unknown gymnasium env id {name!r}; close matches: "
                         f"{', '.join(close) or 'none'}")
    env = gym.make(name)
    space = env.observation_space
    if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
        env.close()
        raise ValueError(f"env {name!r}: observation space {space} is not a vector Box")
    if space.dtype != np.float32:
        env = DtypeObservation(env, np.float32)
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
