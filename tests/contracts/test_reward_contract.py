"""Every ``reward_source`` and ``reward_mixer`` component, built through gin as a run builds it:
the protocol's shapes, finiteness, declared needs and level ranges, and the mixer's head maps.
(The weighted mixers' weight rules are unit tests: tests/unit/rewards/test_mixers.py.)"""

from __future__ import annotations

import pytest
import torch

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import config, registry
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


def _build(kind: str, name: str):
    """The component as a run builds it: through its gin registration, debug config parsed."""
    config.parse(["debug.gin"], finalize=False)
    return registry.configured(kind, name)()


def _source(name: str) -> RewardSource:
    return _build("reward_source", name)


def _mixer(name: str) -> RewardMixer:
    return _build("reward_mixer", name)


def test_kinds_are_populated():
    assert {"extrinsic", "subgoal", "novelty"} <= set(SOURCES)
    assert {"weighted_sum", "per_critic", "extrinsic_only"} <= set(MIXERS)


@pytest.mark.parametrize("name", SOURCES)
def test_source_shape_finite_and_follows_the_grad_mode(name):
    source = _source(name)
    assert isinstance(source, RewardSource) and isinstance(source.key, str) and source.key
    ctx = _context()
    with torch.no_grad():  # what a REINFORCE level asks for
        r = source(ctx)
    assert r.shape == (H, N) and torch.isfinite(r).all() and not r.requires_grad
    assert r.std() > 0  # depends on the state, not a constant
    # with gradients on and a trajectory that keeps the dynamics' graph (actor_grad =
    # dynamics), the reward is differentiable in that trajectory
    ctx.traj.states.deter.requires_grad_(True)
    ctx.traj.pred["reward"].requires_grad_(True)
    graph = source(ctx)
    assert graph.requires_grad
    torch.testing.assert_close(graph.detach(), r)


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
def test_mix_maps_head_advantages_to_one_advantage(name):
    mixer = _mixer(name).bind(LEVEL_SOURCES)
    gen = torch.Generator().manual_seed(0)
    advantages = {h: torch.randn(H - 1, N, generator=gen) for h in mixer.heads()}
    out = mixer.mix(advantages)
    assert out.shape == (H - 1, N) and torch.isfinite(out).all()
    with pytest.raises(ValueError):
        mixer.mix({"not_a_head": torch.zeros(H - 1, N)})


@pytest.mark.parametrize("name", MIXERS)
def test_head_rewards_reject_sources_the_mixer_is_not_bound_to(name):
    mixer = _mixer(name).bind(["extrinsic", "subgoal"])
    with pytest.raises(ValueError):
        mixer.head_rewards({k: torch.zeros(H, N) for k in LEVEL_SOURCES})


@pytest.mark.parametrize("name", SOURCES)
def test_source_declares_its_levels(name):
    source = _source(name)
    assert all(isinstance(source.active_at(level), bool) for level in range(5))


@pytest.mark.parametrize("name", MIXERS)
def test_paid_weights_say_which_sources_reach_the_actor(name):
    """A source's paid weight is 0 exactly when its reward cannot move the actor's advantage.

    The probe: a head's advantage stands in for the head's own reward (all three mixers are
    linear in both maps), so ``mix(head_rewards(r))`` shows whether a change of one source's
    reward gets through.
    """
    mixer = _mixer(name).bind(LEVEL_SOURCES)
    paid = mixer.paid_weights()
    assert list(paid) == LEVEL_SOURCES and all(isinstance(w, float) for w in paid.values())
    gen = torch.Generator().manual_seed(1)
    base = {k: torch.randn(H, N, generator=gen) for k in LEVEL_SOURCES}

    def actor_signal(rewards):
        return mixer.mix({h: r[:-1] for h, r in mixer.head_rewards(rewards).items()})

    for key in LEVEL_SOURCES:
        moved = {**base, key: base[key] + 1.0}
        reaches = not torch.allclose(actor_signal(moved), actor_signal(base))
        assert reaches == (paid[key] != 0.0), (key, paid)
