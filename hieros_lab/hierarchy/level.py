"""One level of the agent: a world model and an actor-critic trained in its imagination.

Update order per spec §1.5: world-model step on a replay batch, then the actor-critic from all
B*T detached posterior states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gin
import gymnasium as gym
import torch
from torch import nn

from hieros_lab.behavior.actor_critic import ActorCritic
from hieros_lab.nn.optim import Optimizer
from hieros_lab.sequence.base import Latent
from hieros_lab.world_model.world_model import WorldModel


@dataclass
class PolicyState:
    """Acting memory of a level: last posterior ``latent [B]`` and ``prev_action [B, A]``."""

    latent: Latent
    prev_action: torch.Tensor


@gin.configurable
class Level(nn.Module):
    """World model + actor-critic of one level (level 0 acts in the env)."""

    def __init__(self, obs_space: gym.spaces.Box, num_actions: int,
                 world_model: Callable[..., WorldModel] = WorldModel,
                 actor_critic: Callable[..., ActorCritic] = ActorCritic) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.world_model = world_model(obs_space=obs_space, num_actions=num_actions)
        self.actor_critic = actor_critic(input_dim=self.world_model.actor_input_dim,
                                         num_actions=num_actions)

    def optimizers(self) -> dict[str, Optimizer]:
        return {**self.world_model.optimizers(), **self.actor_critic.optimizers()}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One world-model update and one actor-critic update on ``batch`` (``[B, T, ...]``)."""
        post, prior, wm_metrics = self.world_model.train_step(batch)
        start = self.world_model.start_states(post, prior)
        ac_metrics = self.actor_critic.train_step(self.world_model, start)
        return {**{f"world_model/{k}": v for k, v in wm_metrics.items()},
                **{f"behavior/{k}": v for k, v in ac_metrics.items()}}

    def initial_policy_state(self, batch: int, device: torch.device) -> PolicyState:
        latent = self.world_model.initial(batch)
        return PolicyState(latent, torch.zeros(batch, self.num_actions, device=device))

    @torch.no_grad()
    def act(self, state: PolicyState, obs: torch.Tensor, is_first: torch.Tensor,
            sample: bool) -> tuple[torch.Tensor, PolicyState]:
        """``obs [B, ...]``, ``is_first [B]`` -> (one-hot action ``[B, A]``, next state)."""
        wm = self.world_model
        latent = wm.obs_step(state.latent, state.prev_action, obs, is_first, sample=sample)
        features = wm.actor_input(latent, wm.predict(latent))
        action = self.actor_critic.act(features, sample=sample)
        return action, PolicyState(latent, action)
