"""The linear scan with its hand-written backward (sequence/linear_scan): both algorithms give the
autograd reference's states and gradients (a, b and the initial state) with random resets, at
lengths that exercise every level of the log-depth form, and leave their inputs unchanged."""

from __future__ import annotations

import pytest
import torch

from hieros_lab.sequence import linear_scan as ls
from hieros_lab.sequence.mamba_layers import sequential_scan

ALGORITHMS = sorted(ls.ALGORITHMS)


def _inputs(steps: int, dtype: torch.dtype = torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(3, steps, 4, 2, generator=g, dtype=dtype)
    b = torch.randn(3, steps, 4, 2, generator=g, dtype=dtype)
    reset = torch.rand(3, steps, generator=g) < 0.2
    h0 = torch.randn(3, 4, 2, generator=g, dtype=dtype)
    return a, b, reset, h0


def _grads(fn, a, b, reset, h0, weight):
    leaves = [t.detach().clone().requires_grad_() for t in (a, b, h0)]
    out = fn(leaves[0], leaves[1], reset, leaves[2])
    (out * weight).sum().backward()
    return out.detach(), [t.grad for t in leaves]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("steps", [1, 2, 3, 8, 13])
def test_states_and_gradients_equal_the_autograd_reference(algorithm, steps):
    a, b, reset, h0 = _inputs(steps, torch.float64)
    weight = torch.randn(b.shape, dtype=torch.float64)
    want, want_grads = _grads(sequential_scan, a, b, reset, h0, weight)
    got, got_grads = _grads(lambda *x: ls.linear_scan(*x, algorithm=algorithm),
                            a, b, reset, h0, weight)
    torch.testing.assert_close(got, want)
    for name, g, w in zip(("a", "b", "h0"), got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, w, msg=lambda m, n=name: f"d/d{n}: {m}")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_gradcheck(algorithm):
    a, b, reset, h0 = _inputs(6, torch.float64, seed=1)
    leaves = [t.requires_grad_() for t in (a, b, h0)]
    assert torch.autograd.gradcheck(
        lambda x, y, z: ls.linear_scan(x, y, reset, z, algorithm), leaves)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_in_place_kernels_leave_the_multipliers_alone(algorithm):
    a, b, _, _ = _inputs(9)
    a_before = a.clone()
    out = ls.ALGORITHMS[algorithm](a, b.clone())
    assert torch.equal(a, a_before)
    assert not torch.equal(out, b)  # it did scan


def test_a_reset_at_every_step_leaves_b():
    a, b, _, h0 = _inputs(5)
    reset = torch.ones(3, 5, dtype=torch.bool)
    for algorithm in ALGORITHMS:
        assert torch.equal(ls.linear_scan(a, b, reset, h0, algorithm), b)


def test_an_unknown_algorithm_is_named():
    a, b, reset, _ = _inputs(4)
    with pytest.raises(ValueError, match=r"mamba.scan must be one of auto, parallel, "
                                         r"sequential, got 'log'"):
        ls.linear_scan(a, b, reset, algorithm="log")


def test_auto_is_sequential_on_a_cpu_and_parallel_elsewhere():
    assert ls.resolve("auto", torch.device("cpu")) == "sequential"
    assert ls.resolve("auto", torch.device("cuda")) == "parallel"
    assert ls.resolve("parallel", torch.device("cpu")) == "parallel"
