"""The ``env`` swap point.

An env component is a factory ``factory(seed: int) -> gymnasium.Env`` registered under kind
``env``. Its action space is ``Discrete`` or a float vector ``Box(-1, 1, (A,))`` (continuous
control: a factory rescales its env's bounds to [-1, 1] with :class:`UnitActions`, the range the
``bounded_normal`` policy emits), and its observation either

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


#: Key of the ``info`` dict in which an env reports, on an episode's last step, what it measured
#: over the episode beyond the return (Crafter: one 0/1 per achievement unlocked): flat
#: ``{name: float}``, logged as ``episode/<name>`` and averaged over evaluation episodes; an
#: env may also define ``summarize(means) -> {name: float}`` for what derives from those means.
EPISODE_METRICS = "episode_metrics"


def is_continuous(space: gym.Space) -> bool:
    """True for a ``Box`` action space (continuous control), False for ``Discrete``."""
    return isinstance(space, gym.spaces.Box)


def action_width(space: gym.Space) -> int:
    """A: the one-hot width of ``Discrete(A)`` or the length of ``Box((A,))``."""
    return int(space.shape[0]) if is_continuous(space) else int(space.n)


def check_env(env: gym.Env, name: str) -> None:
    """Raise ValueError naming ``name`` if the env does not satisfy the contract above."""
    actions = env.action_space
    if is_continuous(actions):
        if len(actions.shape) != 1 or not (np.all(actions.low == -1.0)
                                           and np.all(actions.high == 1.0)):
            raise ValueError(f"env {name!r}: continuous action space {actions} must be a "
                             "vector Box with bounds [-1, 1] (wrap it in "
                             "hieros_lab.envs.base.UnitActions)")
    elif not isinstance(actions, gym.spaces.Discrete):
        raise ValueError(f"env {name!r}: action space {actions} is neither Discrete nor Box")
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"env {name!r}: observation space {space} is not a Box")
    if not (is_image_space(space) or (len(space.shape) == 1 and space.dtype == np.float32)):
        raise ValueError(f"env {name!r}: observation space {space} is neither uint8 HxWxC "
                         "nor float32 vector")


class UnitActions(gym.ActionWrapper):
    """A vector ``Box`` action space seen as [-1, 1]^A and mapped linearly onto the env's own
    bounds (clipped first). Unlike gymnasium's ``RescaleAction`` it holds no closure, so an
    env wrapped in it still pickles (checkpoints carry classic-control envs)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.action_space
        if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1
                and np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(f"UnitActions needs a bounded vector Box, got {space}")
        self._low = space.low.astype(np.float64)
        self._high = space.high.astype(np.float64)
        self._dtype = space.dtype
        self.action_space = gym.spaces.Box(-1.0, 1.0, space.shape, np.float32)

    def action(self, action: np.ndarray) -> np.ndarray:
        unit = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        return (self._low + (unit + 1.0) * 0.5 * (self._high - self._low)).astype(self._dtype)
