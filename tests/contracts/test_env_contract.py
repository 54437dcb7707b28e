"""Every ``env`` component: satisfies the env contract and is reproducible from its seed."""

from __future__ import annotations

import numpy as np
import pytest

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import config, registry
from hieros_lab.envs.base import check_env

NAMES = sorted(registry.entries("env"))


def rollout(name: str, seed: int, steps: int = 30) -> list[tuple]:
    config.parse(["debug.gin"], finalize=False)
    env = registry.configured("env", name)(seed=seed)
    check_env(env, name)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    out = []
    for t in range(steps):
        obs, reward, terminated, truncated, _ = env.step(t % env.action_space.n)
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
