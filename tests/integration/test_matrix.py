"""Component matrix: sequence model x replay sampler x number of levels trains end to end.

The default suite runs a small subset (first and last cell); ``nox -s matrix`` sets
``HIEROS_MATRIX=full`` and runs every cell in the one virtualenv (DESIGN §6).
"""

from __future__ import annotations

import itertools
import math
import os

import pytest

import hieros_lab.components  # noqa: F401
from hieros_lab import config, registry

SEQUENCES = sorted(registry.entries("sequence"))
SAMPLERS = sorted(registry.entries("sampler"))
LEVELS = [1, 2, 3, 4]
CELLS = list(itertools.product(SEQUENCES, SAMPLERS, LEVELS))
if os.environ.get("HIEROS_MATRIX") != "full":
    CELLS = [CELLS[0], CELLS[-1]]


@pytest.mark.parametrize("sequence, sampler, levels", CELLS)
def test_component_cell_trains(sequence, sampler, levels, tmp_path):
    from hieros_lab.trainer.loop import Trainer

    config.parse(["debug.gin"], [f"WorldModel.sequence = @{sequence}",
                                 f"ReplayBuffer.sampler = @{sampler}",
                                 f"Agent.num_levels = {levels}", "Trainer.tracker = @null",
                                 "Trainer.steps = 40", "Trainer.log_every = 20",
                                 "Trainer.eval_every = 0", "Trainer.eval_episodes = 1",
                                 "Trainer.checkpoint_every = 0"])
    trainer = Trainer()
    tracker = trainer.make_tracker()
    tracker.start("cell")
    trainer.build()
    result = trainer.fit(tracker, tmp_path / "ckpt", progress=False)
    assert trainer.agent.num_levels == levels
    assert math.isfinite(result["score"])
    losses = [v for _, v in tracker.metrics["level0/world_model/loss"]]
    assert losses and all(math.isfinite(v) for v in losses)
