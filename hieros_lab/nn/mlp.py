"""MLP of the authors' code: ``layers`` x [Linear(no bias) -> LayerNorm(eps) -> act] (+ output)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from hieros_lab.nn.init import init_hidden, init_output


class MLP(nn.Module):
    """A stack of normalised hidden layers with an optional linear output layer.

    Input ``[..., in_dim]`` -> output ``[..., out_dim]`` (or ``[..., units]`` without output).

    Args:
        in_dim: input width.
        out_dim: width of the final Linear(bias) layer; ``None`` for no output layer.
        units: hidden width.
        layers: number of hidden layers.
        act: activation class (SiLU by default, as in the paper's heads).
        norm_eps: LayerNorm epsilon (1e-3 in the authors' MLPs).
        out_scale: init scale of the output layer (0 = zero init, used by reward/value heads).
        symlog_inputs: apply symlog to the input first (MLP encoders of higher levels).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int | None,
        units: int = 256,
        layers: int = 2,
        act: Callable[[], nn.Module] = nn.SiLU,
        norm_eps: float = 1e-3,
        out_scale: float = 1.0,
        symlog_inputs: bool = False,
    ) -> None:
        super().__init__()
        hidden: list[nn.Module] = []
        width = in_dim
        for _ in range(layers):
            hidden += [nn.Linear(width, units, bias=False),
                       nn.LayerNorm(units, eps=norm_eps), act()]
            width = units
        self.hidden = nn.Sequential(*hidden)
        init_hidden(self.hidden)
        self.out: nn.Linear | None = None
        if out_dim is not None:
            self.out = nn.Linear(width, out_dim)
            init_output(self.out, out_scale)
        self.in_dim, self.out_dim = in_dim, (out_dim if out_dim is not None else width)
        self.symlog_inputs = symlog_inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.symlog_inputs:
            x = torch.sign(x) * torch.log1p(x.abs())
        x = self.hidden(x)
        return self.out(x) if self.out is not None else x
