"""``Trainer.compile``: compiled training steps agree with eager ones, without graph breaks or
recompiles, and a bad mode names the binding. One inductor compile at debug sizes (about a
minute on the CI machine)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from hieros_lab import config
from hieros_lab.bench.update import NUM_ACTIONS, random_batch
from hieros_lab.nn import compiled
from hieros_lab.trainer.loop import Trainer

STEPS = 3


def _train(mode: str) -> tuple[list[dict[str, float]], list[torch.Tensor], list[int]]:
    """STEPS updates of a fresh S5 level (debug sizes, 64x64 frames) from seed 0; the metrics,
    the parameters after them, and dynamo's graph count after each update."""
    config.parse(["debug.gin"], [])
    torch.manual_seed(0)
    space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    level = config.configurable("Level")(obs_space=space, num_actions=NUM_ACTIONS)
    level.set_compile(mode)
    metrics, graphs = [], []
    for i in range(STEPS):
        metrics.append(level.train_step(random_batch(2, 8, 64, seed=i)))
        graphs.append(counters["stats"]["unique_graphs"])
    return metrics, [p.detach().clone() for p in level.parameters()], graphs


def test_compiled_updates_agree_with_eager_and_compile_once():
    eager, eager_params, _ = _train("off")
    breaks_before = compiled.graph_breaks()
    done, done_params, graphs = _train("default")
    # Same random draws (fallback_random), so only rounding differs: metrics and weights after
    # three updates of every part (world model, imagination, critic, actor).
    for step_e, step_c in zip(eager, done, strict=True):
        assert step_e.keys() == step_c.keys()
        for key in step_e:
            assert step_c[key] == pytest.approx(step_e[key], rel=1e-3, abs=1e-5), key
    for p_e, p_c in zip(eager_params, done_params, strict=True):
        torch.testing.assert_close(p_c, p_e, rtol=1e-4, atol=1e-6)
    assert compiled.graph_breaks() == breaks_before  # no graph break anywhere
    assert graphs[0] > 0 and graphs[-1] == graphs[0]  # compiled once, reused by later updates


def test_an_unknown_compile_mode_names_the_binding():
    config.parse(["debug.gin"], ["Trainer.compile = 'fast'", "Trainer.tracker = @null"])
    with pytest.raises(ValueError, match="Trainer.compile must be one of off, default, "
                                         "reduce-overhead, max-autotune, got 'fast'"):
        Trainer()


def test_the_run_records_its_compile_mode():
    config.parse(["debug.gin"], ["Trainer.tracker = @null"])
    trainer = Trainer()
    trainer.build()
    assert trainer.agent.derived_params()["derived/compile"] == "off"
    wm = trainer.agent.levels[0].world_model
    assert wm._loss_terms == wm.loss_terms  # eager: the method itself, nothing wrapped
