"""Causal self-attention over a sliding window with a key/value cache, in plain PyTorch (the
layer of ``sequence/transformer``, in the style of STORM / TWM).

A token attends to itself and to the ``W`` tokens before it that belong to its episode. Positions
enter as ALiBi biases (Press et al., 2022): head i subtracts ``slope_i * (t - s)`` from the score
of query t on key s, with the slopes 2^(-8 (i + 1) / heads). A bias that depends only on the
distance needs no absolute position, so a cache that slides by one token per step scores every
key exactly as the parallel form does.

Memory of one layer, ``[..., W, 2H + 1]``: the keys ``[..., W, H]`` and values ``[..., W, H]`` of
the last W tokens (oldest first, the newest being the step's own token) and a validity flag
``[..., W, 1]`` (1: the slot holds a token of the current episode). Slots that are not valid are
all zero, so a zero memory is the memory of a fresh episode, and a reset (``is_first``) is exact:
the parallel form masks every key of an earlier episode, the step form starts from zeros.

Shapes: B batch, T time, N starts (step mode), H model width, W window.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hieros_lab.sequence.block_stack import parallel_vs_steps_max_abs_err


def alibi_slopes(heads: int) -> torch.Tensor:
    """``[heads]``: 2^(-8 (i + 1) / heads), the geometric slopes of ALiBi."""
    return torch.pow(2.0, -8.0 * torch.arange(1, heads + 1, dtype=torch.float32) / heads)


class WindowAttention(nn.Module):
    """Multi-head causal attention over the last ``window`` tokens (see the module doc).

    ``forward(x [B, T, H], reset [B, T], memory [B, W, 2H + 1]) -> (y [B, T, H], memory after
    every step [B, T, W, 2H + 1])``; ``step(x [N, H], memory [N, W, 2H + 1]) -> (y [N, H],
    memory)``, the caller zeroing the memory at a reset.
    """

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        if window < 1 or heads < 1 or dim % heads:
            raise ValueError(f"attention needs window >= 1 and heads dividing the width, got "
                             f"window {window}, heads {heads}, width {dim}")
        self.dim, self.heads, self.window = dim, heads, window
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.register_buffer("slopes", alibi_slopes(heads), persistent=False)

    @property
    def memory_shape(self) -> tuple[int, int]:
        return self.window, 2 * self.dim + 1

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., L, H] -> [..., heads, L, H / heads]``."""
        return x.unflatten(-1, (self.heads, -1)).transpose(-3, -2)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dist: torch.Tensor,
                allowed: torch.Tensor) -> torch.Tensor:
        """Queries ``[..., Q, H]``, keys and values ``[..., S, H]``, distances ``[Q, S]`` and
        the mask ``[..., Q, S]`` -> ``[..., Q, H]``."""
        scores = self._split(q) @ self._split(k).transpose(-1, -2) / math.sqrt(
            self.dim // self.heads)                                     # [..., heads, Q, S]
        scores = scores - self.slopes.view(-1, 1, 1).to(scores.dtype) * dist.to(scores.dtype)
        scores = scores.masked_fill(~allowed.unsqueeze(-3), float("-inf"))
        y = torch.softmax(scores, -1) @ self._split(v)                  # [..., heads, Q, H/h]
        return self.out(y.transpose(-3, -2).flatten(-2))

    def forward(self, x: torch.Tensor, reset: torch.Tensor, memory: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = reset.shape
        w, h = self.window, self.dim
        q, k, v = self.qkv(x).chunk(3, -1)                              # [B, T, H]
        keys = torch.cat([memory[..., :h], k], 1)                       # [B, W+T, H]
        values = torch.cat([memory[..., h:2 * h], v], 1)
        valid = torch.cat([memory[..., 2 * h] > 0.5, reset.new_ones(b, t)], 1)  # [B, W+T]
        # episode index of every position: memory slots are episode 0, a reset starts the next
        episode = torch.cat([reset.new_zeros(b, w, dtype=torch.long), reset.long().cumsum(1)], 1)
        dist = (torch.arange(t, device=x.device).unsqueeze(1) + w
                - torch.arange(w + t, device=x.device))                 # [T, W+T]
        band = (dist >= 0) & (dist <= w)
        same = episode[:, w:].unsqueeze(2) == episode.unsqueeze(1)      # [B, T, W+T]
        allowed = band & same & valid.unsqueeze(1)
        y = self._attend(q, keys, values, dist, allowed)
        # memory after step t: positions t+1 .. t+W of the concatenation, kept where they are
        # tokens of step t's episode
        slots = torch.cat([keys, values, valid.unsqueeze(-1).to(keys.dtype)], -1)
        windows = slots.unfold(1, w, 1)[:, 1:].transpose(-1, -2)       # [B, T, W, 2H+1]
        keep = (episode.unfold(1, w, 1)[:, 1:] == episode[:, w:].unsqueeze(-1))  # [B, T, W]
        return y, windows * keep.unsqueeze(-1).to(windows.dtype)

    def step(self, x: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w, h = self.window, self.dim
        q, k, v = self.qkv(x).chunk(3, -1)                              # [N, H]
        keys = torch.cat([memory[..., :h], k.unsqueeze(1)], 1)          # [N, W+1, H]
        values = torch.cat([memory[..., h:2 * h], v.unsqueeze(1)], 1)
        valid = torch.cat([memory[..., 2 * h] > 0.5,
                           torch.ones_like(memory[:, :1, 0], dtype=torch.bool)], 1)
        dist = (w - torch.arange(w + 1, device=x.device)).unsqueeze(0)  # [1, W+1]
        y = self._attend(q.unsqueeze(1), keys, values, dist, valid.unsqueeze(1)).squeeze(1)
        new = torch.cat([k, v, torch.ones_like(k[:, :1])], -1).unsqueeze(1)
        return y, torch.cat([memory[:, 1:], new], 1)


class TransformerBlock(nn.Module):
    """Pre-LayerNorm residual attention, then a pre-LayerNorm residual MLP (H -> ``ff_mult`` H,
    GELU, -> H): ``x + Attn(LN(x))``, then ``x + FF(LN(x))``."""

    def __init__(self, dim: int, heads: int, window: int, ff_mult: int = 2) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mixer = WindowAttention(dim, heads, window)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(),
                                nn.Linear(ff_mult * dim, dim))

    @property
    def memory_shape(self) -> tuple[int, ...]:
        return self.mixer.memory_shape

    def forward(self, x: torch.Tensor, reset: torch.Tensor, memory: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        y, memory = self.mixer(self.norm(x), reset, memory)
        x = x + y
        return x + self.ff(self.norm_ff(x)), memory

    def step(self, x: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, memory = self.mixer.step(self.norm(x), memory)
        x = x + y
        return x + self.ff(self.norm_ff(x)), memory


def cache_max_abs_err(seed: int = 0, batch: int = 4, length: int = 64, dim: int = 256,
                      heads: int = 4, window: int = 16) -> float:
    """Max |parallel - step-mode| over a fresh float32 :class:`WindowAttention`'s outputs and
    memory, random inputs and Bernoulli(0.1) resets (index 0 always one); global RNG untouched."""
    return parallel_vs_steps_max_abs_err(lambda: WindowAttention(dim, heads, window),
                                         (window, 2 * dim + 1), dim, seed, batch, length)
