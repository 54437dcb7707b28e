"""Every ``reward_source`` and ``reward_mixer`` component: shapes, finiteness, context errors,
weight checks and the mixing identity."""

from __future__ import annotations

import math

import pytest
import torch

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import registry
from hieros_lab.behavior.imagination import Trajectory
from hieros_lab.hierarchy.subgoals import SubgoalAutoencoder
from hieros_lab.rewards.base import RewardContext, RewardMixer, RewardSource
from hieros_lab.sequence.base import Latent

SOURCES = sorted(registry.entries("reward_source"))
MIXERS = sorted(registry.entries("reward_mixer"))
H, N, D = 5, 7, 12
LEVEL_SOURCES = ["extrinsic", "subgoal", "novelty"]


def _context(goal: bool = True, autoencoder: bool = True) -> RewardContext:
    gen = torch.Generator().manual_seed(0)
    states = Latent(stoch=torch.zeros(H, N, 4), logits=torch.zeros(H, N, 2, 2),
                    deter=3 * torch.randn(H, N, D, generator=gen), memory=torch.zeros(H, N, 1))
    pred = {"reward": torch.randn(H, N, generator=gen), "cont": torch.ones(H, N),
            "entropy": torch.zeros(H, N)}
    traj = Trajectory(states, torch.zeros(H, N, 3), torch.zeros(H, N, 2), pred)
    torch.manual_seed(0)
    return RewardContext(traj, goal=torch.randn(N, D, generator=gen) if goal else None,
                         autoencoder=SubgoalAutoencoder(D, 2, 4, units=8) if autoencoder else None)


def _source(name: str) -> RewardSource:
    return registry.entries("reward_source")[name].target()


def _mixer(name: str, weights=None) -> RewardMixer:
    return registry.entries("reward_mixer")[name].target(weights)


def test_kinds_are_populated():
    assert {"extrinsic", "subgoal", "novelty"} <= set(SOURCES)
    assert {"weighted_sum", "per_critic", "extrinsic_only"} <= set(MIXERS)


@pytest.mark.parametrize("name", SOURCES)
def test_source_shape_finite_and_no_grad(name):
    source = _source(name)
    assert isinstance(source, RewardSource) and isinstance(source.key, str) and source.key
    ctx = _context()
    ctx.traj.states.deter.requires_grad_(True)
    r = source(ctx)
    assert r.shape == (H, N) and torch.isfinite(r).all() and not r.requires_grad
    assert r.std() > 0  # depends on the state, not a constant


@pytest.mark.parametrize("name", SOURCES)
def test_source_needs_exactly_its_declared_context(name):
    source = _source(name)
    minimal = _context(goal=source.needs_goal, autoencoder=source.needs_autoencoder)
    assert source(minimal).shape == (H, N)
    if source.needs_goal:
        with pytest.raises(ValueError, match="goal"):
            source(_context(goal=False))
    if source.needs_autoencoder:
        with pytest.raises(ValueError, match="autoencoder"):
            source(_context(autoencoder=False))


@pytest.mark.parametrize("name", MIXERS)
def test_mixer_heads_and_head_rewards(name):
    mixer = _mixer(name).bind(LEVEL_SOURCES)
    assert isinstance(mixer, RewardMixer)
    heads = mixer.heads()
    assert heads and len(set(heads)) == len(heads)
    rewards = {k: torch.randn(H, N) for k in LEVEL_SOURCES}
    out = mixer.head_rewards(rewards)
    assert list(out) == heads
    assert all(v.shape == (H, N) and torch.isfinite(v).all() for v in out.values())


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mixing_identical_advantages_returns_them(name, seed):
    gen = torch.Generator().manual_seed(seed)
    weights = {k: float(w) for k, w in zip(LEVEL_SOURCES, torch.rand(3, generator=gen) * 5 + 0.01,
                                           strict=True)}
    mixer = _mixer(name, weights).bind(LEVEL_SOURCES)
    adv = torch.randn(H - 1, N, generator=gen)
    out = mixer.mix({h: adv.clone() for h in mixer.heads()})
    assert out.shape == (H - 1, N)
    torch.testing.assert_close(out, adv)


@pytest.mark.parametrize("name", MIXERS)
def test_unknown_source_weight_names_the_source_and_binding(name):
    with pytest.raises(ValueError) as err:
        _mixer(name, {"extrinsic": 1.0, "novelty": 0.1}).bind(["extrinsic", "subgoal"])
    assert "'novelty'" in str(err.value) and f"{name}.weights" in str(err.value)


@pytest.mark.parametrize("name", MIXERS)
def test_non_finite_weight_is_rejected(name):
    with pytest.raises(ValueError, match="finite"):
        _mixer(name, {"extrinsic": math.inf})
