"""World-model loss terms (spec §2.5). Every function returns a scalar mean over ``(B, T)``.

L = L_obs + L_reward + L_cont + kl_dyn * L_dyn + kl_rep * L_rep, with KL balancing and free
bits applied per (b, t) *before* averaging (``dyn_loss_clip True``). With a deterministic latent
(``no_stoch``, spec §8) :func:`logit_mse_balance` replaces :func:`kl_balance`.
"""

from __future__ import annotations

import torch

from hieros_lab.nn.distributions import TwoHotSymlog, bernoulli_log_prob, categorical_kl, symlog
from hieros_lab.nn.precision import at_least_fp32


def kl_balance(post_logits: torch.Tensor, prior_logits: torch.Tensor,
               free: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """KL balancing with free bits on ``[B, T, G, C]`` (log-)probabilities.

    Returns ``(dyn, rep, kl)``: ``dyn = mean max(free, KL[sg(q) || p])`` trains the prior,
    ``rep = mean max(free, KL[q || sg(p)])`` trains the posterior, ``kl [B, T]`` is the raw
    ``KL[q || p]`` without gradient (for metrics). Clamping per (b, t) gives zero gradient
    wherever that step's KL is below ``free``.
    """
    dyn_kl = categorical_kl(post_logits.detach(), prior_logits)
    rep_kl = categorical_kl(post_logits, prior_logits.detach())
    dyn = dyn_kl.clamp(min=free).mean()
    rep = rep_kl.clamp(min=free).mean()
    return dyn, rep, dyn_kl.detach()


def logit_mse_balance(post_logits: torch.Tensor, prior_logits: torch.Tensor,
                      free: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The "KL" terms of a deterministic latent (``dyn_stochasticity False``, spec §2.5).

    Same contract as :func:`kl_balance` on raw ``[B, T, G, C]`` logits, with the KL replaced by
    the squared error summed over ``G, C``: ``dyn = mean max(free, |sg(q) - p|^2)`` trains the
    prior, ``rep = mean max(free, |q - sg(p)|^2)`` the posterior (clipped per (b, t), then
    averaged, exactly like the KL). The third output ``[B, T]`` is the raw squared error.
    """
    post_logits, prior_logits = at_least_fp32(post_logits), at_least_fp32(prior_logits)
    dyn_se = (post_logits.detach() - prior_logits).square().sum((-2, -1))
    rep_se = (post_logits - prior_logits.detach()).square().sum((-2, -1))
    dyn = dyn_se.clamp(min=free).mean()
    rep = rep_se.clamp(min=free).mean()
    return dyn, rep, dyn_se.detach()


def image_loss(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """MSE summed over H*W*C, mean over the rest.

    ``pred [B, T, H, W, C]`` in ``x/255 - 0.5`` space, ``obs [B, T, H, W, C]`` uint8.
    """
    pred = at_least_fp32(pred)  # a sum of H*W*C squares: float32 under bf16 (nn/precision.py)
    target = obs.to(pred.dtype) / 255.0 - 0.5
    return (pred - target).square().sum((-3, -2, -1)).mean()


def vector_loss(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Symlog MSE summed over D: ``pred [B, T, D]`` (symlog space) vs raw ``obs [B, T, D]``."""
    pred = at_least_fp32(pred)  # float32 under bf16 autocast (nn/precision.py)
    return (pred - symlog(obs.to(pred.dtype))).square().sum(-1).mean()


def reward_loss(dist: TwoHotSymlog, reward: torch.Tensor) -> torch.Tensor:
    """-log p(r) under the two-hot symlog head; ``reward [B, T]``."""
    return -dist.log_prob(reward.to(dist.logits.dtype)).mean()


def cont_loss(logits: torch.Tensor, is_terminal: torch.Tensor) -> torch.Tensor:
    """-log p(c) of the Bernoulli continue head, target ``1 - is_terminal`` (``[B, T]``)."""
    target = 1.0 - is_terminal.to(at_least_fp32(logits).dtype)
    return -bernoulli_log_prob(logits, target).mean()
