"""Value network with a slow EMA copy (spec §4.3).

Critic: MLP(F -> units x layers) -> 255-bin symlog two-hot distribution, zero-init output. The
slow copy regularises the fast critic's targets and follows θ_slow ← (1−f) θ_slow + f θ, which
the learner applies at the start of every update.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from hieros_lab.nn.distributions import TwoHotSymlog
from hieros_lab.nn.mlp import MLP


class Critic(nn.Module):
    """v(x): ``[..., F]`` -> :class:`TwoHotSymlog` over ``bins`` (mean ``[...]``).

    ``net`` is trained; ``slow`` is a frozen copy (``requires_grad=False``) that is part of the
    module's ``state_dict``.
    """

    def __init__(self, input_dim: int, units: int = 256, layers: int = 2, bins: int = 255) -> None:
        super().__init__()
        # Zero-init output: the initial value is exactly 0 for every input (spec §7.2).
        self.net = MLP(input_dim, bins, units=units, layers=layers, out_scale=0.0)
        self.slow = copy.deepcopy(self.net)
        self.slow.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> TwoHotSymlog:
        """Fast critic distribution for ``x [..., F]``."""
        return TwoHotSymlog(self.net(x))

    @torch.no_grad()
    def slow_value(self, x: torch.Tensor) -> torch.Tensor:
        """Mean (= mode) of the slow critic, ``[..., F]`` -> ``[...]``, no gradient."""
        return TwoHotSymlog(self.slow(x)).mean()

    @torch.no_grad()
    def update_slow(self, fraction: float) -> None:
        """θ_slow ← (1 − fraction) θ_slow + fraction θ (parameters and buffers)."""
        for slow, fast in zip(self.slow.state_dict().values(), self.net.state_dict().values(),
                              strict=True):
            if slow.is_floating_point():
                slow.lerp_(fast, fraction)
            else:
                slow.copy_(fast)
