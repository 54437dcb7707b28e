"""One level of the agent: world model, actor-critic, subgoal autoencoder, reward sources.

The level owns its update and drives it in one direction (spec §1.5, DESIGN §8):

    replay batch -> world-model step -> imagine (actor-critic) -> reward sources -> mixer
    -> actor-critic update -> subgoal-autoencoder step (on the imagined deter states, §5.3)

No component calls back into the level. A level with a parent receives the parent's action, a
code in this level's autoencoder space, as its goal: the code itself (paper) or its decoding
(the "decompress" ablation) is an extra actor/critic input, and the decoded code is the target
of the subgoal reward (decoded with the current decoder at training time; the authors stored a
stale decoding, spec B15).

Reward sources are a list (``Level.sources``); the level keeps those that want its level and
whose needs it can meet (:mod:`hieros_lab.rewards.base`), and logs each kept source's mean and
std over the imagined states (``rewards/<key>_mean``, ``rewards/<key>_std``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gin
import gymnasium as gym
import numpy as np
import torch
from torch import nn

from hieros_lab import registry
from hieros_lab.behavior.actor_critic import ActorCritic
from hieros_lab.behavior.imagination import Trajectory
from hieros_lab.behavior.policies import Categorical, kind_of
from hieros_lab.hierarchy.subgoals import SubgoalAutoencoder
from hieros_lab.nn.optim import Optimizer
from hieros_lab.nn.precision import at_least_fp32
from hieros_lab.rewards.base import RewardContext, RewardMixer, RewardSource
from hieros_lab.sequence.base import Latent
from hieros_lab.world_model.acting_window import ActingWindow
from hieros_lab.world_model.world_model import WorldModel


@dataclass
class PolicyState:
    """Acting memory of a level: last real state ``latent [B]``, ``prev_action [B, A]`` and,
    when its world model acts from a window (``WorldModel.act_context > 0``), that window."""

    latent: Latent
    prev_action: torch.Tensor
    window: ActingWindow | None = None


def cat_policies(states: Sequence[PolicyState]) -> PolicyState:
    """The acting memories of several streams as one batch (concatenated along dim 0).

    One state is returned as it is, so a single stream computes exactly what it always did.
    Windows must be equally long (``runtime.hierarchy_step_batch`` groups streams by length).
    """
    if len(states) == 1:
        return states[0]
    cat = lambda ts: torch.cat(list(ts), 0)  # noqa: E731
    latent = Latent(**{f.name: cat(getattr(s.latent, f.name) for s in states)
                       for f in dataclasses.fields(states[0].latent)})
    window = None
    if states[0].window is not None:
        wins = [s.window for s in states]
        window = ActingWindow(cat(w.embed for w in wins), cat(w.prev_action for w in wins),
                              cat(w.is_first for w in wins))
    return PolicyState(latent, cat(s.prev_action for s in states), window)


def split_policies(state: PolicyState, count: int) -> list[PolicyState]:
    """Inverse of :func:`cat_policies`: ``count`` one-stream states (views of ``state``)."""
    if count == 1:
        return [state]

    def row(r: int) -> PolicyState:
        take = lambda t: t[r:r + 1]  # noqa: E731
        window = state.window
        if window is not None:
            window = ActingWindow(take(window.embed), take(window.prev_action),
                                  take(window.is_first))
        return PolicyState(state.latent.map(take), take(state.prev_action), window)

    return [row(r) for r in range(count)]


def select_sources(built: Sequence[RewardSource], index: int,
                   has_parent: bool) -> list[RewardSource]:
    """The sources level ``index`` uses: those active at it whose needs it can meet.

    A source that needs a goal is dropped at the top level (no parent gives one); one that needs
    the autoencoder makes the level build one. Two kept sources of one role (``key``) are an
    error, and so is a level left without any source.
    """
    kept = [s for s in built if s.active_at(index) and (has_parent or not s.needs_goal)]
    keys = [s.key for s in kept]
    if len(set(keys)) != len(keys):
        raise ValueError(f"Level.sources: level {index} has two sources for one role: {keys}")
    if not kept:
        raise ValueError(f"Level.sources: no reward source is active at level {index} (check "
                         f"the sources' min_level / max_level)")
    return kept


@gin.register
class Level(nn.Module):
    """Level ``index`` of the hierarchy (level 0 acts in the env; the top level has no parent).

    Args:
        obs_space, num_actions: the level's observations and action width (env actions at level
            0; the code width of the level below's autoencoder above it).
        world_model, actor_critic, autoencoder, reward_mixer: component factories.
        sources: reward-source factories, one per role; see :func:`select_sources`.
        action_groups: 1 for env actions, the code's group count for subgoal codes.
        index: position in the hierarchy.
        has_parent: whether a level above sends goals (subgoal input and reward).
        decompress_goal: feed the decoded goal instead of the code (spec §8 ablation).
        continuous_actions: the env's actions are a ``Box`` (level 0 only): the actor-critic's
            ``policy`` must serve them (``bounded_normal``), and a discrete env needs a discrete
            policy. Levels above act with subgoal codes and always use ``categorical``.
    """

    def __init__(self, obs_space: gym.spaces.Box, num_actions: int,
                 world_model: Callable[..., WorldModel],
                 actor_critic: Callable[..., ActorCritic],
                 autoencoder: Callable[..., SubgoalAutoencoder],
                 reward_mixer: Callable[[], RewardMixer],
                 sources: Sequence[Callable[[], RewardSource]],
                 action_groups: int = 1, index: int = 0, has_parent: bool = False,
                 decompress_goal: bool = False, continuous_actions: bool = False) -> None:
        super().__init__()
        if continuous_actions and index > 0:
            raise ValueError(f"level {index} acts with subgoal codes, not continuous actions")
        self.index, self.has_parent, self.num_actions = index, has_parent, num_actions
        self.decompress_goal = decompress_goal
        self.world_model = world_model(obs_space=obs_space, num_actions=num_actions)
        self.sources = select_sources([make() for make in sources], index, has_parent)
        # The autoencoder decodes the parent's codes and measures novelty; a flat agent has
        # neither, so it has none (num_levels = 1 is then exactly the single-level agent).
        self.autoencoder: SubgoalAutoencoder | None = None
        if has_parent or any(s.needs_autoencoder for s in self.sources):
            self.autoencoder = autoencoder(deter_dim=self.world_model.sequence.deter_dim)
        self.mixer = reward_mixer().bind([s.key for s in self.sources])
        condition = 0
        if has_parent:
            condition = self.world_model.sequence.deter_dim if decompress_goal else self.code_dim
        # Subgoal codes are categorical whatever the env's actions are (issue #11).
        codes = {"policy": Categorical} if index > 0 else {}
        self.actor_critic = actor_critic(
            input_dim=self.world_model.actor_input_dim, num_actions=num_actions,
            heads=self.mixer.heads(), condition_dim=condition, action_groups=action_groups,
            **codes)
        policy = self.actor_critic.actor.policy
        if policy.continuous != continuous_actions:
            name = (registry.component_of(policy) or ("policy", type(policy).__name__))[1]
            raise ValueError(f"the env's actions are {kind_of(continuous_actions)} but "
                             f"ActorCritic.policy = @{name} serves "
                             f"{kind_of(policy.continuous)} actions: use "
                             f"{'bounded_normal' if continuous_actions else 'categorical'}")
        self.eval()  # every part is in train mode only inside its own loss (DESIGN §8)

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
        """Registered non-module components (reward sources, mixer, entropy input), for tags."""
        return [*self.sources, self.mixer, self.world_model.entropy_input]

    def set_compile(self, mode: str) -> None:
        """Compile the pure tensor parts of :meth:`train_step` (``Trainer.compile``; world-model
        loss, imagination, critic and actor losses: :mod:`hieros_lab.nn.compiled`)."""
        self.world_model.set_compile(mode)
        self.actor_critic.set_compile(mode)

    @torch.no_grad()
    def condition(self, goal_code: torch.Tensor | None,
                  goal: torch.Tensor | None = None) -> torch.Tensor | None:
        """Actor/critic goal input ``[N, K]`` from codes ``[N, code_dim]``; None at the top.

        The code itself (paper), or its decoding ``goal [N, D]`` (``decompress_goal``; decoded
        here when not given).
        """
        if not self.has_parent:
            return None
        if goal_code is None:
            raise ValueError(f"level {self.index} has a parent but got no goal code")
        if not self.decompress_goal:
            return goal_code
        return self.autoencoder.decode(goal_code) if goal is None else goal

    # -- training ---------------------------------------------------------------------------------
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One update of every part on ``batch`` (``[B, T, ...]``; ``goal`` if it has a parent)."""
        post, prior, wm_metrics = self.world_model.train_step(batch)
        start = self.world_model.start_states(post, prior)
        code = batch["goal"].flatten(0, 1).float() if self.has_parent else None
        # c_0 = 1 - is_terminal of the real start (DreamerV3; the weight of a terminal start is 0).
        start_cont = 1.0 - batch["is_terminal"].flatten(0, 1).float()
        # The starts the learner imagines from (all by default); goals and c_0 follow them.
        keep = self.actor_critic.start_indices(start.deter.shape[0], start.deter.device)
        if keep is not None:
            start, start_cont = start.map(lambda t: t[keep]), start_cont[keep]
            code = None if code is None else code[keep]
        goal = None  # the subgoal reward's target: the code decoded by the current decoder
        if code is not None:
            with torch.no_grad():  # float32 for the reward sources under bf16 (nn/precision.py)
                goal = at_least_fp32(self.autoencoder.decode(code))
        condition = self.condition(code, goal)
        traj = self.actor_critic.imagine(self.world_model, start, condition)
        rewards = self.rewards(traj, goal)
        ac_metrics = self.actor_critic.update(traj, self.mixer.head_rewards(rewards), condition,
                                              start_cont, self.mixer.mix)
        ae_metrics: dict[str, float] = {}
        if self.autoencoder is not None:  # trained on the imagined deter states, spec §5.3
            ae_metrics = self.autoencoder.train_step(traj.states.deter.flatten(0, 1).detach())
        return {**{f"world_model/{k}": v for k, v in wm_metrics.items()},
                **{f"behavior/{k}": v for k, v in ac_metrics.items()},
                **{f"subgoal/{k}": v for k, v in ae_metrics.items()},
                **{f"rewards/{k}": v for k, v in reward_stats(rewards).items()}}

    def rewards(self, traj: Trajectory, goal: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``{source key: [H, N]}``: every kept source on the imagined trajectory; with the
        dynamics' graph when the actor learns through it (``actor_grad``), else no graph."""
        with torch.set_grad_enabled(self.actor_critic.actor_grad.model_grad):
            ctx = RewardContext(traj, goal=goal, autoencoder=self.autoencoder)
            return {source.key: source(ctx) for source in self.sources}

    # -- acting -----------------------------------------------------------------------------------
    def initial_policy_state(self, batch: int, device: torch.device) -> PolicyState:
        latent = self.world_model.initial(batch)
        return PolicyState(latent, torch.zeros(batch, self.num_actions, device=device),
                           self.world_model.empty_window(batch))

    @torch.no_grad()
    def observe(self, state: PolicyState, obs: torch.Tensor, is_first: torch.Tensor,
                sample: bool) -> PolicyState:
        """The acting memory after ``obs [B, ...]`` (its ``latent``: the real state ``[B]``)."""
        wm = self.world_model
        if state.window is None:
            latent = wm.obs_step(state.latent, state.prev_action, obs, is_first, sample=sample)
            return dataclasses.replace(state, latent=latent)
        latent, window = wm.window_step(state.window, state.prev_action, obs, is_first,
                                        sample=sample)
        return dataclasses.replace(state, latent=latent, window=window)

    @torch.no_grad()
    def act(self, state: PolicyState, goal_code: torch.Tensor | None,
            sample: bool) -> tuple[torch.Tensor, PolicyState]:
        """One-hot action ``[B, A]`` for the real state ``state.latent`` and the parent's code;
        and the memory with that action as the next step's ``prev_action``."""
        wm = self.world_model
        features = wm.actor_input(state.latent, wm.predict(state.latent))
        action = self.actor_critic.act(features, sample=sample,
                                       condition=self.condition(goal_code))
        return action, dataclasses.replace(state, prev_action=action)

    def env_action(self, action: torch.Tensor) -> int | np.ndarray:
        """What the env takes for this level's action ``[A]`` (level 0): an index, or a vector."""
        return self.actor_critic.actor.policy.env_action(action)


def reward_stats(rewards: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean and std of each source's rewards into s_1 .. s_{H-1} (those the returns use)."""
    if not rewards:
        return {}
    keys = list(rewards)
    used = torch.stack([rewards[k][1:].float() for k in keys])  # [S, H-1, N]
    flat = used.flatten(1)
    values = torch.stack([flat.mean(1), flat.std(1)], 1).tolist()  # one host transfer
    out: dict[str, float] = {}
    for key, (mean, std) in zip(keys, values, strict=True):
        out[f"{key}_mean"], out[f"{key}_std"] = mean, std
    return out
