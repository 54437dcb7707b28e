"""The selective SSM layer (sequence/mamba): the parallel scan equals the recurrence, resets are
exact (state and conv window), and a sequence split in two continues from the first part's
memory as if it had never been split."""

from __future__ import annotations

import pytest
import torch

from hieros_lab.sequence.linear_scan import linear_scan
from hieros_lab.sequence.mamba_layers import MambaLayer, scan_max_abs_err, sequential_scan

B, T, H = 3, 23, 12


def _layer(conv: int = 4) -> MambaLayer:
    torch.manual_seed(0)
    return MambaLayer(H, state_dim=5, expand=2, conv=conv)


def _memory(layer: MambaLayer, scale: float = 0.0) -> torch.Tensor:
    return scale * torch.randn(B, layer.inner, layer.memory_width)


def test_the_scan_equals_the_recurrence_with_random_resets():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(B, T, 4, 3, generator=g)
    b = torch.randn(B, T, 4, 3, generator=g)
    reset = torch.rand(B, T, generator=g) < 0.2
    h0 = torch.randn(B, 4, 3, generator=g)
    for start in (None, h0):
        for algorithm in ("parallel", "sequential"):
            torch.testing.assert_close(linear_scan(a, b, reset, start, algorithm),
                                       sequential_scan(a, b, reset, start), rtol=1e-5,
                                       atol=1e-5)
    # issue 11's target, at the paper's width (H 256, N 16) in float32
    assert scan_max_abs_err() <= 1e-4
    assert scan_max_abs_err(scan="sequential") <= 1e-4


@pytest.mark.parametrize("conv", [1, 2, 4])
def test_parallel_form_equals_the_step_form(conv):
    layer = _layer(conv)
    x = torch.randn(B, T, H)
    reset = torch.rand(B, T) < 0.15
    memory = _memory(layer, 1.0)  # a carried memory: step 0 continues from it unless reset
    with torch.no_grad():
        y_par, m_par = layer(x, reset, memory)
        state, ys, ms = memory, [], []
        for t in range(T):
            state = torch.where(reset[:, t, None, None], torch.zeros_like(state), state)
            y, state = layer.step(x[:, t], state)
            ys.append(y)
            ms.append(state)
    torch.testing.assert_close(y_par, torch.stack(ys, 1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(m_par, torch.stack(ms, 1), rtol=1e-4, atol=1e-5)


def test_a_reset_forgets_the_state_and_the_conv_window():
    layer = _layer()
    x = torch.randn(B, T, H)
    reset = torch.zeros(B, T, dtype=torch.bool)
    reset[:, 9] = True
    with torch.no_grad():
        y, _ = layer(x, reset, _memory(layer, 1.0))
        fresh, _ = layer(x[:, 9:], reset[:, 9:], _memory(layer, 0.0))
    torch.testing.assert_close(y[:, 9:], fresh, rtol=1e-5, atol=1e-6)
    # without the reset the earlier inputs do reach step 9 (the test can tell)
    with torch.no_grad():
        carried, _ = layer(x, torch.zeros_like(reset), _memory(layer, 1.0))
    assert not torch.allclose(carried[:, 9], fresh[:, 0], atol=1e-3)


def test_a_split_sequence_continues_from_its_memory():
    layer = _layer()
    x = torch.randn(B, T, H)
    reset = torch.rand(B, T) < 0.1
    with torch.no_grad():
        whole, _ = layer(x, reset, _memory(layer))
        first, memory = layer(x[:, :11], reset[:, :11], _memory(layer))
        second, _ = layer(x[:, 11:], reset[:, 11:], memory[:, -1])
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-4, atol=1e-5)


def test_the_in_place_step_equals_the_autograd_step():
    """Imagination without a graph forms the state in place; through the dynamics (a graph) it
    runs the autograd form: both give the same output and memory."""
    layer = _layer()
    x, memory = torch.randn(B, H), _memory(layer, 1.0)
    with torch.no_grad():
        y_fast, m_fast = layer.step(x, memory)
    y_grad, m_grad = layer.step(x.requires_grad_(), memory)
    assert y_grad.requires_grad and m_grad.requires_grad
    torch.testing.assert_close(y_fast, y_grad.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(m_fast, m_grad.detach(), rtol=1e-5, atol=1e-6)
