"""Discrete policy network (spec §4.5): MLP -> logits over A actions -> 1 %-unimix categorical."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hieros_lab.nn.distributions import UnimixCategorical
from hieros_lab.nn.mlp import MLP


class Actor(nn.Module):
    """π(a | x): ``[..., F]`` -> a :class:`UnimixCategorical` with one group of ``A`` classes.

    Output layer uniform-init with scale 1 (spec §4.5/§7.2). The distribution's tensors are
    ``[..., 1, A]`` (one group); :meth:`act` and :meth:`log_prob` take/return ``[..., A]``.
    """

    def __init__(self, input_dim: int, num_actions: int, units: int = 256, layers: int = 2,
                 unimix: float = 0.01) -> None:
        super().__init__()
        self.num_actions, self.unimix = num_actions, unimix
        self.net = MLP(input_dim, num_actions, units=units, layers=layers, out_scale=1.0)

    def forward(self, x: torch.Tensor) -> UnimixCategorical:
        """``x [..., F]`` -> distribution over ``[..., 1, A]`` one-hot actions."""
        return self.dist(self.net(x))

    def dist(self, logits: torch.Tensor) -> UnimixCategorical:
        """Distribution from raw network outputs ``logits [..., A]`` (= ``self.net(x)``)."""
        return UnimixCategorical(logits.unsqueeze(-2), self.unimix)

    @staticmethod
    def sample(dist: UnimixCategorical, sample: bool = True) -> torch.Tensor:
        """One-hot ``[..., A]`` action: a sample, or the argmax mode; no gradient."""
        if sample:
            return dist.sample().squeeze(-2)
        # Exact one-hot argmax (the straight-through mode is off by rounding once detached).
        probs = dist.probs.detach().squeeze(-2)
        return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)

    @staticmethod
    def log_prob(dist: UnimixCategorical, action: torch.Tensor) -> torch.Tensor:
        """log π(a): one-hot ``action [..., A]`` -> ``[...]``."""
        return dist.log_prob(action.unsqueeze(-2))

    def act(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """``x [..., F]`` -> one-hot ``[..., A]``: a sample, or the argmax if not ``sample``."""
        return self.sample(self(x), sample)
