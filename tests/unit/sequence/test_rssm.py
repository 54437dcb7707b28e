"""RSSM sequence model (spec §8 "RSSM details"; §12 items 1, 2, 6, 11 in their RSSM form)."""

from __future__ import annotations

import gin
import pytest
import torch

from hieros_lab.registry import entries
from hieros_lab.sequence.base import Latent, SequenceModel
from hieros_lab.sequence.rssm import LayerNormGRUCell, RSSMSequence

E, A, G, C, D, HID = 12, 3, 4, 5, 10, 16



def _model(seed: int = 0, **kw) -> RSSMSequence:
    torch.manual_seed(seed)
    args = dict(embed_dim=E, action_dim=A, deter_dim=D, hidden=HID, stoch_groups=G,
                stoch_classes=C)
    model = RSSMSequence(**{**args, **kw}).double()
    with torch.no_grad():  # non-zero learned h0, so the initial state is not trivially zero
        model.init_weight.normal_()
    return model


def _inputs(seed: int, b: int = 3, t: int = 10, p_first: float = 0.2):
    gen = torch.Generator().manual_seed(seed)
    embed = torch.randn(b, t, E, generator=gen, dtype=torch.float64)
    action = torch.nn.functional.one_hot(torch.randint(0, A, (b, t), generator=gen), A).double()
    first = torch.rand(b, t, generator=gen) < p_first
    first[:, 0] = True
    return embed, action * (~first).double().unsqueeze(-1), first


def _close(x: Latent, y: Latent, atol: float = 1e-9) -> None:
    for name in ("stoch", "logits", "deter", "memory"):
        torch.testing.assert_close(getattr(x, name), getattr(y, name), atol=atol, rtol=0,
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_registered_and_protocol() -> None:
    assert entries("sequence")["rssm"].target is RSSMSequence
    model = _model()
    assert isinstance(model, SequenceModel)
    assert (model.stoch_groups, model.stoch_classes, model.deter_dim) == (G, C, D)
    assert model.feat_dim == G * C + D


def test_gin_binding_applies_through_registry() -> None:
    gin.parse_config("sequence.rssm.deter_dim = 7\nsequence.rssm.stoch_groups = 2")
    model = gin.get_configurable("sequence.rssm")(embed_dim=E, action_dim=A, hidden=8,
                                                  stoch_classes=3)
    assert (model.deter_dim, model.stoch_groups, model.feat_dim) == (7, 2, 2 * 3 + 7)


def test_paper_size_parameter_count() -> None:
    # spec §7.3: the RSSM ablation's dynamics module has ~2.11 M parameters at level 0
    # (deter 256, hidden 256, 32x32 latent, embed 3072, 18 actions).
    model = RSSMSequence(embed_dim=3072, action_dim=18)
    assert sum(p.numel() for p in model.parameters()) == 2_107_136


def test_shapes() -> None:
    model = _model()
    embed, action, first = _inputs(0, b=3, t=7)
    post, prior = model.observe(embed, action, first)
    for lat in (post, prior):
        assert lat.stoch.shape == (3, 7, G * C) and lat.logits.shape == (3, 7, G, C)
        assert lat.deter.shape == (3, 7, D) and lat.memory.shape == (3, 7, D)
        assert lat.feat().shape == (3, 7, model.feat_dim)
    torch.testing.assert_close(post.deter, prior.deter, atol=0, rtol=0)
    init = model.initial(3)
    assert init.stoch.shape == (3, G * C) and init.deter.shape == (3, D)
    step_post, step_prior = model.obs_step(init, action[:, 0], embed[:, 0], first[:, 0])
    assert step_post.stoch.shape == (3, G * C) and step_prior.logits.shape == (3, G, C)
    img = model.img_step(step_post, action[:, 1])
    assert img.stoch.shape == (3, G * C) and img.deter.shape == (3, D)


def test_samples_are_one_hot_per_group() -> None:
    model = _model()
    embed, action, first = _inputs(1)
    post, prior = model.observe(embed, action, first, sample=True)
    for lat in (post, prior):
        # Straight-through values equal the one-hot up to rounding of (sample + p - p).
        z = lat.stoch.detach().unflatten(-1, (G, C))
        hard = z.round()
        torch.testing.assert_close(z, hard, atol=1e-12, rtol=0)
        assert torch.all((hard == 0) | (hard == 1)) and torch.all(hard.sum(-1) == 1)


def test_initial_state_is_learned_h0_and_prior_mode() -> None:
    model = _model()
    init = model.initial(2)
    torch.testing.assert_close(init.deter, torch.tanh(model.init_weight).expand(2, D))
    expected = torch.nn.functional.one_hot(model.prior_head(init.deter).argmax(-1), C)
    torch.testing.assert_close(init.stoch.detach(), expected.double().flatten(-2))
    init.deter.sum().backward()
    assert model.init_weight.grad is not None and model.init_weight.grad.abs().sum() > 0
    # W is initialised to 0, so a fresh model starts from h0 = 0.
    fresh = RSSMSequence(embed_dim=E, action_dim=A, deter_dim=D, hidden=HID,
                         stoch_groups=G, stoch_classes=C)
    assert torch.all(fresh.initial(1).deter == 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_observe_equals_iterated_obs_step(seed: int) -> None:
    model = _model(seed)
    embed, action, first = _inputs(seed, b=4, t=9, p_first=0.3)
    post, prior = model.observe(embed, action, first, sample=False)
    state = model.initial(4)
    posts, priors = [], []
    for t in range(embed.shape[1]):
        state, step_prior = model.obs_step(state, action[:, t], embed[:, t], first[:, t],
                                           sample=False)
        posts.append(state)
        priors.append(step_prior)
    _close(post, Latent.stack(posts, 1))
    _close(prior, Latent.stack(priors, 1))


def test_observe_continues_from_given_state() -> None:
    model = _model(3)
    embed, action, first = _inputs(3, b=2, t=8, p_first=0.0)
    first[:, 4] = False
    full_post, _ = model.observe(embed, action, first, sample=False)
    head_post, _ = model.observe(embed[:, :4], action[:, :4], first[:, :4], sample=False)
    start = head_post.map(lambda x: x[:, -1])
    tail_post, _ = model.observe(embed[:, 4:], action[:, 4:], first[:, 4:], state=start,
                                 sample=False)
    _close(tail_post, full_post.map(lambda x: x[:, 4:]))


def test_reset_at_is_first_isolates_the_past() -> None:
    model = _model(4)
    embed, action, first = _inputs(4, b=2, t=10, p_first=0.0)
    first[:, 5] = True
    embed.requires_grad_(True)
    post, prior = model.observe(embed, action, first, sample=False)
    # At a reset the state equals a fresh start from the initial state with a zero action.
    fresh_post, fresh_prior = model.observe(embed[:, 5:], action[:, 5:], first[:, 5:],
                                            sample=False)
    _close(post.map(lambda x: x[:, 5:]), fresh_post)
    _close(prior.map(lambda x: x[:, 5:]), fresh_prior)
    # No gradient from post-reset outputs into pre-reset inputs; some into post-reset ones.
    (post.deter[:, 5:].sum() + post.logits[:, 5:].sum()).backward()
    assert torch.all(embed.grad[:, :5] == 0)
    assert embed.grad[:, 5:].abs().sum() > 0


def test_observe_zeroes_actions_at_is_first() -> None:
    model = _model(5)
    embed, action, first = _inputs(5, b=2, t=6, p_first=0.0)
    first[:, 3] = True
    noisy = action.clone()
    noisy[:, 3] = torch.randn(2, A, dtype=torch.float64)
    _close(model.observe(embed, action, first, sample=False)[0],
           model.observe(embed, noisy, first, sample=False)[0])


def test_prior_is_causal_and_gradients_flow_through_time() -> None:
    model = _model(6)
    embed, action, first = _inputs(6, b=2, t=8, p_first=0.0)
    embed.requires_grad_(True)
    post, prior = model.observe(embed, action, first, sample=True)
    prior.logits[:, 5].sum().backward()
    # The prior at t depends on embed[< t] (through z_{t-1}, straight-through), not embed[>= t].
    assert torch.all(embed.grad[:, 5:] == 0)
    assert embed.grad[:, 4].abs().sum() > 0 and embed.grad[:, 1].abs().sum() > 0


def test_unimix_floor() -> None:
    model = _model(7, unimix=0.01)
    with torch.no_grad():  # extreme logits: without the mix some probabilities would underflow
        for head in (model.prior_head, model.post_head):
            head.net.out.weight.mul_(1e3)
    embed, action, first = _inputs(7)
    post, prior = model.observe(embed, action, first)
    for lat in (post, prior, model.initial(2)):
        assert torch.all(lat.logits.exp() >= 0.01 / C - 1e-12)
        torch.testing.assert_close(lat.logits.exp().sum(-1), torch.ones(lat.logits.shape[:-1],
                                                                         dtype=torch.float64))


def test_gru_cell_update_bias_and_layer_norm() -> None:
    cell = LayerNormGRUCell(3, 4).double()
    with torch.no_grad():
        cell.layer.weight.zero_()
    h = torch.randn(5, 4, dtype=torch.float64)
    # Zero pre-activations -> LN gives 0: reset 0.5, candidate tanh(0) = 0, update sigmoid(-1).
    out = cell(torch.randn(5, 3, dtype=torch.float64), h)
    keep = 1.0 - torch.sigmoid(torch.tensor(-1.0, dtype=torch.float64))
    torch.testing.assert_close(out, keep * h)
    with torch.no_grad():
        cell.layer.weight.normal_()
    out = cell(torch.randn(5, 3, dtype=torch.float64), h)
    assert torch.all(out.abs() <= torch.maximum(h.abs(), torch.ones_like(h)) + 1e-12)
