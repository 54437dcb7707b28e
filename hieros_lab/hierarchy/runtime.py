"""One env step through the hierarchy (spec §3, with the fixes documented below).

1. Bottom-up: level 0 observes the env step; every level that acts now closes its period: its
   observation is the level below's recent latents (:class:`Abstraction`), its reward the
   period's reward, and it observes that (S5/RSSM posterior).
2. Top-down: acting levels choose outputs from the top; level i's goal is the code level i+1
   holds (a fresh one when the parent acted this step). Non-acting levels hold their outputs.

Each acting level yields a :class:`~hieros_lab.replay.step.Step` with its action and goal (what
its replay stores). Level i acts when the
episode's step count is a multiple of K^i; an episode end closes every level's period (all act),
so higher-level data always marks episode boundaries (fix of spec B7), and higher levels see the
current lower-level latent rather than the previous one (fix of B16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hieros_lab.hierarchy import schedule
from hieros_lab.hierarchy.abstraction import Abstraction
from hieros_lab.hierarchy.level import Level, PolicyState
from hieros_lab.replay.step import Step


@dataclass
class HierarchyState:
    """Acting memory of every level for one env stream (training and evaluation keep their own)."""

    policy: list[PolicyState]
    abstractions: list[Abstraction]  # abstractions[i] feeds level i + 1
    outputs: list[torch.Tensor]  # current (held) one-hot output [1, A_i] of every level
    episode_step: int = 0

    def state_dict(self) -> dict[str, Any]:
        """Everything but the abstractions' settings (which the agent builds), for a checkpoint."""
        return {"policy": self.policy, "outputs": self.outputs, "episode_step": self.episode_step,
                "abstractions": [a.state_dict() for a in self.abstractions]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` into a state made by :func:`initial_state`."""
        if len(state["abstractions"]) != len(self.abstractions):
            raise ValueError(f"acting state of {len(state['abstractions']) + 1} levels, agent "
                             f"has {len(self.abstractions) + 1}")
        self.policy, self.outputs = list(state["policy"]), list(state["outputs"])
        self.episode_step = int(state["episode_step"])
        for abstraction, saved in zip(self.abstractions, state["abstractions"], strict=True):
            abstraction.load_state_dict(saved)


def initial_state(levels: list[Level], abstractions: list[Abstraction],
                  device: torch.device) -> HierarchyState:
    """A fresh acting state; ``abstractions[i]`` (built with the agent) feeds level i + 1."""
    if len(abstractions) != len(levels) - 1:
        raise ValueError(f"{len(levels)} levels need {len(levels) - 1} abstractions, got "
                         f"{len(abstractions)}")
    return HierarchyState(
        policy=[lvl.initial_policy_state(1, device) for lvl in levels],
        abstractions=[a.spawn() for a in abstractions],
        outputs=[torch.zeros(1, lvl.num_actions, device=device) for lvl in levels])


def _obs_tensor(obs: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(obs, device=device).unsqueeze(0)


def hierarchy_step(levels: list[Level], state: HierarchyState, step: Step, k: int, sample: bool,
                   device: torch.device) -> tuple[int, list[tuple[int, Step]]]:
    """Act for one env step; returns the env action and the (level, step) records to store.

    ``sample``: actors sample (training) or take their mode (greedy evaluation, spec §1.6).
    """
    if step.is_first:
        state.episode_step = 0
    acting = [schedule.acts(i, state.episode_step, k) or step.is_last
              for i in range(len(levels))]
    flags = step.is_first, step.is_last, step.is_terminal
    pending: dict[int, tuple[np.ndarray, float, tuple[bool, bool, bool]]] = {}
    obs, reward = step.obs, step.reward
    for i, level in enumerate(levels):  # bottom-up
        if not acting[i]:
            break  # a level above a non-acting level does not act either
        if i > 0:
            higher = state.abstractions[i - 1].pop(is_last=step.is_last,
                                                   is_terminal=step.is_terminal)
            obs, reward = higher.obs, higher.reward
            flags = higher.is_first, higher.is_last, higher.is_terminal
        obs_t = _obs_tensor(obs, device)
        # Posterior latents are sampled in evaluation too; only the actors turn greedy there.
        state.policy[i] = level.observe(state.policy[i], obs_t,
                                        torch.tensor([flags[0]], device=device), sample=True)
        if i < len(levels) - 1:
            state.abstractions[i].push(state.policy[i].latent.feat()[0], reward, flags[0])
        pending[i] = (np.asarray(obs), float(reward), flags)
    records: list[tuple[int, Step]] = []
    for i in sorted(pending, reverse=True):  # top-down
        level = levels[i]
        goal = state.outputs[i + 1] if level.has_parent else None
        action, state.policy[i] = level.act(state.policy[i], goal, sample)
        state.outputs[i] = action
        obs_i, reward_i, (first, last, terminal) = pending[i]
        records.append((i, Step(obs_i, reward_i, first, last, terminal, action[0].cpu().numpy(),
                                None if goal is None else goal[0].cpu().numpy())))
    state.episode_step += 1
    return int(state.outputs[0][0].argmax()), records
