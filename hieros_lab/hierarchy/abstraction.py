"""Temporal abstraction: level-i steps -> one level-(i+1) step (spec §3, §5.2).

A level-(i+1) observation is the K most recent level-i latents ``[z ; h]``, oldest first and
flattened (``intermediate=True``, the paper's "all k states"); with ``intermediate=False`` only
the newest one (Director-style ablation). Latents are those *after* observing the current step
(the authors' code lags by one lower-level step, spec B16). The period's reward is the sum of the
level-i rewards (``period_sum``) or their mean (``period_mean``, the authors' code, spec B17).
At an episode start the window is cleared and zero-padded, so a higher-level observation never
mixes two episodes.

The agent builds one :class:`Abstraction` per higher level at build time, inside that level's
gin scope (``level1/Abstraction.period_reward = @period_mean`` configures level 1 alone, and
the operative config logged for the run lists what each level used). Every acting stream
(training, evaluation) then works on its own :meth:`Abstraction.spawn` copy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import gin
import numpy as np
import torch

from hieros_lab.replay.step import Step


@gin.register
def period_sum(rewards: Sequence[float]) -> float:
    """Reward of a higher-level step = sum over its period (paper semantics)."""
    return float(sum(rewards))


@gin.register
def period_mean(rewards: Sequence[float]) -> float:
    """Mean over the period: the authors' code (r_t / 4^i summed, spec B17)."""
    return float(sum(rewards) / len(rewards)) if rewards else 0.0


@gin.register
class Abstraction:
    """Collects level-i steps and emits level-(i+1) steps.

    Args:
        k: lower-level steps per higher-level step (and window length).
        encoding_dim: E, width of one level-i latent encoding ``[z ; h]``.
        intermediate: stack all K latents (paper) or only the newest (ablation).
        period_reward: how rewards of a period combine (``period_sum`` or ``period_mean``).
    """

    def __init__(self, k: int, encoding_dim: int,
                 period_reward: Callable[[Sequence[float]], float],
                 intermediate: bool = True) -> None:
        if k < 1:
            raise ValueError(f"Abstraction.k must be >= 1, got {k}")
        self.k, self.encoding_dim, self.intermediate = k, encoding_dim, intermediate
        self.period_reward = period_reward
        self.window: deque[torch.Tensor] = deque(maxlen=k if intermediate else 1)
        self.rewards: list[float] = []
        self.started = False

    def spawn(self) -> Abstraction:
        """A fresh, empty abstraction with the same settings (one per acting stream)."""
        return Abstraction(self.k, self.encoding_dim, self.period_reward, self.intermediate)

    def state_dict(self) -> dict[str, Any]:
        """The period in progress (latents, rewards, start flag), for a mid-episode checkpoint;
        the settings are the built ones and are not part of it."""
        return {"window": list(self.window), "rewards": list(self.rewards),
                "started": self.started}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.window.clear()
        self.window.extend(state["window"])
        self.rewards[:] = state["rewards"]
        self.started = bool(state["started"])

    @property
    def obs_dim(self) -> int:
        return self.encoding_dim * (self.k if self.intermediate else 1)

    def push(self, encoding: torch.Tensor, reward: float, is_first: bool) -> None:
        """Record one level-i step: its latent ``[E]`` and the reward that came with it."""
        if encoding.shape != (self.encoding_dim,):
            raise ValueError(f"encoding shape {tuple(encoding.shape)} != ({self.encoding_dim},)")
        if is_first:
            self.window.clear()
            self.rewards.clear()
            self.started = True
            reward = 0.0  # the first step of an episode carries no reward
        self.window.append(encoding.detach())
        self.rewards.append(float(reward))

    def pop(self, is_last: bool = False, is_terminal: bool = False) -> Step:
        """Close the period: the level-(i+1) step for everything pushed since the last pop."""
        if not self.window:
            raise RuntimeError("Abstraction.pop before any push")
        items = list(self.window)
        pad = [torch.zeros_like(items[0])] * (self.window.maxlen - len(items))
        obs = torch.cat(pad + items)  # oldest -> newest, zero-padded at the episode start
        # The reward that "arrived with" this higher-level step: everything since the last pop,
        # matching level 0's convention (r_t arrives with o_t).
        step = Step(np.asarray(obs.cpu()), self.period_reward(self.rewards), self.started,
                    is_last, is_terminal)
        self.rewards.clear()
        self.started = False
        return step
