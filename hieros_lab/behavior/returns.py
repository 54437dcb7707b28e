"""λ-returns, trajectory weights and the percentile return normaliser (spec §4.3, §4.4).

Conventions (H = imagination horizon in states, N = flattened starts):

* ``value[j]`` = v(s_j) for the imagined states s_0 .. s_{H-1};
* ``discount[j]`` = c_j = γ · P(cont | s_j) (the probability that s_j is not terminal);
* ``reward[j]`` = r(s_j), the reward predicted *into* s_j.

:func:`lambda_return` is the pure recursion; *which* rewards and discounts it gets decides the
alignment. :func:`successor_lambda_return` is the correct DreamerV3 alignment used by default,
where the return of s_j starts with the reward and continue of its successor s_{j+1}. The
authors' variant (spec §4.2, bug B2: the reward into s_j counts for s_j) would be
``lambda_return(reward[:-1], discount[:-1], value, lam)``.
"""

from __future__ import annotations

import torch
from torch import nn


def lambda_return(reward: torch.Tensor, discount: torch.Tensor, value: torch.Tensor,
                  lam: float) -> torch.Tensor:
    """TD(λ) returns over an imagined trajectory.

    Args:
        reward: ``[H-1, N]``; ``reward[j]`` is the reward credited to the step leaving s_j.
        discount: ``[H-1, N]``; ``discount[j]`` multiplies everything after that reward.
        value: ``[H, N]``; ``value[j]`` = v(s_j), the bootstrap values.
        lam: λ in [0, 1].
    Returns:
        ``R [H-1, N]`` with ``R_j = reward[j] + discount[j] · ((1−λ) value[j+1] + λ R_{j+1})`` for
        j = 0 .. H−2, where ``R_{H-1} = value[H-1]`` (bootstrap). λ = 1 gives the discounted
        Monte-Carlo sum plus the discounted bootstrap; λ = 0 gives ``reward[j] + discount[j]
        value[j+1]``.
    """
    horizon = value.shape[0]
    if reward.shape != discount.shape or reward.shape != (horizon - 1, *value.shape[1:]):
        raise ValueError(f"lambda_return shapes: reward {tuple(reward.shape)}, discount "
                         f"{tuple(discount.shape)}, value {tuple(value.shape)} (need [H-1], [H])")
    # The (1-λ)-bootstrap part does not depend on the recursion: compute it for all j at once.
    base = reward + discount * (1.0 - lam) * value[1:]
    out = [value[-1]]
    for j in reversed(range(horizon - 1)):
        out.append(base[j] + discount[j] * lam * out[-1])
    return torch.stack(out[:0:-1])


def successor_lambda_return(reward: torch.Tensor, discount: torch.Tensor, value: torch.Tensor,
                            lam: float) -> torch.Tensor:
    """Correct (DreamerV3) alignment: ``R_j = r_{j+1} + c_{j+1}[(1−λ) v_{j+1} + λ R_{j+1}]``.

    ``reward``, ``discount``, ``value``: per state, ``[H, N]`` -> ``[H-1, N]``.
    """
    return lambda_return(reward[1:], discount[1:], value, lam)


def trajectory_weights(discount: torch.Tensor, gamma: float) -> torch.Tensor:
    """Weights ``w_j = Π_{i≤j} discount_i / γ`` (DreamerV3), ``[H, N]`` -> ``[H, N]``, detached.

    ``discount[j]`` = γ·c_j with c_0 = 1 − is_terminal(start) and c_j = P(cont | s_j) after
    it, so w_0 = c_0 and w_j = γ^j Π_{i≤j} c_i. The weight of s_j includes its own c_j: a
    terminal state (c_j = 0), every state after it, and a terminal replay start get weight 0,
    which matches the successor alignment of the returns (their R_j continues past s_j only
    through c_{j+1}). The authors' Π_{i<j} c_i (spec §4.3) fits their misaligned returns (B2)
    and trains a terminal state at full weight.
    """
    discount = discount.detach()
    return torch.cumprod(discount, 0) / gamma


class ReturnNormalizer(nn.Module):
    """EMA of the 5th and 95th return percentiles (spec §4.4, DreamerV3 ``RewardEMA``).

    ``offset = P5_ema`` and ``scale = max(1, P95_ema − P5_ema)``. Both EMAs start at 0 and move
    by ``1 − decay`` per :meth:`update`. They are buffers, so ``state_dict`` checkpoints them.
    """

    low: torch.Tensor
    high: torch.Tensor
    quantiles: torch.Tensor

    def __init__(self, decay: float = 0.99, low: float = 0.05, high: float = 0.95,
                 min_scale: float = 1.0) -> None:
        super().__init__()
        self.decay, self.min_scale = decay, min_scale
        self.register_buffer("low", torch.zeros(()))
        self.register_buffer("high", torch.zeros(()))
        self.register_buffer("quantiles", torch.tensor([low, high]), persistent=False)

    @torch.no_grad()
    def update(self, returns: torch.Tensor) -> None:
        """Fold the percentiles of ``returns [...]`` (any shape) into the EMAs."""
        flat = returns.detach().reshape(-1).to(self.low.dtype)
        low, high = torch.quantile(flat, self.quantiles.to(flat))
        self.low.lerp_(low, 1.0 - self.decay)
        self.high.lerp_(high, 1.0 - self.decay)

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(offset, scale)`` as 0-dim tensors."""
        return self.low.clone(), torch.clamp(self.high - self.low, min=self.min_scale)
