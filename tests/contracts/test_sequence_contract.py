"""Every ``sequence`` component satisfies the SequenceModel protocol (shapes, resets, modes)."""

from __future__ import annotations

import pytest
import torch

import hieros_lab.components  # noqa: F401  (every registration)
from hieros_lab import config, registry
from hieros_lab.sequence.base import Latent, SequenceModel

B, T, E, A = 3, 7, 12, 5


def names(kind: str) -> list[str]:
    return sorted(registry.entries(kind))


def build(name: str) -> SequenceModel:
    config.parse(["debug.gin"], finalize=False)
    torch.manual_seed(0)
    return registry.configured("sequence", name)(embed_dim=E, action_dim=A).eval()


def inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    embed = torch.randn(B, T, E, generator=g)
    actions = torch.nn.functional.one_hot(torch.randint(0, A, (B, T), generator=g), A).float()
    is_first = torch.zeros(B, T, dtype=torch.bool)
    is_first[:, 0] = True
    is_first[1, 4] = True
    return embed, actions, is_first


def check_latent(latent: Latent, model: SequenceModel, lead: tuple[int, ...]) -> None:
    groups, classes = model.stoch_groups, model.stoch_classes
    assert latent.stoch.shape == (*lead, groups * classes)
    assert latent.logits.shape == (*lead, groups, classes)
    assert latent.deter.shape == (*lead, model.deter_dim)
    assert latent.memory.shape[: len(lead)] == lead
    assert latent.feat().shape == (*lead, model.feat_dim)
    sums = latent.stoch.detach().reshape(*lead, groups, classes).sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums))


@pytest.mark.parametrize("name", names("sequence"))
def test_protocol_and_shapes(name):
    model = build(name)
    assert isinstance(model, SequenceModel) and isinstance(model, torch.nn.Module)
    assert isinstance(model.stochastic, bool)  # part of the protocol (the world model reads it)
    embed, actions, is_first = inputs()
    post, prior = model.observe(embed, actions, is_first)
    check_latent(post, model, (B, T))
    check_latent(prior, model, (B, T))
    assert torch.equal(post.deter, prior.deter)
    state = Latent.stack([model.initial(B)], 0).map(lambda t: t[0])
    post1, prior1 = model.obs_step(state, actions[:, 0], embed[:, 0], is_first[:, 0])
    check_latent(post1, model, (B,))
    imagined = model.img_step(post1, actions[:, 1])
    check_latent(imagined, model, (B,))


@pytest.mark.parametrize("name", names("sequence"))
def test_observe_matches_stepwise_obs_step(name):
    model = build(name)
    embed, actions, is_first = inputs(1)
    with torch.no_grad():
        post, prior = model.observe(embed, actions, is_first, sample=False)
        state = model.initial(B)
        for t in range(T):
            step_post, step_prior = model.obs_step(state, actions[:, t], embed[:, t],
                                                   is_first[:, t], sample=False)
            assert torch.allclose(step_post.deter, post.deter[:, t], atol=1e-4), t
            assert torch.allclose(step_prior.logits, prior.logits[:, t], atol=1e-4), t
            state = step_post


@pytest.mark.parametrize("name", names("sequence"))
def test_is_first_resets_the_state(name):
    model = build(name)
    embed, actions, is_first = inputs(2)
    with torch.no_grad():
        full, _ = model.observe(embed, actions, is_first, sample=False)
        # sequence 1 restarts at t=4: its tail equals a fresh observe of the tail alone
        tail, _ = model.observe(embed[1:2, 4:], actions[1:2, 4:], is_first[1:2, 4:], sample=False)
    assert torch.allclose(full.deter[1, 4:], tail.deter[0], atol=1e-4)


@pytest.mark.parametrize("name", names("sequence"))
def test_gradients_reach_every_parameter_used_in_training(name):
    model = build(name).train()
    embed, actions, is_first = inputs(3)
    post, prior = model.observe(embed, actions, is_first)
    loss = post.feat().square().mean() + prior.logits.square().mean() + post.logits.mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
