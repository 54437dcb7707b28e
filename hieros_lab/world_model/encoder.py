"""Observation encoders of the world model (spec §2.4, §5.2).

* ``ConvEncoder``: uint8 images ``[*lead, H, W, C]`` -> ``[*lead, E]`` (level 0, Atari).
* ``MLPEncoder``: float vectors ``[*lead, D]`` -> ``[*lead, E]`` with symlog inputs (higher
  levels, vector-observation envs).

The convolutions run in ``torch.channels_last`` memory format by default: the HWC input is then
used without a copy, the channel LayerNorm normalises a contiguous last dimension, and oneDNN
picks its NHWC kernels (measured faster on CPU; see the world-model report).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hieros_lab.nn.init import init_hidden
from hieros_lab.nn.mlp import MLP


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor, per pixel (DreamerV3 ``ImgChLayerNorm``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def conv_stages(size: int, min_res: int) -> int:
    """Number of stride-2 stages from ``size`` down to ``min_res`` (both powers of two)."""
    if size < 8 or size & (size - 1) or min_res & (min_res - 1) or size <= min_res:
        raise ValueError(f"image size {size} must be a power of two >= 8 and > min_res {min_res}")
    return int(math.log2(size // min_res))


class ConvEncoder(nn.Module):
    """DreamerV3 CNN: per stage Conv(k4, s2, pad 1 = "same") no bias -> channel LN -> SiLU.

    Channels ``depth * 2**i``; stops at ``min_res`` (64x64, depth 24: 24 -> 48 -> 96 -> 192,
    embed 192*4*4 = 3072). Input ``[*lead, H, W, C]`` uint8 is scaled to ``x/255 - 0.5``.
    """

    def __init__(self, obs_shape: tuple[int, int, int], depth: int = 24, min_res: int = 4,
                 channels_last: bool = True) -> None:
        super().__init__()
        height, width, channels = obs_shape
        if height != width:
            raise ValueError(f"ConvEncoder needs square images, got {obs_shape}")
        stages = conv_stages(height, min_res)
        layers: list[nn.Module] = []
        in_ch = channels
        for i in range(stages):
            out_ch = depth * 2**i
            layers += [nn.Conv2d(in_ch, out_ch, 4, 2, padding=1, bias=False),
                       ChannelLayerNorm(out_ch, eps=1e-3), nn.SiLU()]
            in_ch = out_ch
        self.net = nn.Sequential(*layers)
        init_hidden(self.net)
        self.obs_shape = tuple(obs_shape)
        self.embed_dim = in_ch * min_res * min_res
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        lead = obs.shape[:-3]
        assert tuple(obs.shape[-3:]) == self.obs_shape, (obs.shape, self.obs_shape)
        dtype = self.net[0].weight.dtype
        x = obs.reshape(-1, *self.obs_shape).to(dtype) / 255.0 - 0.5
        # HWC storage viewed as NCHW is already channels_last: no copy in that format.
        x = x.permute(0, 3, 1, 2).contiguous(memory_format=self.memory_format)
        x = self.net(x)
        # Flatten in HWC order: a free view of a channels_last tensor (the order is arbitrary,
        # a Linear follows).
        return x.permute(0, 2, 3, 1).reshape(*lead, self.embed_dim)


class MLPEncoder(nn.Module):
    """``[*lead, D]`` float vectors -> ``[*lead, units]``: symlog inputs, ``layers`` x
    [Linear(no bias) -> LN -> SiLU] (spec §5.2)."""

    def __init__(self, obs_dim: int, units: int = 512, layers: int = 2) -> None:
        super().__init__()
        self.net = MLP(obs_dim, None, units=units, layers=layers, symlog_inputs=True)
        self.obs_dim, self.embed_dim = obs_dim, units

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        assert obs.shape[-1] == self.obs_dim, (obs.shape, self.obs_dim)
        return self.net(obs.to(self.net.hidden[0].weight.dtype))
