"""Discrete policy network (spec §4.5): MLP -> logits over A actions -> 1 %-unimix categorical."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hieros_lab.nn.distributions import UnimixCategorical
from hieros_lab.nn.mlp import MLP


class Actor(nn.Module):
    """π(a | x): ``[..., F]`` -> a :class:`UnimixCategorical` over ``groups`` x ``A / groups``.

    Level 0 has one group of A env actions; higher levels emit a subgoal code of G independent
    categoricals (8 x 8 by default, spec §4.5), a product distribution whose log-probability and
    entropy are sums over the groups (the authors averaged them, scaling both by 1/G).
    Output layer uniform-init with scale ``out_scale``: 1 as in the spec (§4.5/§7.2) and
    DreamerV3's 2023 config; DreamerV3's 2024 config uses 0.01, which starts every state near the
    uniform policy instead of at an arbitrary one. :meth:`act`, :meth:`sample` and
    :meth:`log_prob` take/return flattened one-hot ``[..., A]`` actions.
    """

    def __init__(self, input_dim: int, num_actions: int, units: int = 256, layers: int = 2,
                 unimix: float = 0.01, groups: int = 1, out_scale: float = 1.0) -> None:
        super().__init__()
        if groups < 1 or num_actions % groups:
            raise ValueError(f"{num_actions} actions cannot form {groups} equal groups")
        self.num_actions, self.unimix, self.groups = num_actions, unimix, groups
        self.net = MLP(input_dim, num_actions, units=units, layers=layers,
                       out_scale=out_scale)

    def forward(self, x: torch.Tensor) -> UnimixCategorical:
        """``x [..., F]`` -> distribution over ``[..., G, A/G]`` one-hot actions."""
        return self.dist(self.net(x))

    def dist(self, logits: torch.Tensor) -> UnimixCategorical:
        """Distribution from raw network outputs ``logits [..., A]`` (= ``self.net(x)``)."""
        return UnimixCategorical(logits.unflatten(-1, (self.groups, -1)), self.unimix)

    @staticmethod
    def sample(dist: UnimixCategorical, sample: bool = True) -> torch.Tensor:
        """One-hot ``[..., A]`` action: a sample, or the argmax mode per group; no gradient."""
        if sample:
            return dist.sample().flatten(-2)
        # Exact one-hot argmax (the straight-through mode is off by rounding once detached).
        probs = dist.probs.detach()
        return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype).flatten(-2)

    @staticmethod
    def log_prob(dist: UnimixCategorical, action: torch.Tensor) -> torch.Tensor:
        """log π(a): one-hot ``action [..., A]`` -> ``[...]`` (summed over groups)."""
        return dist.log_prob(action.unflatten(-1, dist.probs.shape[-2:]))

    def act(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """``x [..., F]`` -> one-hot ``[..., A]``: a sample, or the argmax if not ``sample``."""
        return self.sample(self(x), sample)
