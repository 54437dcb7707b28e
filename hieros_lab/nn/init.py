"""Weight initialisation of the authors' code (spec §7.2), DreamerV3 style."""

from __future__ import annotations

import math

import torch
from torch import nn


def _fans(weight: torch.Tensor) -> tuple[float, float]:
    receptive = weight[0][0].numel() if weight.dim() > 2 else 1
    if isinstance(weight, torch.Tensor) and weight.dim() >= 2:
        fan_in = weight.shape[1] * receptive
        fan_out = weight.shape[0] * receptive
    else:
        fan_in = fan_out = weight.numel()
    return float(fan_in), float(fan_out)


def trunc_normal_fan_avg_(weight: torch.Tensor) -> None:
    """Truncated normal with std = sqrt(1/fan_avg)/0.8796 (spec §7.2)."""
    fan_in, fan_out = _fans(weight)
    std = math.sqrt(1.0 / ((fan_in + fan_out) / 2.0)) / 0.87962566103423978
    with torch.no_grad():
        nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


def uniform_fan_avg_(weight: torch.Tensor, scale: float) -> None:
    """Uniform with limit sqrt(3*scale/fan_avg); scale 0 gives an all-zero (output) layer."""
    fan_in, fan_out = _fans(weight)
    limit = math.sqrt(3.0 * scale / ((fan_in + fan_out) / 2.0))
    with torch.no_grad():
        if scale == 0.0:
            weight.zero_()
        else:
            nn.init.uniform_(weight, -limit, limit)


def init_hidden(module: nn.Module) -> None:
    """Hidden-layer init for every Linear/Conv in ``module``; biases 0, LayerNorms (1, 0)."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            trunc_normal_fan_avg_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def init_output(layer: nn.Linear | nn.ConvTranspose2d, scale: float) -> None:
    """Output-layer init: uniform fan-avg with ``scale`` (0 for reward/value heads, 1 for actor)."""
    uniform_fan_avg_(layer.weight, scale)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
