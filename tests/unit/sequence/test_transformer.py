"""The window-attention layer (sequence/transformer): the parallel form equals the key/value-
cached steps, a reset hides every earlier token, a token sees exactly ``window`` earlier ones,
a split sequence continues from its cache, and the agent refuses a window longer than its
replay windows."""

from __future__ import annotations

import pytest
import torch

from hieros_lab import config
from hieros_lab.sequence.transformer_layers import WindowAttention, cache_max_abs_err

B, T, H, HEADS, W = 3, 23, 12, 3, 5


def _layer(window: int = W) -> WindowAttention:
    torch.manual_seed(0)
    return WindowAttention(H, HEADS, window)


def _cache(layer: WindowAttention, x: torch.Tensor) -> torch.Tensor:
    """The memory after running ``x [B, t, H]`` from a fresh episode: a full, valid cache."""
    reset = torch.zeros(x.shape[:2], dtype=torch.bool)
    reset[:, 0] = True
    with torch.no_grad():
        _, memory = layer(x, reset, torch.zeros(x.shape[0], *layer.memory_shape))
    return memory[:, -1]


def _steps(layer: WindowAttention, x: torch.Tensor, reset: torch.Tensor,
           memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ys, ms = [], []
    with torch.no_grad():
        for t in range(x.shape[1]):
            memory = torch.where(reset[:, t, None, None], torch.zeros_like(memory), memory)
            y, memory = layer.step(x[:, t], memory)
            ys.append(y)
            ms.append(memory)
    return torch.stack(ys, 1), torch.stack(ms, 1)


@pytest.mark.parametrize("window", [1, W, 30])
def test_parallel_form_equals_the_cached_steps(window):
    layer = _layer(window)
    x = torch.randn(B, T, H)
    reset = torch.rand(B, T) < 0.15
    memory = _cache(layer, torch.randn(B, 7, H))  # a carried cache, partly filled at window 30
    with torch.no_grad():
        y_par, m_par = layer(x, reset, memory)
    y_step, m_step = _steps(layer, x, reset, memory)
    torch.testing.assert_close(y_par, y_step, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(m_par, m_step, rtol=1e-4, atol=1e-5)
    assert cache_max_abs_err() <= 1e-4  # at the paper's width, float32


def test_a_reset_hides_every_earlier_token():
    layer = _layer()
    x = torch.randn(B, T, H)
    reset = torch.zeros(B, T, dtype=torch.bool)
    reset[:, 9] = True
    memory = _cache(layer, torch.randn(B, 7, H))
    fresh_memory = torch.zeros(B, *layer.memory_shape)
    with torch.no_grad():
        y, m = layer(x, reset, memory)
        fresh, fresh_m = layer(x[:, 9:], reset[:, 9:], fresh_memory)
        carried, _ = layer(x, torch.zeros_like(reset), memory)
    torch.testing.assert_close(y[:, 9:], fresh, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(m[:, 9:], fresh_m, rtol=1e-5, atol=1e-6)  # the cache, too
    # without the reset the earlier tokens do reach step 9 (the test can tell)
    assert not torch.allclose(carried[:, 9], fresh[:, 0], atol=1e-3)


def test_a_token_sees_exactly_its_window():
    layer = _layer()
    x = torch.randn(1, T, H)
    reset = torch.zeros(1, T, dtype=torch.bool)
    t = 15
    empty = torch.zeros(1, *layer.memory_shape)
    with torch.no_grad():
        base, _ = layer(x, reset, empty)
        outside, inside = x.clone(), x.clone()
        outside[:, t - W - 1] += 5.0   # one step beyond the window
        inside[:, t - W] += 5.0        # the oldest token in it
        y_out, _ = layer(outside, reset, empty)
        y_in, _ = layer(inside, reset, empty)
    torch.testing.assert_close(y_out[:, t], base[:, t])
    assert not torch.allclose(y_in[:, t], base[:, t], atol=1e-4)


def test_a_split_sequence_continues_from_its_cache():
    layer = _layer()
    x = torch.randn(B, T, H)
    reset = torch.rand(B, T) < 0.1
    empty = torch.zeros(B, *layer.memory_shape)
    with torch.no_grad():
        whole, _ = layer(x, reset, empty)
        head, m_head = layer(x[:, :11], reset[:, :11], empty)
        tail, _ = layer(x[:, 11:], reset[:, 11:], m_head[:, -1])
    torch.testing.assert_close(torch.cat([head, tail], 1), whole, rtol=1e-5, atol=1e-6)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="heads dividing the width"):
        WindowAttention(10, 3, 4)
    with pytest.raises(ValueError, match="window >= 1"):
        WindowAttention(12, 3, 0)


def test_the_agent_refuses_a_window_longer_than_the_replay_window():
    from hieros_lab.trainer.loop import Trainer

    config.parse(["debug.gin"], ["WorldModel.sequence = @transformer", "transformer.window = 17",
                                 "ReplayBuffer.length = 16", "Trainer.tracker = @null"])
    with pytest.raises(ValueError, match=r"transformer.window.*ReplayBuffer.length = 16"):
        Trainer().build()
    config.parse(["debug.gin"], ["WorldModel.sequence = @transformer", "transformer.window = 16",
                                 "ReplayBuffer.length = 16", "Trainer.tracker = @null"])
    Trainer().build()  # equal is fine
