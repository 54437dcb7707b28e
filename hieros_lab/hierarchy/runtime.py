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
from hieros_lab.hierarchy.level import Level, PolicyState, cat_policies, split_policies
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


def hierarchy_step(levels: list[Level], state: HierarchyState, step: Step, k: int, sample: bool,
                   device: torch.device) -> tuple[int | np.ndarray, list[tuple[int, Step]]]:
    """Act for one env step of one stream; returns the env action (an index, or a vector for
    ``Box`` actions) and the (level, step) records
    to store. ``sample``: actors sample (training) or take their mode (greedy evaluation, §1.6).
    """
    actions, records = hierarchy_step_batch(levels, [state], [step], k, sample, device)
    return actions[0], records[0]


def hierarchy_step_batch(levels: list[Level], states: list[HierarchyState], steps: list[Step],
                         k: int, sample: bool,
                         device: torch.device
                         ) -> tuple[list[int | np.ndarray], list[list[tuple[int, Step]]]]:
    """Act for one env step of each of N streams (``states[j]`` sees ``steps[j]``), one batched
    call per level (``Trainer.num_envs``); returns each stream's env action and records.

    Streams keep their own schedules (an episode's step count decides which levels act, §3), so
    level i runs on the streams where it acts now. Acting windows of unequal length (higher
    levels of streams in different phases) run as separate batches. With one stream every call
    is the single-stream call (``cat_policies`` passes one state through), so ``num_envs = 1``
    is bit for bit the agent without streams.
    """
    if len(states) != len(steps):
        raise ValueError(f"{len(states)} acting states for {len(steps)} env steps")
    for state, step in zip(states, steps, strict=True):
        if step.is_first:
            state.episode_step = 0
    # What level i sees in stream j (env step, or the period's abstraction above level 0).
    seen: list[tuple[np.ndarray, float, tuple[bool, bool, bool]]] = [
        (step.obs, step.reward, (step.is_first, step.is_last, step.is_terminal))
        for step in steps]
    pending: list[dict[int, tuple[np.ndarray, float, tuple[bool, bool, bool]]]] = [
        {} for _ in steps]
    active = list(range(len(steps)))
    for i, level in enumerate(levels):  # bottom-up
        # a level above a non-acting level does not act either
        active = [j for j in active
                  if schedule.acts(i, states[j].episode_step, k) or steps[j].is_last]
        if not active:
            break
        for j in active:
            if i > 0:
                higher = states[j].abstractions[i - 1].pop(is_last=steps[j].is_last,
                                                           is_terminal=steps[j].is_terminal)
                seen[j] = (higher.obs, higher.reward,
                           (higher.is_first, higher.is_last, higher.is_terminal))
        for group in _by_window_length(active, [states[j].policy[i] for j in active]):
            batch = cat_policies([states[j].policy[i] for j in group])
            obs_t = torch.as_tensor(np.stack([np.asarray(seen[j][0]) for j in group]),
                                    device=device)
            first = torch.tensor([seen[j][2][0] for j in group], device=device)
            # Posterior latents are sampled in evaluation too; only the actors turn greedy there.
            batch = level.observe(batch, obs_t, first, sample=True)
            for j, one in zip(group, split_policies(batch, len(group)), strict=True):
                states[j].policy[i] = one
        for j in active:
            obs, reward, flags = seen[j]
            if i < len(levels) - 1:
                states[j].abstractions[i].push(states[j].policy[i].latent.feat()[0], reward,
                                               flags[0])
            pending[j][i] = (np.asarray(obs), float(reward), flags)
    records: list[list[tuple[int, Step]]] = [[] for _ in steps]
    for i in reversed(range(len(levels))):  # top-down
        group = [j for j in range(len(steps)) if i in pending[j]]
        if not group:
            continue
        level = levels[i]
        goal = (torch.cat([states[j].outputs[i + 1] for j in group]) if level.has_parent
                else None)
        batch = cat_policies([states[j].policy[i] for j in group])
        action, batch = level.act(batch, goal, sample)
        for r, (j, one) in enumerate(zip(group, split_policies(batch, len(group)),
                                         strict=True)):
            states[j].policy[i] = one
            states[j].outputs[i] = action[r:r + 1] if len(group) > 1 else action
            obs_i, reward_i, (first, last, terminal) = pending[j][i]
            records[j].append((i, Step(obs_i, reward_i, first, last, terminal,
                                       action[r].cpu().numpy(),
                                       None if goal is None else goal[r].cpu().numpy())))
    for state in states:
        state.episode_step += 1
    return [levels[0].env_action(state.outputs[0][0]) for state in states], records


def _by_window_length(streams: list[int], policies: list[PolicyState]) -> list[list[int]]:
    """``streams`` grouped so that each group's acting windows have one length (in order)."""
    groups: dict[int, list[int]] = {}
    for j, policy in zip(streams, policies, strict=True):
        groups.setdefault(-1 if policy.window is None else len(policy.window), []).append(j)
    return list(groups.values())
