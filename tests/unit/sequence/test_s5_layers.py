"""Invariants of the resettable S5 layer and block (spec §12 items 1-4, §2.2, B14)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hieros_lab.sequence.s5_layers import (
    MAX_RE_LAMBDA,
    S5Block,
    S5Layer,
    discretize_zoh,
    hippo_legs_normal,
    init_lambda_v,
    resettable_scan,
    scan_max_abs_err,
    sequential_scan,
)

H, P, NB = 6, 8, 2  # tiny: model width, complex state size, HiPPO blocks


def _resets(gen: torch.Generator, b: int, t: int, p: float = 0.2) -> torch.Tensor:
    reset = torch.rand(b, t, generator=gen) < p
    reset[:, 0] = True
    return reset


def _layer(seed: int = 0, dtype: torch.dtype = torch.float64) -> S5Layer:
    torch.manual_seed(seed)
    return S5Layer(H, P, NB).to(dtype)


def _step_all(layer: S5Layer, u: torch.Tensor, reset: torch.Tensor, x0: torch.Tensor | None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Step mode over T, zeroing the state before every reset step."""
    x = torch.zeros(u.shape[0], P, dtype=torch.complex128 if u.dtype == torch.float64
                    else torch.complex64) if x0 is None else x0
    ys, xs = [], []
    for t in range(u.shape[1]):
        x = torch.where(reset[:, t, None], torch.zeros_like(x), x)
        y, x = layer.step(u[:, t], x)
        ys.append(y)
        xs.append(x)
    return torch.stack(ys, 1), torch.stack(xs, 1)


@pytest.mark.parametrize("length", [1, 2, 7, 33])
@pytest.mark.parametrize("with_x0", [False, True])
def test_scan_matches_sequential_recurrence(length: int, with_x0: bool) -> None:
    gen = torch.Generator().manual_seed(length)
    lam_bar = torch.exp(torch.complex(-torch.rand(P, generator=gen), torch.randn(P, generator=gen)))
    bu = torch.randn(3, length, P, generator=gen, dtype=torch.complex128)
    reset = torch.rand(3, length, generator=gen) < 0.3
    x0 = torch.randn(3, P, generator=gen, dtype=torch.complex128) if with_x0 else None
    par = resettable_scan(lam_bar.to(torch.complex128), bu, reset, x0)
    seq = sequential_scan(lam_bar.to(torch.complex128), bu, reset, x0)
    torch.testing.assert_close(par, seq, atol=1e-12, rtol=0)
    if with_x0 and not reset[0, 0]:
        assert not torch.allclose(par[0, 0], bu[0, 0])  # x0 really entered step 0


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_layer_parallel_equals_step_mode(dtype: torch.dtype, atol: float) -> None:
    gen = torch.Generator().manual_seed(1)
    layer = _layer(1, dtype)
    u = torch.randn(4, 40, H, generator=gen).to(dtype)
    reset = _resets(gen, 4, 40)
    with torch.no_grad():
        y_par, x_par = layer(u, reset)
        y_seq, x_seq = _step_all(layer, u, reset, None)
    torch.testing.assert_close(x_par, x_seq, atol=atol, rtol=0)
    torch.testing.assert_close(y_par, y_seq, atol=atol, rtol=0)


def test_scan_max_abs_err_reports_small_error() -> None:
    err = scan_max_abs_err(seed=3, batch=2, length=50, model_dim=16, state_dim=8)
    assert 0.0 <= err <= 1e-5


def test_reset_isolation_values_and_gradients() -> None:
    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    block = S5Block(H, P, NB, ff_layers=1).double()
    k, t = 5, 12
    u = torch.randn(2, t, H, generator=gen, dtype=torch.float64, requires_grad=True)
    reset = torch.zeros(2, t, dtype=torch.bool)
    reset[:, 0] = reset[:, k] = True
    y, _ = block(u, reset)
    # Values: changing every input before the reset leaves outputs at/after it unchanged.
    u2 = u.detach().clone()
    u2[:, :k] += 10.0 * torch.randn(2, k, H, generator=gen, dtype=torch.float64)
    y2, _ = block(u2, reset)
    torch.testing.assert_close(y2[:, k:], y[:, k:].detach(), atol=1e-12, rtol=0)
    assert not torch.allclose(y2[:, :k], y[:, :k].detach())
    # Gradients of post-reset outputs w.r.t. pre-reset inputs are exactly zero.
    y[:, k:].square().sum().backward()
    assert torch.count_nonzero(u.grad[:, :k]) == 0
    assert torch.count_nonzero(u.grad[:, k:]) > 0


def test_zoh_discretisation() -> None:
    gen = torch.Generator().manual_seed(4)
    lam = torch.complex(-torch.rand(P, generator=gen) * 3 - 1e-3, torch.randn(P, generator=gen) * 5)
    lam = lam.to(torch.complex128)
    b = torch.randn(P, H, generator=gen, dtype=torch.complex128)
    delta = torch.rand(P, generator=gen, dtype=torch.float64) * 0.5 + 1e-3
    lam_bar, b_bar = discretize_zoh(lam, b, delta)
    assert (lam_bar.abs() < 1).all()
    # Independent check: B̄ = ∫_0^Δ exp(Λ s) ds · B̃ (trapezoid rule on a fine grid).
    s = torch.linspace(0, 1, 4001, dtype=torch.float64)[:, None] * delta
    integral = torch.trapezoid(torch.exp(lam * s), s, dim=0)
    torch.testing.assert_close(b_bar, integral[:, None] * b, atol=1e-7, rtol=1e-6)
    # Small-Δ limit: B̄ ≈ Δ B̃ (relative error O(|Λ|Δ)).
    tiny = torch.full((P,), 1e-6, dtype=torch.float64)
    _, b_small = discretize_zoh(lam, b, tiny)
    torch.testing.assert_close(b_small, tiny[:, None] * b, rtol=1e-4, atol=0)


def test_real_matmuls_equal_complex_products() -> None:
    layer = _layer(5)
    lam_bar, w_in, w_out = layer.discrete()
    gen = torch.Generator().manual_seed(5)
    u = torch.randn(3, H, generator=gen, dtype=torch.float64)
    x = torch.randn(3, P, generator=gen, dtype=torch.complex128)
    b_tilde = torch.view_as_complex(layer.b_tilde)
    _, b_bar = discretize_zoh(layer.lam(), b_tilde, layer.log_step.exp())
    torch.testing.assert_close(layer._input(u, w_in), u.to(b_bar.dtype) @ b_bar.T)
    c = torch.view_as_complex(layer.c_tilde)
    torch.testing.assert_close(layer._output(x, u, w_out), (x @ c.T).real + layer.d * u)
    torch.testing.assert_close(lam_bar, torch.exp(layer.lam() * layer.log_step.exp()))


def test_lambda_real_part_is_clamped_negative() -> None:
    layer = _layer(6)
    with torch.no_grad():
        layer.lambda_re.fill_(0.5)  # as if training had pushed Re Λ positive (B14)
    lam_bar, _, _ = layer.discrete()
    assert (layer.lam().real <= MAX_RE_LAMBDA).all()
    assert (lam_bar.abs() < 1).all()


def test_legs_normal_part_small_case() -> None:
    s = hippo_legs_normal(2)
    r = math.sqrt(0.75)
    expected = torch.tensor([[-0.5, r], [-r, -0.5]], dtype=torch.float64)
    torch.testing.assert_close(s, expected)


def test_hippo_init() -> None:
    state, blocks = 32, 4
    n = state // blocks
    lam, v = init_lambda_v(state, blocks)
    assert torch.allclose(lam.real, torch.full((state,), -0.5, dtype=torch.float64))
    # Λ are the eigenvalues of S (= -1/2 + i·eig(-iS)), tiled init_blocks times.
    eig = np.linalg.eigvals(hippo_legs_normal(n).numpy())
    np.testing.assert_allclose(np.sort(eig.imag), np.sort(lam[:n].imag.numpy()), atol=1e-8)
    np.testing.assert_allclose(eig.real, -0.5, atol=1e-8)
    for k in range(1, blocks):
        torch.testing.assert_close(lam[k * n:(k + 1) * n], lam[:n])
    # V unitary and block-diagonal with identical blocks diagonalising S.
    torch.testing.assert_close(v @ v.conj().T, torch.eye(state, dtype=v.dtype), atol=1e-10, rtol=0)
    mask = torch.block_diag(*[torch.ones(n, n)] * blocks).bool()
    assert v[~mask].abs().max() == 0
    vb = v[:n, :n]
    recon = vb @ torch.diag(lam[:n]) @ vb.conj().T
    torch.testing.assert_close(recon, hippo_legs_normal(n).to(recon.dtype), atol=1e-9, rtol=0)


def test_layer_parameter_init() -> None:
    torch.manual_seed(7)
    layer = S5Layer(64, 16, 4)
    assert ((layer.d >= 0) & (layer.d < 1)).all() and layer.d.std() > 0.1  # U[0, 1), spec §2.1
    assert (layer.log_step >= math.log(1e-3)).all() and (layer.log_step <= math.log(1e-1)).all()
    assert torch.allclose(layer.lambda_re, torch.full((16,), -0.5))
    assert layer.b_tilde.shape == (16, 64, 2) and layer.c_tilde.shape == (64, 16, 2)


def test_block_without_ff_adds_layernorm_of_itself() -> None:
    torch.manual_seed(8)
    block = S5Block(H, P, NB, ff_layers=0).double()
    gen = torch.Generator().manual_seed(8)
    u = torch.randn(2, 5, H, generator=gen, dtype=torch.float64)
    reset = _resets(gen, 2, 5)
    x = u
    for i in range(2):  # the two S5 sublayers, written out (spec §2.2)
        y, _ = block.ssms[i](block.norms[i](x), reset)
        x = x + torch.nn.functional.gelu(block.linears[i](y))
    out, _ = block(u, reset)
    torch.testing.assert_close(out, x + block.norm_ff(x))  # step 3: x + LN3(x)


@pytest.mark.parametrize("ff_layers", [0, 2])
def test_block_forward_equals_step(ff_layers: int) -> None:
    torch.manual_seed(9)
    block = S5Block(H, P, NB, ff_layers=ff_layers, dropout=0.5).double().eval()
    gen = torch.Generator().manual_seed(9)
    u = torch.randn(3, 9, H, generator=gen, dtype=torch.float64)
    reset = _resets(gen, 3, 9)
    out, (s1, s2) = block(u, reset)
    states = (torch.zeros(3, P, dtype=torch.complex128),) * 2
    for t in range(9):
        states = tuple(torch.where(reset[:, t, None], 0, s) for s in states)
        y, states = block.step(u[:, t], states)
        torch.testing.assert_close(y, out[:, t], atol=1e-10, rtol=0)
    torch.testing.assert_close(states[0], s1[:, -1])
    torch.testing.assert_close(states[1], s2[:, -1])


def _same(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_discretisation_cache_is_exact_and_follows_every_parameter_change() -> None:
    """Without gradients ``discrete`` is computed once per parameter version; an optimizer step,
    ``load_state_dict`` and a dtype change each invalidate it, and with gradients it is fresh."""
    from hieros_lab.nn.optim import Optimizer

    layer = _layer(3, torch.float32)
    with torch.no_grad():
        first, again = layer.discrete(), layer.discrete()
    assert all(x is y for x, y in zip(first, again, strict=True))  # cached: the same tensors
    assert _same(first, layer._discretize())                        # and bit-identical

    opt = Optimizer(layer.parameters(), lr=1e-2, eps=1e-8, clip=100.0)
    u = torch.randn(2, 5, H)
    opt.step(layer(u, torch.zeros(2, 5, dtype=torch.bool))[0].square().mean())
    with torch.no_grad():
        after_step = layer.discrete()
    assert not _same(after_step, first)                 # the AdamW step reached the cache
    assert _same(after_step, layer._discretize())

    other = _layer(4, torch.float32)
    layer.load_state_dict(other.state_dict())
    with torch.no_grad():
        assert _same(layer.discrete(), other._discretize())

    layer.double()
    with torch.no_grad():
        assert layer.discrete()[1].dtype == torch.float64

    with torch.enable_grad():
        fresh = layer.discrete()
    assert fresh[1].requires_grad and fresh[1] is not layer.discrete()[1]
