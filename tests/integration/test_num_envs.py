"""Several training envs at once (``Trainer.num_envs``, issue 10 item 4).

- ``num_envs = 1`` reproduces the trajectories of the trainer before streams existed, bit for
  bit: ``tests/data/trajectory_before_num_envs.json`` holds the SHA-256 of every replay field
  of a 2-level Pinpad run, written by that trainer (commit cc0998c) with :func:`_fingerprint`.
  Level 1's observations (latents, float rounding varies with the CPU's kernels) are left out;
  its actions, goals, rewards and flags are in.
- With several envs each env's steps go to its own replay ring, in its own order, and the run
  makes exactly ``Trainer.steps`` env steps, also when that is not a multiple of ``num_envs``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from hieros_lab import config
from hieros_lab.tracking.base import NullTracker
from hieros_lab.trainer.loop import Trainer

GOLDEN = Path(__file__).parents[1] / "data" / "trajectory_before_num_envs.json"


def _trained(tmp_path: Path, gin_files: list[str], bindings: list[str]) -> Trainer:
    config.parse(gin_files, [*bindings, "Trainer.eval_episodes = 1", "Trainer.tracker = @null"])
    trainer = Trainer()
    trainer.build()
    tracker = NullTracker()
    tracker.start("num_envs")
    trainer.fit(tracker, tmp_path / "ckpt", progress=False)
    return trainer


def _fingerprint(trainer: Trainer) -> dict[str, str | int]:
    out: dict[str, str | int] = {}
    for i, rep in enumerate(trainer.agent.replays):
        n = rep.stored_steps
        for key, arr in rep._data.items():
            if i > 0 and key == "obs":
                continue
            out[f"level{i}/{key}"] = hashlib.sha256(np.ascontiguousarray(arr[:n])).hexdigest()
        out[f"level{i}/steps"] = n
    return out


def test_one_env_reproduces_the_trajectories_of_the_trainer_before_streams(tmp_path):
    trainer = _trained(tmp_path, ["debug.gin", "envs/pinpad.gin", "hierarchy/levels_2.gin"],
                       ["pinpad.length = 30", "Agent.k = 2", "WorldModel.act_context = 8",
                        "Trainer.seed = 5", "Trainer.steps = 120", "Trainer.eval_every = 0",
                        "Trainer.num_envs = 1"])
    assert _fingerprint(trainer) == json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("num_envs", [2, 3])
def test_each_env_fills_its_own_ring_and_the_budget_is_exact(tmp_path, num_envs):
    steps = 121  # not a multiple of 2 or 3: the last round steps only the envs in budget
    trainer = _trained(tmp_path, ["debug.gin"],
                       ["Agent.num_levels = 2", "Agent.k = 2", "fake.episode_length = 9",
                        f"Trainer.steps = {steps}", "Trainer.eval_every = 50",
                        "Trainer.log_every = 25", f"Trainer.num_envs = {num_envs}"])
    assert trainer.step == steps
    assert sum(d.env_steps for d in trainer.drivers) == steps
    assert max(d.env_steps for d in trainer.drivers) - min(d.env_steps for d in
                                                           trainer.drivers) <= 1
    assert trainer.updates > 0
    for level, rep in enumerate(trainer.agent.replays):
        assert len(rep.streams) == num_envs
        assert all(ring.stored_steps > 0 for ring in rep.streams), level
    # Level 0's ring j is env j's trajectory: replaying its actions on a fresh env of stream j's
    # seed gives back every stored observation, episode starts included.
    for j, ring in enumerate(trainer.agent.replays[0].streams):
        seed = trainer.stream_seed(j)
        env = trainer.env_factory(seed=seed)
        obs, _ = env.reset(seed=seed)
        data = {k: v[:ring.stored_steps] for k, v in ring._data.items()}
        assert data["is_first"][0]
        for t in range(ring.stored_steps):
            np.testing.assert_array_equal(data["obs"][t], obs, err_msg=f"stream {j} step {t}")
            if data["is_last"][t]:
                obs, _ = env.reset()
                assert t + 1 == ring.stored_steps or data["is_first"][t + 1]
            else:
                obs, *_ = env.step(int(data["action"][t, 0]))
                assert t + 1 == ring.stored_steps or not data["is_first"][t + 1]


def test_a_number_of_envs_below_one_is_refused():
    config.parse(["debug.gin"], ["Trainer.num_envs = 0", "Trainer.tracker = @null"])
    with pytest.raises(ValueError, match="Trainer.num_envs must be >= 1, got 0"):
        Trainer()
