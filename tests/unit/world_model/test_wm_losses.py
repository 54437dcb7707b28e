"""World-model heads and loss terms (spec §2.4, §2.5; §12 items 9, 10, 11)."""

from __future__ import annotations

import functools
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from hieros_lab.nn.distributions import (
    TwoHotSymlog,
    UnimixCategorical,
    categorical_kl,
    symlog,
    two_hot,
)
from hieros_lab.sequence.s5 import S5Sequence
from hieros_lab.world_model import losses
from hieros_lab.world_model.entropy import prior_entropy
from hieros_lab.world_model.heads import ContinueHead, RewardHead
from hieros_lab.world_model.world_model import WorldModel

VALUES = [0.0, 1e-4, -0.3, 1.0, -1.0, 2.5, -17.0, 123.4, -1e4, 3e6]


@pytest.mark.parametrize("y", VALUES)
def test_two_hot_invariants(y: float) -> None:
    bins = torch.linspace(-20.0, 20.0, 255, dtype=torch.float64)
    target = two_hot(symlog(torch.tensor([y], dtype=torch.float64)), bins)[0]
    nonzero = target.nonzero().flatten()
    assert len(nonzero) <= 2 and torch.all(target >= 0)
    if len(nonzero) == 2:
        assert nonzero[1] - nonzero[0] == 1  # adjacent bins
    assert math.isclose(float(target.sum()), 1.0, abs_tol=1e-12)
    assert math.isclose(float((target * bins).sum()), float(symlog(torch.tensor(y))),
                        rel_tol=1e-6, abs_tol=1e-9)
    # A distribution equal to the target predicts y back (mean inverts the encoding).
    dist = TwoHotSymlog(torch.log(target))
    assert math.isclose(float(dist.mean()), y, rel_tol=1e-6, abs_tol=1e-9)


def test_reward_head_zero_init_and_loss() -> None:
    head = RewardHead(6, units=8, layers=2, bins=255)
    feat = torch.randn(2, 3, 6)
    dist = head(feat)
    assert dist.logits.shape == (2, 3, 255)
    torch.testing.assert_close(dist.mean(), torch.zeros(2, 3), atol=1e-5, rtol=0)
    reward = torch.tensor([[0.0, 1.0, -2.0], [5.0, 0.5, 0.0]])
    # Uniform logits: -log p of any two-hot target is log(255).
    torch.testing.assert_close(losses.reward_loss(dist, reward), torch.tensor(math.log(255.0)))
    sharp = TwoHotSymlog(torch.log(two_hot(symlog(reward), dist.bins)).clamp(min=-1e4))
    assert float(losses.reward_loss(sharp, reward)) < 0.7  # two-hot entropy <= log 2


def test_continue_head_and_loss_target() -> None:
    head = ContinueHead(6, units=8, layers=2)
    logits = head(torch.randn(2, 3, 6))
    assert logits.shape == (2, 3)
    is_terminal = torch.tensor([[False, False, True], [False, True, False]])
    big = torch.where(is_terminal, -30.0, 30.0)
    assert float(losses.cont_loss(big, is_terminal)) < 1e-6
    assert float(losses.cont_loss(-big, is_terminal)) > 29.0


def test_image_and_vector_losses_sum_then_mean() -> None:
    obs = torch.randint(0, 256, (2, 3, 4, 4, 3), dtype=torch.uint8)
    exact = obs.float() / 255.0 - 0.5
    assert float(losses.image_loss(exact, obs)) < 1e-10
    # An error of 0.1 on every pixel: sum over 4*4*3 = 48 values -> 0.48, mean over (B, T).
    torch.testing.assert_close(losses.image_loss(exact + 0.1, obs), torch.tensor(0.48))
    vec = 50.0 * torch.randn(2, 3, 5)
    assert float(losses.vector_loss(symlog(vec), vec)) < 1e-10
    torch.testing.assert_close(losses.vector_loss(symlog(vec) - 0.2, vec), torch.tensor(0.2))


def _logits(seed: int, shape: tuple[int, ...], scale: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return UnimixCategorical(scale * torch.randn(*shape, generator=gen)).logits


def test_free_bits_clip_per_step_before_averaging() -> None:
    b, t, g, c = 3, 4, 4, 5
    post = _logits(0, (b, t, g, c), 3.0).requires_grad_(True)
    prior_raw = _logits(1, (b, t, g, c), 3.0)
    # Make half the steps nearly agree (KL < 1) and the others disagree (KL > 1).
    close = torch.zeros(b, t, dtype=torch.bool)
    close[:, ::2] = True
    prior = torch.where(close[..., None, None], post.detach() + 0.01, prior_raw)
    prior = torch.log_softmax(prior, -1).requires_grad_(True)
    kl = categorical_kl(post.detach(), prior.detach())
    assert torch.all(kl[close] < 1.0) and torch.all(kl[~close] > 1.0)
    free = 1.0
    dyn, rep, raw = losses.kl_balance(post, prior, free)
    assert float(dyn.detach()) >= free and float(rep.detach()) >= free
    torch.testing.assert_close(raw, kl)
    torch.testing.assert_close(dyn, kl.clamp(min=free).mean())  # per step, then mean
    assert float(dyn.detach()) > max(free, float(kl.mean()))  # not max(free, mean KL)
    # KL balancing: dyn trains only the prior, rep only the posterior.
    (grad_prior_dyn,) = torch.autograd.grad(dyn, prior, retain_graph=True)
    assert torch.autograd.grad(dyn, post, retain_graph=True, allow_unused=True)[0] is None
    (grad_post_rep,) = torch.autograd.grad(rep, post, retain_graph=True)
    assert torch.autograd.grad(rep, prior, allow_unused=True)[0] is None
    for grad in (grad_prior_dyn, grad_post_rep):
        assert torch.all(grad[close] == 0)
        assert torch.all(grad[~close].flatten(1).abs().sum(-1) > 0)


def test_free_bits_floor_when_all_kl_small() -> None:
    post = _logits(2, (2, 3, 4, 5), 1.0)
    dyn, rep, raw = losses.kl_balance(post, post.clone(), free=1.0)
    assert float(dyn) == 1.0 and float(rep) == 1.0
    assert float(raw.abs().max()) < 1e-6


def test_unimix_floor_of_latent_and_action_distributions() -> None:
    logits = torch.tensor([[[80.0, -80.0, -80.0, -80.0]]])
    dist = UnimixCategorical(logits, unimix=0.01)
    assert torch.all(dist.probs >= 0.01 / 4 - 1e-9)
    torch.testing.assert_close(dist.probs.sum(-1), torch.ones(1, 1))


# ----------------------------------------------------------------------------- no_stoch (spec §2.5)
def test_logit_mse_balance_equals_hand_computed_clipped_squared_errors() -> None:
    b, t, g, c = 3, 4, 2, 3
    gen = torch.Generator().manual_seed(5)
    post = torch.randn(b, t, g, c, generator=gen, dtype=torch.float64)
    prior = post + 0.05 * torch.randn(b, t, g, c, generator=gen, dtype=torch.float64)
    prior[:, 1::2] += 2.0 * torch.randn(b, 2, g, c, generator=gen, dtype=torch.float64)
    se = [sum(float(post[i, j, k, m] - prior[i, j, k, m]) ** 2
              for k in range(g) for m in range(c)) for i in range(b) for j in range(t)]
    se_t = torch.tensor(se, dtype=torch.float64).view(b, t)
    post.requires_grad_(True)
    prior.requires_grad_(True)
    free = 1.0
    dyn, rep, raw = losses.logit_mse_balance(post, prior, free)
    small = se_t < free
    assert small.any() and (~small).any()
    expected = se_t.clamp(min=free).mean()
    torch.testing.assert_close(raw, se_t)
    torch.testing.assert_close(dyn.detach(), expected)
    torch.testing.assert_close(rep.detach(), expected)
    # Balancing: dyn trains only the prior, rep only the posterior; clipped steps get no grad.
    (g_prior,) = torch.autograd.grad(dyn, prior, retain_graph=True)
    assert torch.autograd.grad(dyn, post, retain_graph=True, allow_unused=True)[0] is None
    (g_post,) = torch.autograd.grad(rep, post, retain_graph=True)
    assert torch.autograd.grad(rep, prior, allow_unused=True)[0] is None
    diff = (post - prior).detach()
    unclipped = (~small)[..., None, None].to(diff.dtype)
    torch.testing.assert_close(g_prior, -2.0 * diff * unclipped / (b * t))
    torch.testing.assert_close(g_post, 2.0 * diff * unclipped / (b * t))


def _vector_world_model(stochastic: bool) -> WorldModel:
    torch.manual_seed(0)
    seq = functools.partial(S5Sequence, model_dim=8, state_dim=4, num_blocks=1, init_blocks=1,
                            deter_dim=8, hidden=8, stoch_groups=2, stoch_classes=3,
                            stochastic=stochastic)
    space = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)
    return WorldModel(space, 3, seq, entropy_input=prior_entropy, mlp_units=8, head_units=8,
                      warmup=0)


@pytest.mark.parametrize("stochastic", [True, False])
def test_world_model_picks_loss_from_sequence_stochastic_attribute(stochastic: bool) -> None:
    model = _vector_world_model(stochastic)
    gen = torch.Generator().manual_seed(1)
    b, t = 2, 5
    is_first = torch.zeros(b, t, dtype=torch.bool)
    is_first[:, 0] = True
    batch = {"obs": torch.randn(b, t, 5, generator=gen),
             "action": torch.nn.functional.one_hot(torch.randint(0, 3, (b, t), generator=gen),
                                                   3).float(),
             "reward": torch.randn(b, t, generator=gen), "is_first": is_first,
             "is_last": torch.zeros(b, t, dtype=torch.bool),
             "is_terminal": torch.zeros(b, t, dtype=torch.bool)}
    torch.manual_seed(2)
    _, post, prior, metrics = model.loss(batch)
    balance = losses.kl_balance if stochastic else losses.logit_mse_balance
    dyn, rep, kl = balance(post.logits, prior.logits, model.free_nats)
    assert metrics["dyn_loss"] == pytest.approx(float(dyn.detach()), rel=1e-5)
    assert metrics["rep_loss"] == pytest.approx(float(rep.detach()), rel=1e-5)
    assert metrics["kl"] == pytest.approx(float(kl.mean()), rel=1e-5)
    assert all(math.isfinite(v) for v in metrics.values())
    # Deterministic: z is the raw logits and the "KL" is the squared logit error, not a KL.
    se = (post.logits - prior.logits).detach().square().sum((-2, -1)).mean()
    assert (metrics["kl"] == pytest.approx(float(se), rel=1e-5)) is not stochastic
    pred = model.predict(model.start_states(post, prior))
    assert torch.isfinite(model.actor_input(model.start_states(post, prior), pred)).all()
    assert torch.all(pred["entropy"] >= 0) and torch.all(pred["entropy"] <= 2 * math.log(3) + 1e-5)
    if not stochastic:
        torch.testing.assert_close(post.stoch, post.logits.flatten(-2))
