"""The ``env`` swap point.

An env component is a factory ``factory(seed: int) -> gymnasium.Env`` registered under kind
``env``. The env must have a ``Discrete`` action space and either

* an image observation: ``Box(0, 255, (H, W, C), uint8)``, or
* a vector observation: ``Box(-inf, inf, (D,), float32)``.

``reset(seed=...)`` is called once by the driver with the factory's seed; later resets continue
the env's own RNG, so a run is reproducible from its seed.

A factory whose env continues exactly after a pickle round trip (state and RNG alike) says so
with :func:`mark_carried`; the trainer's checkpoints then carry the env itself, and a stopped
run resumes mid-episode as if it had never stopped. ALE does not qualify (its pickle does not
restore the emulator mid-episode), so an Atari run resumes on a fresh env and is tagged
``resume.inexact``. ``tests/contracts/test_env_contract.py`` checks every marked env.
"""

from __future__ import annotations

from typing import Protocol

import gymnasium as gym
import numpy as np


class EnvFactory(Protocol):
    def __call__(self, seed: int) -> gym.Env: ...


#: Attribute a factory sets on the env it returns (see the module docstring).
CARRIED_ATTR = "hieros_lab_carried_exactly"


def mark_carried(env: gym.Env) -> gym.Env:
    """Declare that ``env`` (as returned, wrappers included) pickles and continues exactly."""
    setattr(env, CARRIED_ATTR, True)
    return env


def carries_exactly(env: gym.Env) -> bool:
    """True when a checkpoint may carry ``env`` itself (its factory called :func:`mark_carried`)."""
    return bool(getattr(env, CARRIED_ATTR, False))


def is_image_space(space: gym.Space) -> bool:
    """True for ``Box(uint8, (H, W, C))`` observations."""
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def check_env(env: gym.Env, name: str) -> None:
    """Raise ValueError naming ``name`` if the env does not satisfy the contract above."""
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(f"env {name!r}: action space {env.action_space} is not Discrete")
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"env {name!r}: observation space {space} is not a Box")
    if not (is_image_space(space) or (len(space.shape) == 1 and space.dtype == np.float32)):
        raise ValueError(f"env {name!r}: observation space {space} is neither uint8 HxWxC "
                         "nor float32 vector")
