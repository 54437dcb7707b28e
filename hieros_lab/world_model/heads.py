"""Reward and continue heads of the world model (spec §2.4).

Both read ``feat = [z ; h]`` (``[*lead, F]``) through an MLP of ``layers`` x [Linear(no bias) ->
LN -> SiLU]; the reward head ends in a zero-initialised 255-bin symlog two-hot categorical, the
continue head in one Bernoulli logit.
"""

from __future__ import annotations

import torch
from torch import nn

from hieros_lab.nn.distributions import TwoHotSymlog
from hieros_lab.nn.mlp import MLP


class RewardHead(nn.Module):
    """``[*lead, F]`` -> :class:`TwoHotSymlog` over ``bins``; its mean ``[*lead]`` is the reward."""

    def __init__(self, feat_dim: int, units: int = 256, layers: int = 2, bins: int = 255) -> None:
        super().__init__()
        # Zero-initialised output (outscale 0, spec §7.2): the first predictions are exactly 0.
        self.net = MLP(feat_dim, bins, units=units, layers=layers, out_scale=0.0)

    def forward(self, feat: torch.Tensor) -> TwoHotSymlog:
        return TwoHotSymlog(self.net(feat))


class ContinueHead(nn.Module):
    """``[*lead, F]`` -> continue logits ``[*lead]`` (Bernoulli; target 1 - is_terminal)."""

    def __init__(self, feat_dim: int, units: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.net = MLP(feat_dim, 1, units=units, layers=layers, out_scale=1.0)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(feat).squeeze(-1)
