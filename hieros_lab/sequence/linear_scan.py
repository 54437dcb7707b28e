"""The linear recurrence h_t = a_t h_{t-1} + b_t over time, with a hand-written backward.

Mamba's selective state ``[B, T, inner, N]`` is 32 times S5's per layer (N = 16 real numbers a
channel against half a complex one), so how its scan is differentiated decides the update's cost.
Left to autograd, a log-depth scan written with ``torch.cat`` keeps every level's tensors for the
backward pass: at paper size one layer's forward and backward took 2.4 s on one AVX512 thread
(session 19, two other processes on the machine). Here the forward runs without a graph, in
place, and saves only ``a`` and the result; the backward is the same recurrence run backwards in
time (below), so it costs about what the forward does.

Gradient. With g_t = ∂L/∂h_t in total (through later states too):

    g_t = G_t + a_{t+1} g_{t+1}   (G: the gradient arriving at h_t from outside; g_{T-1} = G_{T-1})
    ∂L/∂b_t = g_t,    ∂L/∂a_t = g_t h_{t-1}  (h_{-1} = 0: an initial state is folded into b_0)

i.e. the forward recurrence on the time-reversed G with multipliers a_{t+1}.

Algorithms (``ALGORITHMS``; both in place on a ``[B, T, ...]`` tensor, the same in forward and
backward):

* ``parallel``: Hillis-Steele, log2(T) levels over the whole tensor (the associative scan of
  Mamba's training; the form that parallelises on a GPU);
* ``sequential``: T steps of one fused multiply-add over ``[B, ...]`` (one pass over memory: on a
  CPU thread the cheaper one, measured in ``hieros-lab bench``).

They agree to float rounding (the summation order differs). ``auto`` (the default of
``mamba.scan``) takes ``sequential`` on a CPU and ``parallel`` elsewhere. Measured at paper size
(session 19, AVX512, one thread, nothing else running; ``python -m hieros_lab.bench.update
--sequence mamba --binding "mamba.scan='...'"``): world-model step 3.72 s sequential against
4.51 s parallel. Shapes: B batch, T time, ``...`` any trailing dims.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.autograd.function import once_differentiable


def parallel_(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x [B, T, ...]`` <- its scan with multipliers ``a [B, T, ...]`` (a left unchanged), in
    log2(T) levels: at distance d, x_t += a_t x_{t-d} and a_t *= a_{t-d} (a_t then is the product
    over its window). Returns ``x``."""
    steps, d = x.shape[1], 1
    a = a.clone() if steps > 2 else a
    while d < steps:
        x[:, d:] += a[:, d:] * x[:, :-d]
        if 2 * d < steps:
            a[:, d:] = a[:, d:] * a[:, :-d]  # the product is formed before the overlap is written
        d *= 2
    return x


def sequential_(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x [B, T, ...]`` <- its scan with multipliers ``a`` by T - 1 in-place steps. Returns x."""
    for t in range(1, x.shape[1]):
        x[:, t].addcmul_(a[:, t], x[:, t - 1])
    return x


#: name -> in-place scan ``(a, x) -> x``; the values of ``mamba.scan``.
ALGORITHMS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "parallel": parallel_, "sequential": sequential_}


#: ``auto``: the algorithm per device type (others: ``parallel``)
AUTO = {"cpu": "sequential"}


def check(algorithm: str) -> str:
    """``algorithm`` itself if it names a scan or is ``auto``, else a ValueError naming the
    choices."""
    if algorithm != "auto" and algorithm not in ALGORITHMS:
        raise ValueError(f"mamba.scan must be one of auto, {', '.join(ALGORITHMS)}, got "
                         f"{algorithm!r}")
    return algorithm


def resolve(algorithm: str, device: torch.device) -> str:
    """The scan ``algorithm`` runs on ``device``: itself, or for ``auto`` :data:`AUTO`'s."""
    check(algorithm)
    return AUTO.get(device.type, "parallel") if algorithm == "auto" else algorithm


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor, algorithm: str) -> torch.Tensor:
        h = ALGORITHMS[algorithm](a, b.clone())
        ctx.save_for_backward(a, h)
        ctx.algorithm = algorithm
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_h: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        a, h = ctx.saved_tensors
        # reversed time: g'_k = G'_k + m_k g'_{k-1} with m_k = a_{T-k} (k >= 1)
        m = torch.zeros_like(a)
        m[:, 1:] = a[:, 1:].flip(1)
        g = ALGORITHMS[ctx.algorithm](m, grad_h.flip(1)).flip(1)
        grad_a = None
        if ctx.needs_input_grad[0]:
            grad_a = torch.zeros_like(a)
            grad_a[:, 1:] = g[:, 1:] * h[:, :-1]
        return grad_a, g if ctx.needs_input_grad[1] else None, None


def linear_scan(a: torch.Tensor, b: torch.Tensor, reset: torch.Tensor,
                h0: torch.Tensor | None = None, algorithm: str = "auto") -> torch.Tensor:
    """All states of ``h_t = a_t (1 - r_t) h_{t-1} + b_t``, differentiable in a, b and h0.

    ``a``, ``b``: ``[B, T, ...]``; ``reset``: ``[B, T]`` bool (r_t: step t starts an episode, so
    the previous state counts as zero); ``h0``: ``[B, ...]`` the state before step 0 (None = 0).
    Returns ``[B, T, ...]``.
    """
    algorithm = resolve(algorithm, a.device)
    keep = (~reset).to(a.dtype).reshape(*reset.shape, *[1] * (a.dim() - 2))
    a = a * keep
    if h0 is not None:  # h_0 = a_0 h0 + b_0: the initial state enters through b_0
        b = torch.cat([b[:, :1] + a[:, :1] * h0.unsqueeze(1), b[:, 1:]], 1)
    return _LinearScan.apply(a, b, algorithm)
