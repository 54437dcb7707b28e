"""S5WM sequence model (spec §2.3; §12 items 1, 5, 6, 8, 11): observe vs step, causality, state."""

from __future__ import annotations

from pathlib import Path

import gin
import pytest
import torch

from hieros_lab.nn.distributions import symlog
from hieros_lab.registry import entries
from hieros_lab.sequence.base import Latent, SequenceModel
from hieros_lab.sequence.s5 import S5Sequence

E, A, G, C, D, MD, P, NB = 12, 3, 4, 5, 10, 16, 8, 2



def _model(seed: int = 0, **kw) -> S5Sequence:
    torch.manual_seed(seed)
    args = dict(embed_dim=E, action_dim=A, model_dim=MD, state_dim=P, num_blocks=NB,
                init_blocks=2, deter_dim=D, hidden=16, stoch_groups=G, stoch_classes=C)
    model = S5Sequence(**{**args, **kw}).double()
    with torch.no_grad():  # a non-zero learned token, so z0 is not trivially the zero-input mode
        model.init_token.normal_()
    return model


def _inputs(seed: int, b: int = 3, t: int = 10, p_first: float = 0.2):
    gen = torch.Generator().manual_seed(seed)
    embed = torch.randn(b, t, E, generator=gen, dtype=torch.float64)
    action = torch.nn.functional.one_hot(torch.randint(0, A, (b, t), generator=gen), A).double()
    first = torch.rand(b, t, generator=gen) < p_first
    first[:, 0] = True
    action = action * (~first).double().unsqueeze(-1)
    return embed, action, first


def _close(x: Latent, y: Latent, atol: float = 1e-9) -> None:
    for name in ("stoch", "logits", "deter", "memory"):
        torch.testing.assert_close(getattr(x, name), getattr(y, name), atol=atol, rtol=0,
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_registered_and_protocol() -> None:
    assert entries("sequence")["s5"].target is S5Sequence
    model = _model()
    assert isinstance(model, SequenceModel)
    assert model.feat_dim == G * C + D


def test_gin_binding_applies_through_registry() -> None:
    gin.parse_config("sequence.s5.num_blocks = 1\nsequence.s5.state_dim = 4")
    model = gin.get_configurable("sequence.s5")(embed_dim=E, action_dim=A, model_dim=MD,
                                                init_blocks=2, deter_dim=D)
    assert len(model.blocks) == 1 and model.initial(2).memory.shape == (2, 2, 4)


def test_latent_shapes() -> None:
    model = _model().float()
    embed, action, first = (x.float() if x.is_floating_point() else x for x in _inputs(0))
    post, prior = model.observe(embed, action, first)
    for lat in (post, prior):
        assert lat.stoch.shape == (3, 10, G * C) and lat.logits.shape == (3, 10, G, C)
        assert lat.deter.shape == (3, 10, D) and lat.memory.shape == (3, 10, 2 * NB, P)
        assert lat.memory.dtype == torch.complex64 and lat.feat().shape == (3, 10, model.feat_dim)
    init = model.initial(5)
    assert (init.stoch.shape, init.logits.shape, init.deter.shape, init.memory.shape) == (
        (5, G * C), (5, G, C), (5, D), (5, 2 * NB, P))
    post1, prior1 = model.obs_step(model.initial(3), action[:, 0], embed[:, 0], first[:, 0])
    img = model.img_step(post1.flatten(1), action[:, 1])
    for lat in (post1, prior1, img):
        assert lat.stoch.shape == (3, G * C) and lat.memory.shape == (3, 2 * NB, P)
    # One-hot samples and unimix floor (spec §12 item 11).
    assert torch.allclose(post.stoch.unflatten(-1, (G, C)).sum(-1), torch.ones(3, 10, G))
    assert (prior.logits.exp() >= 0.01 / C - 1e-7).all()


def test_observe_equals_iterated_obs_step() -> None:
    model = _model(1)
    embed, action, first = _inputs(1, t=12, p_first=0.25)
    post, prior = model.observe(embed, action, first, sample=False)
    state = model.initial(3)
    for t in range(12):
        step_post, step_prior = model.obs_step(state, action[:, t], embed[:, t], first[:, t],
                                               sample=False)
        _close(step_post, post.map(lambda x, t=t: x[:, t]))
        _close(step_prior, prior.map(lambda x, t=t: x[:, t]))
        state = step_post


def test_causality_of_prior() -> None:
    model = _model(2)
    embed, action, first = _inputs(2, b=2, t=9, p_first=0.0)
    _, prior = model.observe(embed, action, first, sample=False)
    k = 5
    embed2, action2 = embed.clone(), action.clone()
    embed2[:, k:] += torch.randn_like(embed2[:, k:])
    action2[:, k + 1:] = action2[:, k + 1:].flip(-1)
    _, prior2 = model.observe(embed2, action2, first, sample=False)
    for name in ("logits", "deter", "memory"):
        torch.testing.assert_close(getattr(prior2, name)[:, :k + 1],
                                   getattr(prior, name)[:, :k + 1], atol=1e-12, rtol=0)
    assert not torch.allclose(prior2.deter[:, k + 1:], prior.deter[:, k + 1:])
    # prev_action[k] = a_{k-1} is allowed to (and does) affect the prior at k.
    action3 = action.clone()
    action3[:, k] = 1.0 - action3[:, k]
    _, prior3 = model.observe(embed, action3, first, sample=False)
    assert not torch.allclose(prior3.logits[:, k], prior.logits[:, k])


def test_initial_state_at_is_first() -> None:
    model = _model(3)
    embed, action, first = _inputs(3, b=2, t=8, p_first=0.0)
    k = 4
    first[:, k] = True
    post, prior = model.observe(embed, action, first, sample=False)
    # At is_first: S5 memory from zero, stochastic input z0, action zero; step mode agrees.
    init = model.initial(2)
    expected = model.img_step(init, torch.zeros(2, A, dtype=torch.float64), sample=False)
    _close(prior.map(lambda x: x[:, k]), expected)
    _close(prior.map(lambda x: x[:, 0]), expected)
    # Garbage previous state and action are ignored by obs_step where is_first.
    junk = Latent(torch.rand(2, G * C, dtype=torch.float64), torch.rand(2, G, C).double(),
                  torch.rand(2, D).double(), torch.randn(2, 2 * NB, P, dtype=torch.complex128))
    _, prior_step = model.obs_step(junk, torch.ones(2, A).double(), embed[:, k], first[:, k], False)
    _close(prior_step, expected)
    # The learned token matters: z0 is the prior mode from GELU(W).
    z0 = init.stoch.unflatten(-1, (G, C))
    assert torch.equal(z0.argmax(-1), model.prior_head(torch.nn.functional.gelu(
        model.init_token)).argmax(-1).expand(2, G))
    assert torch.equal(init.memory, torch.zeros_like(init.memory))


def test_state_continuation() -> None:
    model = _model(4)
    embed, action, first = _inputs(4, b=3, t=11, p_first=0.15)
    post, prior = model.observe(embed, action, first, sample=False)
    for k in (1, 6):
        p1, q1 = model.observe(embed[:, :k], action[:, :k], first[:, :k], sample=False)
        p2, q2 = model.observe(embed[:, k:], action[:, k:], first[:, k:],
                               state=p1.map(lambda x: x[:, -1]), sample=False)
        _close(p1, post.map(lambda x, k=k: x[:, :k]))
        _close(p2, post.map(lambda x, k=k: x[:, k:]))
        _close(q2, prior.map(lambda x, k=k: x[:, k:]))
    # The carried memory really matters when step k is not a reset.
    zero = p1.map(lambda x: x[:, -1])
    zero.memory = torch.zeros_like(zero.memory)
    p3, _ = model.observe(embed[:, 6:], action[:, 6:], first[:, 6:], state=zero, sample=False)
    cont = ~first[:, 6]
    assert cont.any() and not torch.allclose(p3.deter[cont, 0], post.deter[cont, 6])


def test_prior_from_m_not_h_and_deter_modes() -> None:
    model = _model(5)
    embed, action, first = _inputs(5)
    _, prior = model.observe(embed, action, first, sample=False)
    with torch.no_grad():
        model.state_out.weight.mul_(3.0)
    _, prior2 = model.observe(embed, action, first, sample=False)
    torch.testing.assert_close(prior2.logits, prior.logits)   # prior does not read h
    assert not torch.allclose(prior2.deter, prior.deter)      # h = symlog(state_out(Re x))
    re = prior.memory.real.flatten(-2)
    torch.testing.assert_close(prior2.deter, symlog(model.state_out(re)))
    # state_as_deter=False: h = symlog(m_t), independent of state_out.
    alt = _model(5, state_as_deter=False, deter_dim=MD)
    _, prior3 = alt.observe(embed, action, first, sample=False)
    with torch.no_grad():
        alt.state_out.weight.zero_()
    _, prior4 = alt.observe(embed, action, first, sample=False)
    torch.testing.assert_close(prior3.deter, prior4.deter)
    assert prior3.deter.shape[-1] == MD
    with pytest.raises(ValueError):
        _model(5, state_as_deter=False, deter_dim=MD + 1)


def test_posterior_depends_on_embedding_only() -> None:
    model = _model(6)
    embed, action, first = _inputs(6)
    post, _ = model.observe(embed, action, first, sample=False)
    embed2 = embed.clone()
    embed2[:, 3] += 1.0
    post2, _ = model.observe(embed2, action.flip(-1), first, sample=False)
    others = [t for t in range(10) if t != 3]
    torch.testing.assert_close(post2.logits[:, others], post.logits[:, others])
    assert not torch.allclose(post2.logits[:, 3], post.logits[:, 3])


def test_gradients_reach_every_parameter() -> None:
    model = _model(7).float()
    embed, action, first = (x.float() if x.is_floating_point() else x for x in _inputs(7))
    post, prior = model.observe(embed, action, first)
    loss = post.deter.square().mean() + (prior.logits.exp() * post.logits).sum(-1).mean()
    loss = loss + post.stoch.sum() * 0.0 + (prior.stoch * torch.randn_like(prior.stoch)).mean()
    loss.backward()
    for name, par in model.named_parameters():
        assert par.grad is not None and torch.isfinite(par.grad).all(), name
        assert par.grad.abs().sum() > 0, name


# ----------------------------------------------------------------------------- no_stoch (spec §8)
def test_deterministic_latent_is_raw_logits_without_sampling() -> None:
    model = _model(8, stochastic=False)
    assert model.stochastic is False and _model(8).stochastic is True
    embed, action, first = _inputs(8)
    torch.manual_seed(123)
    post, prior = model.observe(embed, action, first)         # sample=True is ignored
    torch.manual_seed(456)
    post2, prior2 = model.observe(embed, action, first)
    _close(post, post2, atol=0)
    _close(prior, prior2, atol=0)
    # z = raw head logits (no unimix, no one-hot), logits kept unnormalised.
    torch.testing.assert_close(post.logits, model.post_head(embed), atol=0, rtol=0)
    torch.testing.assert_close(post.stoch, post.logits.flatten(-2), atol=0, rtol=0)
    torch.testing.assert_close(prior.stoch, prior.logits.flatten(-2), atol=0, rtol=0)
    assert not torch.allclose(post.logits.exp().sum(-1), torch.ones_like(post.logits[..., 0]))
    init = model.initial(2)
    raw0 = model.prior_head(torch.nn.functional.gelu(model.init_token))
    torch.testing.assert_close(init.stoch, raw0.flatten().expand(2, -1), atol=0, rtol=0)
    # The same weights in stochastic mode sample one-hot z instead.
    stoch_model = _model(8)
    sp, _ = stoch_model.observe(embed, action, first)
    torch.testing.assert_close(sp.stoch.unflatten(-1, (G, C)).sum(-1),
                               torch.ones(3, 10, G, dtype=torch.float64))


def test_deterministic_observe_equals_iterated_obs_step() -> None:
    model = _model(9, stochastic=False)
    embed, action, first = _inputs(9, t=12, p_first=0.25)
    post, prior = model.observe(embed, action, first)
    state = model.initial(3)
    for t in range(12):
        step_post, step_prior = model.obs_step(state, action[:, t], embed[:, t], first[:, t])
        _close(step_post, post.map(lambda x, t=t: x[:, t]))
        _close(step_prior, prior.map(lambda x, t=t: x[:, t]))
        state = step_post
    img = model.img_step(post.map(lambda x: x[:, -1]), action[:, -1])
    torch.testing.assert_close(img.stoch, img.logits.flatten(-2), atol=0, rtol=0)


def test_deterministic_gradients_reach_every_parameter() -> None:
    model = _model(10, stochastic=False).float()
    embed, action, first = (x.float() if x.is_floating_point() else x for x in _inputs(10))
    post, prior = model.observe(embed, action, first)
    loss = (post.logits - prior.logits).square().mean() + post.deter.square().mean()
    loss.backward()
    for name, par in model.named_parameters():
        assert par.grad is not None and torch.isfinite(par.grad).all(), name
        assert par.grad.abs().sum() > 0, name


def test_stochastic_gin_binding() -> None:
    gin_dir = Path(__file__).resolve().parents[3] / "gin"
    gin.parse_config_file(str(gin_dir / "sequence" / "s5_deterministic.gin"))
    model = gin.get_configurable("sequence.s5")(embed_dim=E, action_dim=A, model_dim=MD,
                                                state_dim=P, num_blocks=1, init_blocks=2,
                                                deter_dim=D, hidden=16, stoch_groups=G,
                                                stoch_classes=C)
    assert model.stochastic is False


def test_obs_step_builds_the_initial_state_only_when_an_episode_starts(monkeypatch) -> None:
    """The reset is skipped when no env starts an episode (a saving of one prior-head pass per
    acting step); the step is the same with and without the skip."""
    model = _model()
    embed, action, _ = _inputs(2)
    state, _ = model.obs_step(model.initial(3), action[:, 0], embed[:, 0],
                              torch.ones(3, dtype=torch.bool))
    none_first = torch.zeros(3, dtype=torch.bool)
    torch.manual_seed(5)
    expected = model.obs_step(state, action[:, 1], embed[:, 1], none_first)
    calls: list[int] = []
    original = model.initial
    monkeypatch.setattr(model, "initial", lambda b: calls.append(b) or original(b))
    torch.manual_seed(5)
    got = model.obs_step(state, action[:, 1], embed[:, 1], none_first)
    assert calls == []
    for a, b in zip(got, expected, strict=True):
        _close(a, b, atol=0.0)
    model.obs_step(state, action[:, 1], embed[:, 1], torch.tensor([False, True, False]))
    assert calls == [3]
