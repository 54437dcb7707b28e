"""Training precision (``Trainer.precision``): bf16 autocast with float32 losses and
distributions, fp32 untouched (hieros_lab/nn/precision.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from hieros_lab import config
from hieros_lab.bench.update import random_batch
from hieros_lab.nn import distributions as D
from hieros_lab.nn import precision
from hieros_lab.world_model import losses

CPU = torch.device("cpu")


def test_auto_is_fp32_on_a_cpu_and_names_are_checked():
    assert precision.resolve("auto", CPU) == "fp32"
    assert precision.resolve("bf16", CPU) == "bf16" and precision.resolve("fp32", CPU) == "fp32"
    with pytest.raises(ValueError, match="Trainer.precision must be one of auto, fp32, bf16, "
                                         "got 'fp16'"):
        precision.resolve("fp16", CPU)
    with pytest.raises(ValueError, match="fp32 or bf16 once resolved, got 'auto'"):
        precision.autocast(CPU, "auto")


def test_fp32_adds_no_context():
    with precision.autocast(CPU, "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with precision.autocast(CPU, "bf16"):
        assert torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def _bf16(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0)).bfloat16()


@pytest.mark.parametrize("name", ["two_hot_mean", "unimix_log_probs",
                                  "unimix_entropy", "kl",
                                  "bernoulli", "logit_mse", "image", "vector"])
def test_losses_and_distributions_are_float32_on_bf16_inputs(name):
    """What a bf16 matmul hands a head comes out of every loss and distribution in float32."""
    logits = _bf16(4, 3, 5)
    out = {
        "two_hot_mean": lambda: D.TwoHotSymlog(_bf16(4, 255)).mean(),
        "unimix_log_probs": lambda: D.UnimixCategorical(logits).log_probs,
        "unimix_entropy": lambda: D.UnimixCategorical(logits).entropy(),
        "kl": lambda: losses.kl_balance(logits, _bf16(4, 3, 5) * 2, 1.0)[2],
        "bernoulli": lambda: losses.cont_loss(_bf16(4), torch.zeros(4, dtype=torch.bool)),
        "logit_mse": lambda: losses.logit_mse_balance(logits, logits * 2, 1.0)[0],
        "image": lambda: losses.image_loss(_bf16(2, 1, 8, 8, 3),
                                           torch.zeros(2, 1, 8, 8, 3, dtype=torch.uint8)),
        "vector": lambda: losses.vector_loss(_bf16(2, 1, 4), torch.ones(2, 1, 4)),
    }[name]()
    assert out.dtype == torch.float32


def _level(seed: int = 0):
    config.parse(["debug.gin"], [])
    torch.manual_seed(seed)
    space = gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)
    return config.configurable("Level")(obs_space=space, num_actions=3)


def test_a_bf16_training_step_matches_fp32_within_bf16_tolerance():
    """Same weights, same batch: every loss of one update agrees with fp32 to about bf16's
    resolution, and the parameters stay float32."""
    batch = random_batch(4, 8, 16)
    batch["action"] = batch["action"][..., :3]
    out = {}
    for mode in ("fp32", "bf16"):
        level = _level()
        torch.manual_seed(1)  # the same imagination samples in both modes
        with precision.autocast(CPU, mode):
            out[mode] = level.train_step(dict(batch))
        assert all(p.dtype == torch.float32 for p in level.parameters())
    keys = [k for k in out["fp32"] if k.endswith("_loss") and k.startswith("world_model/")]
    assert len(keys) >= 5
    for key in keys:
        assert out["bf16"][key] == pytest.approx(out["fp32"][key], rel=2e-2, abs=2e-3), key
    assert np.isfinite([v for v in out["bf16"].values()]).all()


def test_at_least_fp32_upcasts_16_bit_floats_only():
    x64 = torch.ones(2, dtype=torch.float64)
    x32 = torch.ones(2)
    assert precision.at_least_fp32(x64) is x64 and precision.at_least_fp32(x32) is x32
    assert precision.at_least_fp32(x32.bfloat16()).dtype == torch.float32
    assert precision.at_least_fp32(x32.half()).dtype == torch.float32
