"""Every ``env`` component: satisfies the env contract and is reproducible from its seed."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import config, registry
from hieros_lab.envs.base import carries_exactly, check_env

NAMES = sorted(registry.entries("env"))


def action(space, t: int):
    """A deterministic action for step ``t``: an index, or a vector in [-1, 1] (``Box``)."""
    if isinstance(space, gym.spaces.Box):
        return np.full(space.shape, (t % 5 - 2) / 2, np.float32)
    return t % space.n


def rollout(name: str, seed: int, steps: int = 30) -> list[tuple]:
    config.parse(["debug.gin"], finalize=False)
    env = registry.configured("env", name)(seed=seed)
    check_env(env, name)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    out = []
    for t in range(steps):
        obs, reward, terminated, truncated, _ = env.step(action(env.action_space, t))
        assert env.observation_space.contains(obs)
        out.append((obs.copy(), float(reward), terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return out


@pytest.mark.parametrize("name", NAMES)
def test_contract_and_reproducibility(name):
    a, b = rollout(name, 5), rollout(name, 5)
    for (oa, ra, ta, xa), (ob, rb, tb, xb) in zip(a, b, strict=True):
        assert np.array_equal(oa, ob) and ra == rb and ta == tb and xa == xb


#: Envs that resume on a fresh env (their runs are tagged ``resume.inexact`` after a resume).
NOT_CARRIED = {"atari", "crafter"}  # crafter: a pickled world drifts from the original


def _steps(env, actions: list) -> list[tuple]:
    """Step through ``actions``, resetting after each episode end (one reset continues the
    env's own RNG, so resets are part of what a carried env must reproduce)."""
    out = []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        out.append((obs.copy(), float(reward), terminated, truncated))
        if terminated or truncated:
            out.append((env.reset()[0].copy(),))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_a_carried_env_continues_exactly_after_a_pickle(name):
    """What :func:`~hieros_lab.envs.base.mark_carried` promises, checked mid-episode: the
    unpickled copy and the original give the same observations, rewards, ends and resets."""
    config.parse(["debug.gin"], finalize=False)
    env = registry.configured("env", name)(seed=3)
    if not carries_exactly(env):  # an env's factory must either mark it or be listed here
        assert name in NOT_CARRIED, f"{name}: mark_carried it, or add it to NOT_CARRIED"
        return
    assert name not in NOT_CARRIED, f"{name} is marked carried: remove it from NOT_CARRIED"
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    _steps(env, [action(env.action_space, int(t)) for t in rng.integers(1000, size=11)])
    copy = pickle.loads(pickle.dumps(env))
    actions = [action(env.action_space, int(t)) for t in rng.integers(1000, size=60)]
    for x, y in zip(_steps(env, actions), _steps(copy, actions), strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(x, y, strict=True))


def test_the_ale_env_is_not_marked_carried():
    """Its pickle does not continue the emulator mid-episode (checked when this was written),
    so an Atari run must resume on a fresh env and be tagged as such."""
    config.parse(["debug.gin"], finalize=False)
    assert not carries_exactly(registry.configured("env", "atari")(seed=0))
