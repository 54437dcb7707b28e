"""λ-returns, trajectory weights, percentile return normaliser (spec §12 items 12, 13, 15)."""

from __future__ import annotations

import pytest
import torch

from hieros_lab.behavior.returns import (
    ReturnNormalizer,
    lambda_return,
    successor_lambda_return,
    trajectory_weights,
)

# Per-state quantities of one trajectory (H = 4, N = 1).
R = torch.tensor([[0.5], [1.0], [2.0], [-1.0]])
C = torch.tensor([[0.9], [0.8], [0.5], [0.7]])
V = torch.tensor([[3.0], [4.0], [-2.0], [10.0]])


def test_lambda_one_is_discounted_monte_carlo_plus_bootstrap():
    out = successor_lambda_return(R, C, V, lam=1.0)
    # R_0 = r1 + c1 r2 + c1 c2 r3 + c1 c2 c3 v3, etc. (successor alignment)
    r0 = 1.0 + 0.8 * 2.0 + 0.8 * 0.5 * -1.0 + 0.8 * 0.5 * 0.7 * 10.0
    r1 = 2.0 + 0.5 * -1.0 + 0.5 * 0.7 * 10.0
    r2 = -1.0 + 0.7 * 10.0
    assert out.shape == (3, 1)
    torch.testing.assert_close(out[:, 0], torch.tensor([r0, r1, r2]))


def test_lambda_zero_is_one_step_td_target():
    out = successor_lambda_return(R, C, V, lam=0.0)
    expected = torch.tensor([1.0 + 0.8 * 4.0, 2.0 + 0.5 * -2.0, -1.0 + 0.7 * 10.0])
    torch.testing.assert_close(out[:, 0], expected)


def _n_step(reward, disc, value, j, n):
    """G_j^(n) = Σ_{k<n} (Π_{i<k} disc[j+i]) reward[j+k] + (Π_{i<n} disc[j+i]) value[j+n]."""
    total, scale = torch.zeros_like(value[0]), torch.ones_like(value[0])
    for k in range(n):
        total = total + scale * reward[j + k]
        scale = scale * disc[j + k]
    return total + scale * value[j + n]


def test_general_lambda_equals_mixture_of_n_step_returns():
    gen = torch.Generator().manual_seed(0)
    h, n, lam = 6, 5, 0.7
    reward, disc = torch.randn(h - 1, n, generator=gen), torch.rand(h - 1, n, generator=gen)
    value = torch.randn(h, n, generator=gen)
    out = lambda_return(reward, disc, value, lam)
    for j in range(h - 1):
        steps = h - 1 - j  # the longest n-step return from j reaches the bootstrap s_{H-1}
        mix = sum((1 - lam) * lam ** (k - 1) * _n_step(reward, disc, value, j, k)
                  for k in range(1, steps))
        mix = mix + lam ** (steps - 1) * _n_step(reward, disc, value, j, steps)
        torch.testing.assert_close(out[j], mix)


@pytest.mark.parametrize("horizon", [2, 5, 16])
def test_length_is_horizon_minus_one(horizon):
    x = torch.rand(horizon, 3)
    assert successor_lambda_return(x, x, x, 0.95).shape == (horizon - 1, 3)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        lambda_return(torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 2), 0.95)


def test_weights_are_the_discount_cumprod_over_gamma_and_do_not_increase():
    """DreamerV3 weights w_j = Π_{i<=j} disc_i / γ: w_0 = c_0 = disc_0 / γ, w_j includes c_j."""
    gamma = 0.997
    gen = torch.Generator().manual_seed(1)
    disc = gamma * torch.rand(16, 8, generator=gen)  # c <= 1
    w = trajectory_weights(disc, gamma)
    assert w.shape == (16, 8)
    torch.testing.assert_close(w[0], disc[0] / gamma)
    assert (w[1:] <= w[:-1]).all()
    torch.testing.assert_close(w[3], disc[0] * disc[1] * disc[2] * disc[3] / gamma)
    # c_0 = 1 (a non-terminal start) gives w_0 = 1; a terminal state zeroes itself and the rest.
    disc = torch.full((4, 2), gamma)
    disc[2, 1] = 0.0
    torch.testing.assert_close(trajectory_weights(disc, gamma),
                               torch.tensor([[1.0, 1.0], [gamma, gamma], [gamma**2, 0.0],
                                             [gamma**3, 0.0]]))


def test_weights_are_detached():
    disc = torch.rand(5, 2, requires_grad=True)
    assert not trajectory_weights(disc, 0.99).requires_grad


def test_normalizer_scale_at_least_one():
    norm = ReturnNormalizer()
    for _ in range(50):
        norm.update(0.01 * torch.randn(100))
    offset, scale = norm.stats()
    assert float(scale) == 1.0  # spread 0.03 << 1: clamped
    norm2 = ReturnNormalizer(decay=0.0)
    norm2.update(torch.linspace(0, 100, 101))
    torch.testing.assert_close(norm2.stats()[1], torch.tensor(90.0))


def test_normalizer_offset_converges_to_p5():
    batch = torch.linspace(-3.0, 17.0, 201)  # P5 = -2, P95 = 16
    norm = ReturnNormalizer()
    norm.update(batch)
    torch.testing.assert_close(norm.stats()[0], torch.tensor(-0.02))  # EMA from 0, α = 0.01
    for _ in range(3000):
        norm.update(batch)
    offset, scale = norm.stats()
    torch.testing.assert_close(offset, torch.tensor(-2.0), atol=1e-4, rtol=0)
    torch.testing.assert_close(scale, torch.tensor(18.0), atol=1e-3, rtol=0)


def test_normalizer_state_dict_round_trip():
    norm = ReturnNormalizer()
    norm.update(torch.arange(100.0))
    assert set(norm.state_dict()) == {"low", "high"}
    other = ReturnNormalizer()
    other.load_state_dict(norm.state_dict())
    for a, b in zip(other.stats(), norm.stats(), strict=True):
        torch.testing.assert_close(a, b)
