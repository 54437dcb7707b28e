"""Observation decoders of the world model (spec §2.4, §5.2).

* ``ConvDecoder``: features ``[*lead, F]`` -> image mean ``[*lead, H, W, C]`` in the
  ``x/255 - 0.5`` space of the encoder (MSE target).
* ``MLPDecoder``: features ``[*lead, F]`` -> vector mean ``[*lead, D]`` in symlog space.
"""

from __future__ import annotations

import torch
from torch import nn

from hieros_lab.nn.init import init_hidden, init_output
from hieros_lab.nn.mlp import MLP
from hieros_lab.world_model.encoder import ChannelLayerNorm, conv_stages


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: Linear(F -> min_res^2 * C_top, bias), then per stage
    ConvTranspose(k4, s2, pad 1); all but the last without bias, with channel LN and SiLU; the
    last has a bias, no norm and a unit-scale uniform init (spec §2.4).

    64x64, depth 24: 4x4x192 -> 96 -> 48 -> 24 -> 3 channels.
    """

    def __init__(self, feat_dim: int, obs_shape: tuple[int, int, int], depth: int = 24,
                 min_res: int = 4, channels_last: bool = True) -> None:
        super().__init__()
        height, width, channels = obs_shape
        if height != width:
            raise ValueError(f"ConvDecoder needs square images, got {obs_shape}")
        stages = conv_stages(height, min_res)
        top = depth * 2 ** (stages - 1)
        self.linear = nn.Linear(feat_dim, min_res * min_res * top)
        layers: list[nn.Module] = []
        in_ch = top
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(in_ch, in_ch // 2, 4, 2, padding=1, bias=False),
                       ChannelLayerNorm(in_ch // 2, eps=1e-3), nn.SiLU()]
            in_ch //= 2
        self.hidden = nn.Sequential(*layers)
        self.out = nn.ConvTranspose2d(in_ch, channels, 4, 2, padding=1, bias=True)
        init_hidden(self.linear)
        init_hidden(self.hidden)
        init_output(self.out, 1.0)
        self.obs_shape, self.min_res, self.top = tuple(obs_shape), min_res, top
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """``[*lead, F]`` -> ``[*lead, H, W, C]`` image mean (target space ``x/255 - 0.5``)."""
        lead = feat.shape[:-1]
        x = self.linear(feat.reshape(-1, feat.shape[-1]))
        # Unflatten as HWC (mirrors the encoder) and view as NCHW: channels_last without a copy.
        x = x.reshape(-1, self.min_res, self.min_res, self.top).permute(0, 3, 1, 2)
        x = x.contiguous(memory_format=self.memory_format)
        x = self.out(self.hidden(x))
        return x.permute(0, 2, 3, 1).reshape(*lead, *self.obs_shape)


class MLPDecoder(nn.Module):
    """``[*lead, F]`` -> ``[*lead, D]`` symlog-space prediction of a vector observation."""

    def __init__(self, feat_dim: int, obs_dim: int, units: int = 512, layers: int = 2) -> None:
        super().__init__()
        self.net = MLP(feat_dim, obs_dim, units=units, layers=layers, out_scale=1.0)
        self.obs_dim = obs_dim

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(feat)
