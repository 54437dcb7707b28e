"""The agent: its level(s), their replay, acting and one training call.

This is the single-level agent (HIEROS with ``max_hierarchy = 1``, i.e. a flat S5WM/RSSM
Dreamer); the hierarchy of levels builds on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gin
import gymnasium as gym
import numpy as np
import torch

from hieros_lab.hierarchy.level import Level, PolicyState
from hieros_lab.replay.buffer import ReplayBuffer
from hieros_lab.trainer.driver import Step


def to_torch(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """numpy replay batch -> torch tensors on ``device`` (uint8 images stay uint8)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in batch.items()}


@gin.configurable
class Agent:
    """Acts in the env with level 0 and trains it from its replay.

    Args:
        obs_space, num_actions: from the env.
        seed: seeds the replay sampler.
        device: torch device of all modules.
        level: factory of the level (world model + actor-critic).
        replay: factory of the replay buffer.
        batch_size: windows per training batch (B); the window length T is the replay's.
    """

    def __init__(self, obs_space: gym.spaces.Box, num_actions: int, seed: int,
                 device: torch.device, level: Callable[..., Level] = Level,
                 replay: Callable[..., ReplayBuffer] = ReplayBuffer,
                 batch_size: int = 16) -> None:
        self.device = device
        self.num_actions = num_actions
        self.batch_size = batch_size
        self.level = level(obs_space=obs_space, num_actions=num_actions).to(device)
        self.replay = replay(obs_space=obs_space, num_actions=num_actions, seed=seed)
        self._train_state: PolicyState | None = None

    @property
    def replayed_steps_per_update(self) -> int:
        """B * T: the steps one training update replays (for the train ratio)."""
        return self.batch_size * self.replay.length

    def modules(self) -> list[torch.nn.Module]:
        return [self.level]

    # -- acting ---------------------------------------------------------------------------------
    def policy_state(self) -> PolicyState:
        return self.level.initial_policy_state(1, self.device)

    def act(self, step: Step, state: PolicyState | None, sample: bool) -> tuple[int, PolicyState]:
        """Choose an action for ``step.obs``; ``state=None`` starts from the initial state."""
        state = state or self.policy_state()
        obs = torch.as_tensor(step.obs, device=self.device).unsqueeze(0)
        is_first = torch.tensor([step.is_first], device=self.device)
        action, state = self.level.act(state, obs, is_first, sample)
        return int(action[0].argmax()), state

    def train_act(self, step: Step) -> int:
        """Training-mode action; keeps the training policy state between calls."""
        action, self._train_state = self.act(step, self._train_state, sample=True)
        return action

    def observe(self, step: Step) -> None:
        """Store a step (with its chosen action) in replay."""
        self.replay.add(step.obs, step.action, step.reward, step.is_first, step.is_last,
                        step.is_terminal)

    # -- training -------------------------------------------------------------------------------
    def can_train(self) -> bool:
        """Training starts once replay holds ``batch_size`` windows (spec §1.1)."""
        return len(self.replay) >= self.batch_size

    def train(self) -> dict[str, float]:
        """One training call: one update of level 0 on a fresh replay batch."""
        batch = to_torch(self.replay.sample(self.batch_size), self.device)
        metrics = self.level.train_step(batch)
        return {f"level0/{k}": v for k, v in metrics.items()}

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "level": self.level.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.level.optimizers().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.level.load_state_dict(state["level"])
        for key, opt in self.level.optimizers().items():
            opt.load_state_dict(state["optimizers"][key])
        self._train_state = None

    def save_replay(self, directory: Path) -> None:
        self.replay.save(directory / "replay0.bin")

    def load_replay(self, directory: Path) -> None:
        self.replay.load(directory / "replay0.bin")
