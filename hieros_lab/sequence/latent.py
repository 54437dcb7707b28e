"""Stochastic-latent machinery shared by every sequence model (spec §2.3).

``LatentHead``: Linear(no bias) -> LayerNorm(1e-3) -> SiLU -> Linear -> ``[..., G, C]`` logits,
used for the prior (from m_t or h_t) and the posterior (from the embedding, or [h; embed]).
``draw``: unimix categorical -> (flattened straight-through sample or mode, unimix log-probs).
``passthrough``: the deterministic ``no_stoch`` ablation (spec §2.3, §8): z = the raw logits.
"""

from __future__ import annotations

import torch
from torch import nn

from hieros_lab.nn.distributions import UnimixCategorical
from hieros_lab.nn.mlp import MLP


class LatentHead(nn.Module):
    """``[..., in_dim]`` -> logits ``[..., groups, classes]``."""

    def __init__(self, in_dim: int, hidden: int, groups: int, classes: int) -> None:
        super().__init__()
        self.groups, self.classes = groups, classes
        self.net = MLP(in_dim, groups * classes, units=hidden, layers=1, out_scale=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).unflatten(-1, (self.groups, self.classes))


def draw(logits: torch.Tensor, unimix: float, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Unimix categorical from raw ``logits [..., G, C]``.

    Returns ``(stoch [..., G*C], log_probs [..., G, C])``: a straight-through one-hot sample (or
    the mode when ``sample`` is False) and the mixed distribution's log-probabilities.
    """
    dist = UnimixCategorical(logits, unimix)
    z = dist.rsample() if sample else dist.mode()
    return z.flatten(-2), dist.log_probs


def passthrough(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic latent (``dyn_stochasticity False``, spec §2.3): no sampling, no unimix.

    Returns ``(stoch [..., G*C], logits [..., G, C])``: z is the raw ``logits [..., G, C]``
    flattened, and the raw logits are kept so the world model can form its squared-error
    "KL" (spec §2.5) and the entropy of softmax(logits) for metrics and the actor input.
    """
    return logits.flatten(-2), logits
