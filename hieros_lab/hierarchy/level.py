"""One level of the agent: world model, actor-critic, subgoal autoencoder, reward sources.

Update order per spec §1.5: world-model step on a replay batch; actor-critic from all B*T detached
posterior states, with rewards from the level's sources combined by its mixer; subgoal-autoencoder
step on the imagined deter states. A level with a parent receives the parent's action, a code in
this level's autoencoder space, as its goal: the code itself (paper) or its decoding (the
"decompress" ablation) is an extra actor/critic input, and the decoded code is the target of the
subgoal reward (decoded with the current decoder at training time; the authors stored a stale
decoding, spec B15).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gin
import gymnasium as gym
import torch
from torch import nn

from hieros_lab.behavior.actor_critic import ActorCritic
from hieros_lab.behavior.imagination import Trajectory
from hieros_lab.hierarchy.subgoals import SubgoalAutoencoder
from hieros_lab.nn.optim import Optimizer
from hieros_lab.rewards.base import RewardContext, RewardMixer, RewardSource
from hieros_lab.rewards.mixers import WeightedSumMixer
from hieros_lab.rewards.sources import ExtrinsicReward, NoveltyReward, SubgoalReward
from hieros_lab.sequence.base import Latent
from hieros_lab.world_model.world_model import WorldModel


@dataclass
class PolicyState:
    """Acting memory of a level: last posterior ``latent [B]`` and ``prev_action [B, A]``."""

    latent: Latent
    prev_action: torch.Tensor


@gin.configurable
class Level(nn.Module):
    """Level ``index`` of the hierarchy (level 0 acts in the env; the top level has no parent).

    Args:
        obs_space, num_actions: the level's observations and action width (env actions at level
            0; the code width of the level below's autoencoder above it).
        action_groups: 1 for env actions, the code's group count for subgoal codes.
        index: position in the hierarchy (novelty is on from ``novelty_from_level``).
        has_parent: whether a level above sends goals (subgoal input and reward).
        world_model, actor_critic, autoencoder, reward_mixer: component factories.
        extrinsic, subgoal, novelty: reward-source factories for the three roles.
        novelty_from_level: lowest level with a novelty reward (paper sweep: 1).
        decompress_goal: feed the decoded goal instead of the code (spec §8 ablation).
    """

    def __init__(self, obs_space: gym.spaces.Box, num_actions: int, action_groups: int = 1,
                 index: int = 0, has_parent: bool = False,
                 world_model: Callable[..., WorldModel] = WorldModel,
                 actor_critic: Callable[..., ActorCritic] = ActorCritic,
                 autoencoder: Callable[..., SubgoalAutoencoder] = SubgoalAutoencoder,
                 reward_mixer: Callable[..., RewardMixer] = WeightedSumMixer,
                 extrinsic: Callable[[], RewardSource] = ExtrinsicReward,
                 subgoal: Callable[[], RewardSource] = SubgoalReward,
                 novelty: Callable[[], RewardSource] = NoveltyReward,
                 novelty_from_level: int = 1, decompress_goal: bool = False) -> None:
        super().__init__()
        self.index, self.has_parent, self.num_actions = index, has_parent, num_actions
        self.decompress_goal = decompress_goal
        self.world_model = world_model(obs_space=obs_space, num_actions=num_actions)
        self.sources: dict[str, RewardSource] = {"extrinsic": extrinsic()}
        if has_parent:
            self.sources["subgoal"] = subgoal()
        if index >= novelty_from_level:
            self.sources["novelty"] = novelty()
        # The autoencoder decodes the parent's codes and measures novelty; a flat agent has
        # neither, so it has none (num_levels = 1 is then exactly the single-level agent).
        self.autoencoder: SubgoalAutoencoder | None = None
        if has_parent or "novelty" in self.sources:
            self.autoencoder = autoencoder(deter_dim=self.world_model.sequence.deter_dim)
        self.mixer = reward_mixer().bind(list(self.sources))
        condition = 0
        if has_parent:
            condition = self.world_model.sequence.deter_dim if decompress_goal else self.code_dim
        self.actor_critic = actor_critic(
            input_dim=self.world_model.actor_input_dim, num_actions=num_actions,
            heads=self.mixer.heads(), condition_dim=condition, action_groups=action_groups)

    @property
    def code_dim(self) -> int:
        """Width of a goal code for this level (= the parent's action width)."""
        if self.autoencoder is None:
            raise ValueError(f"level {self.index} has no parent and no subgoal autoencoder")
        return self.autoencoder.code_dim

    @property
    def encoding_dim(self) -> int:
        """Width of this level's latent encoding ``[z ; h]`` as seen by the level above."""
        return self.world_model.feat_dim

    def optimizers(self) -> dict[str, Optimizer]:
        ae = self.autoencoder.optimizers() if self.autoencoder is not None else {}
        return {**self.world_model.optimizers(), **self.actor_critic.optimizers(), **ae}

    def components(self) -> list[Any]:
        """Registered non-module components (reward sources, mixer), for run tags."""
        return [*self.sources.values(), self.mixer]

    def condition(self, goal_code: torch.Tensor | None) -> torch.Tensor | None:
        """Actor/critic goal input ``[N, K]`` from goal codes ``[N, code_dim]``; None at the top."""
        if not self.has_parent:
            return None
        if goal_code is None:
            raise ValueError(f"level {self.index} has a parent but got no goal code")
        return self.autoencoder.decode(goal_code).detach() if self.decompress_goal else goal_code

    # -- training ---------------------------------------------------------------------------------
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One update of every part on ``batch`` (``[B, T, ...]``; ``goal`` if it has a parent)."""
        post, prior, wm_metrics = self.world_model.train_step(batch)
        start = self.world_model.start_states(post, prior)
        code = batch["goal"].flatten(0, 1) if self.has_parent else None
        goal = self.autoencoder.decode(code).detach() if code is not None else None
        captured: list[Trajectory] = []

        def rewards(traj: Trajectory) -> dict[str, torch.Tensor]:
            captured.append(traj)
            ctx = RewardContext(traj, goal=goal, autoencoder=self.autoencoder)
            return {key: source(ctx) for key, source in self.sources.items()}

        ac_metrics = self.actor_critic.train_step(self.world_model, start, rewards, self.mixer,
                                                  self.condition(code))
        ae_metrics: dict[str, float] = {}
        if self.autoencoder is not None:  # trained on the imagined deter states, spec §5.3
            ae_metrics = self.autoencoder.train_step(captured[0].states.deter.flatten(0, 1))
        return {**{f"world_model/{k}": v for k, v in wm_metrics.items()},
                **{f"behavior/{k}": v for k, v in ac_metrics.items()},
                **{f"subgoal/{k}": v for k, v in ae_metrics.items()}}

    # -- acting -----------------------------------------------------------------------------------
    def initial_policy_state(self, batch: int, device: torch.device) -> PolicyState:
        latent = self.world_model.initial(batch)
        return PolicyState(latent, torch.zeros(batch, self.num_actions, device=device))

    @torch.no_grad()
    def observe(self, state: PolicyState, obs: torch.Tensor, is_first: torch.Tensor,
                sample: bool) -> Latent:
        """Posterior ``[B]`` for ``obs [B, ...]`` given the state before it."""
        return self.world_model.obs_step(state.latent, state.prev_action, obs, is_first,
                                         sample=sample)

    @torch.no_grad()
    def act(self, latent: Latent, goal_code: torch.Tensor | None,
            sample: bool) -> tuple[torch.Tensor, PolicyState]:
        """One-hot action ``[B, A]`` for the posterior ``latent`` and the parent's code."""
        wm = self.world_model
        features = wm.actor_input(latent, wm.predict(latent))
        action = self.actor_critic.act(features, sample=sample,
                                       condition=self.condition(goal_code))
        return action, PolicyState(latent, action)
