"""Policy network (spec §4.5): MLP -> raw outputs -> the action distribution of its ``policy``
(:mod:`hieros_lab.behavior.policies`: 1 %-unimix categorical, or a bounded normal)."""

from __future__ import annotations

import torch
from torch import nn

from hieros_lab.behavior.policies import ActionDist, Categorical, Policy
from hieros_lab.nn.mlp import MLP


class Actor(nn.Module):
    """π(a | x): ``[..., F]`` -> an :class:`~hieros_lab.behavior.policies.ActionDist` over
    ``[..., A]`` action vectors.

    With the default categorical policy, level 0 has one group of A env actions and higher
    levels emit a subgoal code of G independent categoricals (8 x 8 by default, spec §4.5), a
    product distribution whose log-probability and entropy are sums over the groups (the authors
    averaged them, scaling both by 1/G). Output layer uniform-init with scale ``out_scale``: 1
    as in the spec (§4.5/§7.2) and DreamerV3's 2023 config; DreamerV3's 2024 config uses 0.01,
    which starts every state near the uniform policy instead of at an arbitrary one.
    :meth:`act`, :meth:`sample` and :meth:`log_prob` take/return ``[..., A]`` actions (one-hot
    for a categorical policy).
    """

    def __init__(self, input_dim: int, num_actions: int, units: int = 256, layers: int = 2,
                 unimix: float = 0.01, groups: int = 1, out_scale: float = 1.0,
                 policy: Policy | None = None) -> None:
        super().__init__()
        self.policy = Categorical(unimix) if policy is None else policy
        self.num_actions, self.groups = num_actions, groups
        self.net = MLP(input_dim, self.policy.out_dim(num_actions, groups), units=units,
                       layers=layers, out_scale=out_scale)

    def forward(self, x: torch.Tensor) -> ActionDist:
        """``x [..., F]`` -> distribution over ``[..., A]`` actions."""
        return self.dist(self.net(x))

    def dist(self, raw: torch.Tensor) -> ActionDist:
        """Distribution from raw network outputs ``raw`` (= ``self.net(x)``)."""
        return self.policy.dist(raw, self.groups)

    @staticmethod
    def sample(dist: ActionDist, sample: bool = True) -> torch.Tensor:
        """``[..., A]`` action: a sample, or the mode (argmax per group, the normal's mean);
        no gradient."""
        return dist.sample() if sample else dist.mode()

    @staticmethod
    def log_prob(dist: ActionDist, action: torch.Tensor) -> torch.Tensor:
        """log π(a): ``action [..., A]`` -> ``[...]`` (summed over groups or dimensions)."""
        return dist.log_prob(action)

    def act(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """``x [..., F]`` -> ``[..., A]``: a sample, or the mode if not ``sample``."""
        return self.sample(self(x), sample)
