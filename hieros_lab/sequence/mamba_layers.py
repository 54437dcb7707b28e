"""The resettable selective state-space layer (Mamba, Gu & Dao 2023), in plain PyTorch.

Per channel c of the ``inner = expand * H`` channels and state index n of ``N``:

* (u, z) = Linear(x); u ← SiLU(causal depthwise conv of width K over u) + bias;
* Δ = softplus(Linear_R→inner(Linear_inner→R(u)) + b_Δ), B_t, C_t = Linear(u) (input-dependent);
* A = -exp(A_log) (S4D-real init: A_cn = -(n + 1)); ā_t = exp(Δ_t A), b_t = Δ_t B_t u_t;
* h_t = ā_t (1 - r_t) h_{t-1} + b_t, with r_t = is_first: a reset treats the previous state,
  and the conv's window of earlier inputs, as zero (exact, as for S5);
* y_t = C_t · h_t + D u_t, gated by SiLU(z_t), then Linear back to H.

Training runs :func:`~hieros_lab.sequence.linear_scan.linear_scan` over T with the time-varying
multiplier ā_t (``scan``: the log-depth associative scan, or its in-place sequential form; both
with a hand-written backward); acting and imagination run :meth:`MambaLayer.step`.
:func:`sequential_scan` is the autograd reference and :func:`scan_max_abs_err` the difference of
the parallel and step forms, for the bench.

Memory of one layer, ``[..., inner, N + K - 1]``: the state h ``[..., inner, N]`` followed by the
conv window's last K - 1 inputs ``[..., inner, K - 1]`` (oldest first).

Shapes: B batch, T time, N starts (step mode), H model width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hieros_lab.sequence import linear_scan
from hieros_lab.sequence.block_stack import parallel_vs_steps_max_abs_err


def sequential_scan(a: torch.Tensor, b: torch.Tensor, reset: torch.Tensor,
                    h0: torch.Tensor | None = None) -> torch.Tensor:
    """Reference loop over T for :func:`~hieros_lab.sequence.linear_scan.linear_scan` (same
    arguments and result), differentiated by autograd."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for t in range(b.shape[1]):
        keep = (~reset[:, t]).to(a.dtype).reshape(-1, *[1] * (a.dim() - 2))
        h = a[:, t] * keep * h + b[:, t]
        out.append(h)
    return torch.stack(out, 1)


class MambaLayer(nn.Module):
    """One selective SSM mixer (see the module doc). ``forward(x [B, T, H], reset [B, T],
    memory [B, inner, N + K - 1]) -> (y [B, T, H], memory [B, T, inner, N + K - 1])``;
    ``step(x [N, H], memory [N, inner, N + K - 1]) -> (y [N, H], memory)``, the caller zeroing
    the memory at a reset. ``scan``: the training scan (a ``linear_scan.ALGORITHMS`` name)."""

    def __init__(self, dim: int, state_dim: int = 16, expand: int = 2, conv: int = 4,
                 dt_rank: int = 0, dt_min: float = 1e-3, dt_max: float = 1e-1,
                 scan: str = "auto") -> None:
        super().__init__()
        if conv < 1 or state_dim < 1 or expand < 1:
            raise ValueError(f"mamba needs conv, state_dim and expand >= 1, got {conv}, "
                             f"{state_dim}, {expand}")
        self.scan = linear_scan.check(scan)
        inner = expand * dim
        rank = dt_rank or max(1, math.ceil(dim / 16))  # Mamba's default: ceil(H / 16)
        self.dim, self.inner, self.state_dim = dim, inner, state_dim
        self.conv, self.rank = conv, rank
        self.in_proj = nn.Linear(dim, 2 * inner, bias=False)
        self.conv_weight = nn.Parameter(torch.randn(inner, conv) / math.sqrt(conv))
        self.conv_bias = nn.Parameter(torch.zeros(inner))
        self.x_proj = nn.Linear(inner, rank + 2 * state_dim, bias=False)
        self.dt_proj = nn.Linear(rank, inner)
        # Δ starts log-uniform in [dt_min, dt_max]: the bias is softplus⁻¹ of such a draw.
        dt = torch.exp(torch.rand(inner) * (math.log(dt_max) - math.log(dt_min))
                       + math.log(dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.a_log = nn.Parameter(torch.log(torch.arange(1, state_dim + 1, dtype=torch.float32)
                                            ).repeat(inner, 1))
        self.d = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, dim, bias=False)

    @property
    def memory_width(self) -> int:
        """N + K - 1: the state and the conv window's earlier inputs, per channel."""
        return self.state_dim + self.conv - 1

    def _selection(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Conv output ``u [..., inner]`` -> (Δ ``[..., inner]``, B, C ``[..., N]``)."""
        dt_raw, b_in, c = self.x_proj(u).split([self.rank, self.state_dim, self.state_dim], -1)
        return F.softplus(self.dt_proj(dt_raw)), b_in, c

    def _ssm_inputs(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Conv output ``u [..., inner]`` -> (ā ``[..., inner, N]``, b ``[..., inner, N]``,
        C ``[..., N]``)."""
        dt, b_in, c = self._selection(u)
        a = torch.exp(dt.unsqueeze(-1) * -torch.exp(self.a_log))        # [..., inner, N]
        return a, (dt * u).unsqueeze(-1) * b_in.unsqueeze(-2), c

    def _output(self, h: torch.Tensor, c: torch.Tensor, u: torch.Tensor, z: torch.Tensor
                ) -> torch.Tensor:
        # C_t · h_t as a batched matrix-vector product: no [..., inner, N] product in memory
        y = (h @ c.unsqueeze(-1)).squeeze(-1) + self.d * u
        return self.out_proj(y * F.silu(z))

    def forward(self, x: torch.Tensor, reset: torch.Tensor, memory: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = reset.shape
        k = self.conv
        u, z = self.in_proj(x).chunk(2, -1)                              # [B, T, inner]
        h0, window0 = memory[..., :self.state_dim], memory[..., self.state_dim:]
        padded = torch.cat([window0.transpose(1, 2), u], 1)              # [B, K-1+T, inner]
        # valid[j][t]: input t - j is in step t's episode (no reset in (t - j, t]).
        count = F.pad(reset.long().cumsum(1), (k - 1, 0))                # [B, K-1+T]
        now = count[:, k - 1:]
        valid = [(now - count[:, k - 1 - j:k - 1 - j + t] == 0).to(u.dtype) for j in range(k)]
        inputs = [padded[:, k - 1 - j:k - 1 - j + t] * valid[j].unsqueeze(-1) for j in range(k)]
        # window position i (0 = oldest) holds lag j = K - 1 - i
        conv = sum(self.conv_weight[:, k - 1 - j] * inputs[j] for j in range(k)) + self.conv_bias
        uc = F.silu(conv)
        a, bx, c = self._ssm_inputs(uc)
        h = linear_scan.linear_scan(a, bx, reset, h0, self.scan)          # [B, T, inner, N]
        window = (torch.stack([inputs[j] for j in range(k - 2, -1, -1)], -1) if k > 1
                  else u.new_zeros(b, t, self.inner, 0))                 # [B, T, inner, K-1]
        return self._output(h, c, uc, z), torch.cat([h, window], -1)

    def step(self, x: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.state_dim
        u, z = self.in_proj(x).chunk(2, -1)                              # [N, inner]
        h, window = memory[..., :n], memory[..., n:]
        window = torch.cat([window, u.unsqueeze(-1)], -1)                # [N, inner, K]
        uc = F.silu((window * self.conv_weight).sum(-1) + self.conv_bias)
        dt, b_in, c = self._selection(uc)                                # Δ [N, inner]
        decay = dt.unsqueeze(-1) * -torch.exp(self.a_log)                # [N, inner, N]
        if torch.is_grad_enabled():  # imagination through the dynamics: the autograd form
            h = decay.exp() * h + (dt * uc).unsqueeze(-1) * b_in.unsqueeze(-2)
        else:
            # h_t = exp(Δ A) h_{t-1} + (Δ u) B in place in one contiguous tensor: at 1,024
            # imagination starts each [N, inner, N] pass is 32 MB and this step is bound by
            # memory traffic (3 passes here against 6 in the autograd form; contiguous, exp is
            # vectorised).
            h = decay.exp_().mul_(h).addcmul_((dt * uc).unsqueeze(-1), b_in.unsqueeze(-2))
        return self._output(h, c, uc, z), torch.cat([h, window[..., 1:]], -1)


class MambaBlock(nn.Module):
    """Pre-LayerNorm residual mixer, then a pre-LayerNorm residual MLP (``ff_layers`` x
    [Linear -> LN -> SiLU]; 0: none): ``x + Mixer(LN(x))``, then ``x + FF(LN(x))``."""

    def __init__(self, dim: int, state_dim: int, expand: int, conv: int, ff_layers: int,
                 scan: str = "auto") -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mixer = MambaLayer(dim, state_dim, expand, conv, scan=scan)
        ff: list[nn.Module] = []
        for _ in range(ff_layers):
            ff += [nn.Linear(dim, dim, bias=False), nn.LayerNorm(dim), nn.SiLU()]
        self.ff = nn.Sequential(*ff)
        self.norm_ff = nn.LayerNorm(dim) if ff_layers else None

    @property
    def memory_shape(self) -> tuple[int, int]:
        """``(inner, N + K - 1)``: one layer's memory (the module doc has the layout)."""
        return self.mixer.inner, self.mixer.memory_width

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.norm_ff is None else x + self.ff(self.norm_ff(x))

    def forward(self, x: torch.Tensor, reset: torch.Tensor, memory: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        y, memory = self.mixer(self.norm(x), reset, memory)
        return self._ff(x + y), memory

    def step(self, x: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, memory = self.mixer.step(self.norm(x), memory)
        return self._ff(x + y), memory


def scan_max_abs_err(seed: int = 0, batch: int = 4, length: int = 64, dim: int = 256,
                     state_dim: int = 16, scan: str = "auto") -> float:
    """Max |parallel - step-mode| over a fresh float32 :class:`MambaLayer`'s outputs and memory,
    random inputs and Bernoulli(0.1) resets (index 0 always one); global RNG untouched."""
    inner = 2 * dim  # expand 2, the layer's default
    return parallel_vs_steps_max_abs_err(lambda: MambaLayer(dim, state_dim, scan=scan),
                                         (inner, state_dim + 4 - 1), dim, seed, batch, length)
