"""The resettable S5 layer and the S5WM block (spec §2.1, §2.2).

* :func:`init_lambda_v`: HiPPO-LegS "normal part" init, block-diagonal with ``init_blocks`` copies.
* :func:`discretize_zoh`: zero-order-hold discretisation with a per-mode step size.
* :func:`resettable_scan`: log-depth (Hillis-Steele) parallel scan of ``x_t = a_t x_{t-1} + b_t``
  with the reset folded into the multiplier, ``a_t = Λ̄ (1 - r_t)``: a reset treats the previous
  state as zero (spec §2.1). :func:`sequential_scan` is the step-by-step reference.
* :class:`S5Layer`: parallel mode (training) and step mode (acting, imagination).
* :class:`S5Block`: two S5 sublayers with pre-LayerNorm residuals, then the FF part (spec §2.2).
* :func:`scan_max_abs_err`: parallel-vs-sequential error, reported by the benchmark.

Shapes: B batch, T time, N flattened starts, H model width, P complex state size.

Deliberate choices versus the authors' code (spec §2.1, §9 B14):

* Re(Λ) is clamped to ``<= MAX_RE_LAMBDA`` (-1e-4) in the forward pass, so |Λ̄| < 1 always and
  training cannot make the recurrence unstable (the authors leave Λ unconstrained).
* Everything else follows the spec: no conjugate symmetry (all P modes kept, Λ not halved),
  ``D ~ U[0, 1)``, log Δ ~ U[log 1e-3, log 1e-1] per mode, hard-coded GELU in the S5 sublayers.
* For speed on CPU, the products B̄u and Re(C̃x) are real matmuls on stacked (re, im) parts
  instead of complex matmuls; the results are identical up to float rounding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hieros_lab.nn.init import init_hidden

#: Upper bound on Re(Λ) in the forward pass (B14 fix: keeps |Λ̄| = exp(Re(Λ)Δ) < 1).
MAX_RE_LAMBDA = -1e-4


def hippo_legs_normal(n: int) -> torch.Tensor:
    """Normal part S = A + p pᵀ of the ``[n, n]`` HiPPO-LegS matrix A (float64).

    A_nk = -sqrt(2n+1) sqrt(2k+1) (n > k), -(n+1) (n = k), 0 (n < k); p_n = sqrt(n + 1/2).
    S = -I/2 + (skew-symmetric), so it is normal with eigenvalues -1/2 + iμ.
    """
    idx = torch.arange(n, dtype=torch.float64)
    q = torch.sqrt(2.0 * idx + 1.0)
    a = -(torch.tril(q[:, None] * q[None, :]) - torch.diag(idx))
    p = torch.sqrt(idx + 0.5)
    return a + p[:, None] * p[None, :]


def init_lambda_v(state_dim: int, blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """HiPPO-LegS init of Λ ``[P]`` and V ``[P, P]`` (complex128), spec §2.1.

    The ``P / blocks``-mode spectrum is tiled ``blocks`` times and V is block-diagonal.
    Re Λ = mean(diag S) = -1/2; (Im Λ, V) = eigh(-i S). The diagonal of -iS is imaginary, and
    eigh reads only its Hermitian part, so we pass that part explicitly: -i (S - diag S).
    """
    if state_dim % blocks:
        raise ValueError(f"state_dim {state_dim} is not divisible by init_blocks {blocks}")
    s = hippo_legs_normal(state_dim // blocks)
    diag = torch.diagonal(s)
    lam_imag, v = torch.linalg.eigh(-1j * (s - torch.diag(diag)).to(torch.complex128))
    lam = torch.complex(torch.full_like(lam_imag, diag.mean().item()), lam_imag)
    return lam.repeat(blocks), torch.block_diag(*([v] * blocks))


def discretize_zoh(lam: torch.Tensor, b_tilde: torch.Tensor, delta: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """ZOH: Λ̄ = exp(ΛΔ), B̄ = (Λ̄ - 1)/Λ · B̃ (row-wise).

    ``lam [P]`` complex, ``b_tilde [P, H]`` complex, ``delta [P]`` real -> ``(Λ̄ [P], B̄ [P, H])``.
    """
    lam_bar = torch.exp(lam * delta)
    return lam_bar, ((lam_bar - 1.0) / lam)[:, None] * b_tilde


def resettable_scan(lam_bar: torch.Tensor, bu: torch.Tensor, reset: torch.Tensor,
                    x0: torch.Tensor | None = None) -> torch.Tensor:
    """All states of ``x_t = Λ̄ (1 - r_t) x_{t-1} + b_t``, log2(T) levels (Hillis-Steele).

    Args:
        lam_bar: ``[P]`` complex diagonal transition.
        bu: ``[B, T, P]`` complex inputs b_t = B̄ u_t.
        reset: ``[B, T]`` bool r_t; a reset makes x_t = b_t (previous state treated as zero).
        x0: ``[B, P]`` state before step 0 (``None`` = zero).
    Returns:
        ``[B, T, P]`` states x_0..x_{T-1}.

    The composed multiplier over a window of length d is Λ̄^d · Π(1 - r) over the window, so only
    the real ``[B, T, 1]`` keep-product and the ``[P]`` power Λ̄^d are tracked per level.
    """
    keep = (~reset).to(bu.real.dtype).unsqueeze(-1)                    # [B, T, 1]
    x = bu
    if x0 is not None:
        x = torch.cat([x[:, :1] + (lam_bar * keep[:, :1]) * x0.unsqueeze(1), x[:, 1:]], 1)
    steps = x.shape[1]
    lam_pow, d = lam_bar, 1
    while d < steps:
        # After this level, x_t composes the window (t - 2d, t]; window (t - d, t] had multiplier
        # lam_pow * keep (all t >= d see a full window, so Λ̄^d is exact).
        x = torch.cat([x[:, :d], x[:, d:] + lam_pow * (keep[:, d:] * x[:, :-d])], 1)
        if 2 * d < steps:
            keep = torch.cat([keep[:, :d], keep[:, d:] * keep[:, :-d]], 1)
            lam_pow = lam_pow * lam_pow
        d *= 2
    return x


def sequential_scan(lam_bar: torch.Tensor, bu: torch.Tensor, reset: torch.Tensor,
                    x0: torch.Tensor | None = None) -> torch.Tensor:
    """Reference loop over T for :func:`resettable_scan` (same arguments and result)."""
    x = torch.zeros_like(bu[:, 0]) if x0 is None else x0
    out = []
    for t in range(bu.shape[1]):
        x = torch.where(reset[:, t, None], torch.zeros_like(x), x)
        x = lam_bar * x + bu[:, t]
        out.append(x)
    return torch.stack(out, 1)


class S5Layer(nn.Module):
    """Single-input/multi-output S5 with diagonal complex state (spec §2.1).

    Parallel mode: ``forward(u [B, T, H], reset [B, T], x0 [B, P]) -> (y [B, T, H], x [B, T, P])``.
    Step mode: ``step(u [N, H], x [N, P]) -> (y [N, H], x' [N, P])``; the caller zeroes ``x`` at
    resets. y_t = Re(C̃ x_t) + D ⊙ u_t.

    Parameters: ``lambda_re``/``lambda_im`` ``[P]``, ``b_tilde`` ``[P, H, 2]`` (re, im of V⁻¹B),
    ``c_tilde`` ``[H, P, 2]`` (re, im of CV), ``d`` ``[H]``, ``log_step`` ``[P]``. B and C are
    LeCun-normal with fan-in = the width they sum over (H for B, P for C; real and imaginary parts
    of C drawn separately).
    """

    def __init__(self, dim: int, state_dim: int, init_blocks: int = 4,
                 dt_min: float = 1e-3, dt_max: float = 1e-1) -> None:
        super().__init__()
        lam, v = init_lambda_v(state_dim, init_blocks)
        b = torch.randn(state_dim, dim, dtype=torch.float64) / math.sqrt(dim)
        c = torch.complex(torch.randn(dim, state_dim, dtype=torch.float64),
                          torch.randn(dim, state_dim, dtype=torch.float64)) / math.sqrt(state_dim)
        self.lambda_re = nn.Parameter(lam.real.float())
        self.lambda_im = nn.Parameter(lam.imag.float())
        self.b_tilde = nn.Parameter(torch.view_as_real(v.conj().T @ b.to(v.dtype)).float())
        self.c_tilde = nn.Parameter(torch.view_as_real(c @ v).float())
        self.d = nn.Parameter(torch.rand(dim))                  # spec §2.1: U[0, 1)
        log_lo, log_hi = math.log(dt_min), math.log(dt_max)
        self.log_step = nn.Parameter(torch.rand(state_dim) * (log_hi - log_lo) + log_lo)
        self.dim, self.state_dim = dim, state_dim

    def lam(self) -> torch.Tensor:
        """``[P]`` continuous-time Λ with Re(Λ) clamped to <= MAX_RE_LAMBDA (B14 fix)."""
        return torch.complex(self.lambda_re.clamp(max=MAX_RE_LAMBDA), self.lambda_im)

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(Λ̄ [P] complex, W_in [H, 2P], W_out [H, 2P])``: real forms of B̄ and Re(C̃ ·).

        u @ W_in = interleaved (re, im) of B̄u; F.linear(view_as_real(x), W_out) = Re(C̃x).

        Without gradients (acting, imagination) the result is cached until a parameter changes:
        a rollout steps every layer H times with the same weights, and recomputing the complex
        exponentials each step cost about 7 % of a 3-level MinAtar run. The cache key is each
        parameter's storage and in-place version counter, so an optimizer step, a
        ``load_state_dict`` or a ``.to()`` invalidates it; the values are bit-identical to a
        fresh computation. With gradients it is always recomputed, so no cached tensor ever
        carries an autograd graph that a ``backward`` could have freed.
        """
        # Under torch.compile the graph computes it (dynamo must not trace the Python cache).
        if torch.is_grad_enabled() or torch.compiler.is_compiling():
            return self._discretize()
        key = tuple((p.data_ptr(), p._version, p.dtype) for p in self._discrete_params())
        cached = self.__dict__.get("_discrete_cache")
        if cached is None or cached[0] != key:
            cached = (key, self._discretize())
            self.__dict__["_discrete_cache"] = cached
        return cached[1]

    def _discrete_params(self) -> tuple[torch.Tensor, ...]:
        return (self.lambda_re, self.lambda_im, self.b_tilde, self.c_tilde, self.log_step)

    def _discretize(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lam_bar, b_bar = discretize_zoh(self.lam(), torch.view_as_complex(self.b_tilde),
                                        self.log_step.exp())
        w_in = torch.view_as_real(b_bar).transpose(0, 1).reshape(self.dim, 2 * self.state_dim)
        c = self.c_tilde
        w_out = torch.stack([c[..., 0], -c[..., 1]], -1).reshape(self.dim, 2 * self.state_dim)
        return lam_bar, w_in, w_out

    def _input(self, u: torch.Tensor, w_in: torch.Tensor) -> torch.Tensor:
        """``[..., H]`` -> complex B̄u ``[..., P]`` via one real matmul."""
        bu = (u @ w_in).unflatten(-1, (self.state_dim, 2))
        return torch.view_as_complex(bu)

    def _output(self, x: torch.Tensor, u: torch.Tensor, w_out: torch.Tensor) -> torch.Tensor:
        """Re(C̃x) + D ⊙ u via one real matmul; ``x [..., P]`` complex, ``u [..., H]``."""
        return F.linear(torch.view_as_real(x).flatten(-2), w_out) + self.d * u

    def forward(self, u: torch.Tensor, reset: torch.Tensor, x0: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        lam_bar, w_in, w_out = self.discrete()
        x = resettable_scan(lam_bar, self._input(u, w_in), reset, x0)
        return self._output(x, u, w_out), x

    def step(self, u: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lam_bar, w_in, w_out = self.discrete()
        x = lam_bar * x + self._input(u, w_in)
        return self._output(x, u, w_out), x


class S5Block(nn.Module):
    """``ReworkedDoubleS5Block`` (spec §2.2): two S5 sublayers, then the FF part.

    1. x ← x + Dropout(GELU(Linear₁(S5₁(LN₁(x)))))
    2. x ← x + Dropout(GELU(Linear₂(S5₂(LN₂(x)))))
    3. x ← x + FF(LN₃(x)), FF = ``ff_layers`` × [Linear(no bias) → LN → SiLU → Dropout].

    With ``ff_layers = 0`` (the paper's ``s5_no_mlp``) FF is the identity, so step 3 computes
    x + LN₃(x): the authors' behaviour, kept as the default (B14). LayerNorms use eps 1e-5.

    ``forward(x [B, T, H], reset [B, T], states (x0₁, x0₂) or None)`` and ``step(x [N, H],
    (s₁, s₂))`` both return ``(y, (s₁, s₂))`` with the two sublayers' complex states.
    """

    def __init__(self, dim: int, state_dim: int, init_blocks: int = 4, ff_layers: int = 0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(2)])
        self.ssms = nn.ModuleList([S5Layer(dim, state_dim, init_blocks) for _ in range(2)])
        self.linears = nn.ModuleList([nn.Linear(dim, dim, bias=False) for _ in range(2)])
        self.norm_ff = nn.LayerNorm(dim)
        ff: list[nn.Module] = []
        for _ in range(ff_layers):
            ff += [nn.Linear(dim, dim, bias=False), nn.LayerNorm(dim), nn.SiLU(),
                   nn.Dropout(dropout)]
        self.ff = nn.Sequential(*ff)
        self.dropout = nn.Dropout(dropout)
        init_hidden(self.linears)
        init_hidden(self.ff)

    def _mix(self, i: int, y: torch.Tensor) -> torch.Tensor:
        # Hard-coded GELU as in the authors' block (spec §2.2, B14).
        return self.dropout(F.gelu(self.linears[i](y)))

    def forward(self, x: torch.Tensor, reset: torch.Tensor,
                states: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out = []
        for i in range(2):
            y, s = self.ssms[i](self.norms[i](x), reset, None if states is None else states[i])
            x = x + self._mix(i, y)
            out.append(s)
        return x + self.ff(self.norm_ff(x)), (out[0], out[1])

    def step(self, x: torch.Tensor, states: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out = []
        for i in range(2):
            y, s = self.ssms[i].step(self.norms[i](x), states[i])
            x = x + self._mix(i, y)
            out.append(s)
        return x + self.ff(self.norm_ff(x)), (out[0], out[1])


def scan_max_abs_err(seed: int = 0, batch: int = 4, length: int = 64, model_dim: int = 256,
                     state_dim: int = 128) -> float:
    """Max |parallel states - sequential step-mode states| of a fresh float32 :class:`S5Layer`.

    Random N(0, 1) inputs and Bernoulli(0.1) resets (index 0 always a reset); the sequential
    path runs :meth:`S5Layer.step`, zeroing the state before each reset step. The global torch
    RNG is left untouched (the layer is initialised inside ``fork_rng``).
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = S5Layer(model_dim, state_dim)
    u = torch.randn(batch, length, model_dim, generator=gen)
    reset = torch.rand(batch, length, generator=gen) < 0.1
    reset[:, 0] = True
    with torch.no_grad():
        _, par = layer(u, reset)
        x = torch.zeros(batch, state_dim, dtype=torch.complex64)
        seq = []
        for t in range(length):
            x = torch.where(reset[:, t, None], torch.zeros_like(x), x)
            _, x = layer.step(u[:, t], x)
            seq.append(x)
    return float((par - torch.stack(seq, 1)).abs().max())
