"""The agent: a hierarchy of 1..N levels, their replays, acting and training calls.

``num_levels = 1`` is the flat agent (S5WM or RSSM Dreamer with extrinsic reward). With more
levels, level i+1 observes level i's temporally abstracted latents every K^(i+1) env steps and
sends it subgoal codes (spec §1.4, §3, §5). Everything of level i (its :class:`Level`, its
replay, and for i > 0 the :class:`Abstraction` that feeds it) is built here, at build time,
inside the gin scope ``level<i>``: ``level1/WorldModel.mlp_units = 512`` or
``level1/Abstraction.period_reward = @period_mean`` configure level 1 alone, and the operative
config logged for the run holds exactly what each level used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gin
import gymnasium as gym
import numpy as np
import torch

from hieros_lab import registry
from hieros_lab.envs.base import is_image_space
from hieros_lab.hierarchy import schedule
from hieros_lab.hierarchy.abstraction import Abstraction
from hieros_lab.hierarchy.level import Level
from hieros_lab.hierarchy.pictures import goal_images, picture_grid
from hieros_lab.hierarchy.runtime import (
    HierarchyState,
    hierarchy_step,
    hierarchy_step_batch,
    initial_state,
)
from hieros_lab.nn import compiled
from hieros_lab.nn import precision as prec
from hieros_lab.replay.buffer import ReplayBuffer
from hieros_lab.replay.step import Step
from hieros_lab.replay.streams import StreamReplay

#: Offset between the replay seeds of two env streams (stream 0 keeps the single-stream seed).
STREAM_SEED_OFFSET = 7_919


def to_torch(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """numpy replay batch -> torch tensors on ``device`` (uint8 images stay uint8)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in batch.items()}


@gin.register
class Agent:
    """Acts with the whole hierarchy and trains every level on its own replay.

    Args:
        obs_space, num_actions: from the env.
        seed: seeds the replay samplers (level i uses seed + i).
        device: torch device of all modules.
        level, replay, abstraction: factories, each called in the scope ``level<i>``.
        num_levels: L >= 1 levels (paper: 3).
        k: abstraction stride; level i acts every K^i env steps and trains every K^i calls.
        batch_size: windows per training batch (B); the window length T is the replay's.
        precision: ``fp32`` or ``bf16``, the precision of every training step
            (:mod:`hieros_lab.nn.precision`); the trainer passes ``Trainer.precision`` resolved.
        compile: ``off`` or a ``torch.compile`` mode for every level's training step
            (:mod:`hieros_lab.nn.compiled`); the trainer passes ``Trainer.compile``.
        num_envs: env streams acting at once (``Trainer.num_envs``): each keeps its own acting
            memory and, at every level, its own replay ring (:mod:`hieros_lab.replay.streams`).
        continuous_actions: the env's actions are a ``Box`` (the trainer passes it): level 0's
            policy must be continuous and its replay stores action vectors; higher levels still
            act with discrete subgoal codes.
    """

    def __init__(self, obs_space: gym.spaces.Box, num_actions: int, seed: int,
                 device: torch.device, level: Callable[..., Level],
                 replay: Callable[..., ReplayBuffer], abstraction: Callable[..., Abstraction],
                 num_levels: int = 1, k: int = 4, batch_size: int = 16,
                 precision: str = "fp32", compile: str = "off", num_envs: int = 1,
                 continuous_actions: bool = False) -> None:
        if num_levels < 1:
            raise ValueError(f"Agent.num_levels must be >= 1, got {num_levels}")
        if k < 1:
            raise ValueError(f"Agent.k must be >= 1, got {k}")
        if batch_size < 1:
            raise ValueError(f"Agent.batch_size must be >= 1, got {batch_size}")
        if num_envs < 1:
            raise ValueError(f"Trainer.num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.continuous_actions = continuous_actions
        self.device, self.num_levels, self.k = device, num_levels, k
        prec.autocast(device, precision)  # refuses anything but fp32 / bf16 before any build
        self.precision = precision
        self.compile = compiled.check(compile)  # before any build, like the precision
        self.image_obs = is_image_space(obs_space)
        self.batch_size = batch_size
        self.levels: list[Level] = []
        self.replays: list[ReplayBuffer | StreamReplay] = []
        self.abstractions: list[Abstraction] = []  # abstractions[i] feeds level i + 1
        for i in range(num_levels):
            with gin.config_scope(f"level{i}"):
                self._add_level(i, obs_space, num_actions, seed, level, replay, abstraction)
            self.levels[-1].set_compile(self.compile)
        self.train_calls = 0
        self._train_states: list[HierarchyState] | None = None  # one per env stream

    def _add_level(self, i: int, obs_space: gym.spaces.Box, num_actions: int, seed: int,
                   level: Callable[..., Level], replay: Callable[..., ReplayBuffer],
                   abstraction: Callable[..., Abstraction]) -> None:
        has_parent = i < self.num_levels - 1
        groups = 1
        if i > 0:  # observations: the level below's latents; actions: codes of its autoencoder
            below = self.levels[-1]
            self.abstractions.append(abstraction(k=self.k, encoding_dim=below.encoding_dim))
            width = self.abstractions[-1].obs_dim
            obs_space = gym.spaces.Box(-np.inf, np.inf, (width,), np.float32)
            num_actions, groups = below.code_dim, below.autoencoder.groups
        continuous = self.continuous_actions and i == 0  # levels above act with codes
        lvl = level(obs_space=obs_space, num_actions=num_actions, action_groups=groups, index=i,
                    has_parent=has_parent, continuous_actions=continuous).to(self.device)
        self.levels.append(lvl)
        rings = [replay(obs_space=obs_space, num_actions=num_actions,
                        seed=seed + i + STREAM_SEED_OFFSET * j, action_groups=groups,
                        period=schedule.period(i, self.k), goal_dim=lvl.code_dim if has_parent
                        else 0, **({"streams": self.num_envs} if self.num_envs > 1 else {}),
                        **({"continuous": True} if continuous else {}))
                 for j in range(self.num_envs)]
        check_context(lvl, rings[0].length)
        self.replays.append(rings[0] if self.num_envs == 1 else
                            StreamReplay(rings, seed=seed + i + STREAM_SEED_OFFSET * self.num_envs))

    def derived_params(self) -> dict[str, str]:
        """Settings the run used that no binding states directly (logged as params)."""
        out: dict[str, str] = {}
        for i, (lvl, rep) in enumerate(zip(self.levels, self.replays, strict=True)):
            out[f"derived/level{i}/replay_capacity"] = str(rep.capacity)
            out[f"derived/level{i}/obs_dim"] = str(int(np.prod(rep.obs_space.shape)))
            out[f"derived/level{i}/num_actions"] = str(lvl.num_actions)
            out[f"derived/level{i}/reward_sources"] = ",".join(s.key for s in lvl.sources)
            out[f"derived/level{i}/critic_heads"] = ",".join(lvl.actor_critic.heads)
            # what weights=None resolved to, and 0 for a source the mixer ignores
            out[f"derived/level{i}/reward_weights"] = ",".join(
                f"{k}={w:g}" for k, w in lvl.mixer.paid_weights().items())
            out[f"derived/level{i}/params"] = str(sum(p.numel() for p in lvl.parameters()))
        out["derived/precision"] = self.precision  # what Trainer.precision resolved to
        out["derived/compile"] = self.compile
        return out

    @property
    def replay(self) -> ReplayBuffer:
        """Level 0's replay (env steps)."""
        return self.replays[0]

    @property
    def replayed_steps_per_update(self) -> int:
        """B * T: the steps one level-0 update replays (for the train ratio)."""
        return self.batch_size * self.replay.length

    @property
    def steps_before_training(self) -> int:
        """Level-0 steps stored before :meth:`can_train` holds: ``batch_size`` windows of
        ``length`` steps, none across two env streams. Every env step stores one step (an
        episode's last step one more), so this is also the env steps a run needs before its
        first update, at most."""
        return self.num_envs * (self.replay.length - 1) + self.batch_size

    def modules(self) -> list[torch.nn.Module]:
        return list(self.levels)

    def components(self) -> list[Any]:
        """Every registered component in use (for ``component.<kind>`` run tags)."""
        out: list[Any] = [*self.levels, *(r.sampler for r in self.replays)]
        for lvl in self.levels:
            out += lvl.components()
        return out

    # -- acting ---------------------------------------------------------------------------------
    def policy_state(self) -> HierarchyState:
        return initial_state(self.levels, self.abstractions, self.device)

    def act(self, step: Step, state: HierarchyState | None,
            sample: bool) -> tuple[int | np.ndarray, HierarchyState]:
        """Env action for ``step`` without storing anything (evaluation); ``state=None`` starts
        from the initial state."""
        state = state or self.policy_state()
        action, _ = hierarchy_step(self.levels, state, step, self.k, sample, self.device)
        return action, state

    def subgoal_picture(self, step: Step, state: HierarchyState) -> np.ndarray | None:
        """[observation | each level's subgoal decoded to pixels] (None: one level or no image)."""
        if self.num_levels < 2 or not self.image_obs:
            return None
        return picture_grid(step.obs, goal_images(self.levels, state))

    def step(self, step: Step) -> int | np.ndarray:
        """Training step of a single-stream agent: act with sampling actors and store what every
        acting level saw and chose in its replay; returns the env action."""
        if self.num_envs != 1:
            raise ValueError(f"Agent.step acts for one env; this agent has {self.num_envs} "
                             "streams: call step_batch")
        return self.step_batch([step])[0]

    def step_batch(self, steps: list[Step]) -> list[int | np.ndarray]:
        """Training step of every env stream at once (``steps[j]``: stream j's current step):
        one batched policy call per level; each stream's records go to its own replay ring.
        Returns each stream's env action."""
        if len(steps) != self.num_envs:
            raise ValueError(f"{len(steps)} env steps for an agent of {self.num_envs} streams")
        if self._train_states is None:
            self._train_states = [self.policy_state() for _ in range(self.num_envs)]
        actions, records = hierarchy_step_batch(self.levels, self._train_states, steps, self.k,
                                                True, self.device)
        for j, stream_records in enumerate(records):
            for i, rec in stream_records:
                self._ring(i, j).add(rec.obs, rec.action, rec.reward, rec.is_first, rec.is_last,
                                     rec.is_terminal, goal=rec.goal)
        return actions

    def _ring(self, level: int, stream: int) -> ReplayBuffer:
        rep = self.replays[level]
        return rep.streams[stream] if isinstance(rep, StreamReplay) else rep

    # -- training -------------------------------------------------------------------------------
    def can_train(self) -> bool:
        """Training starts once level 0's replay holds ``batch_size`` windows (spec §1.1)."""
        return len(self.replay) >= self.batch_size

    def train(self) -> dict[str, float]:
        """One training call: every due level with enough data updates once (spec §1.1)."""
        metrics: dict[str, float] = {}
        for i, (lvl, rep) in enumerate(zip(self.levels, self.replays, strict=True)):
            if schedule.trains(i, self.train_calls, self.k) and len(rep) >= self.batch_size:
                batch = to_torch(rep.sample(self.batch_size), self.device)
                with prec.autocast(self.device, self.precision):
                    step = lvl.train_step(batch)
                metrics.update({f"level{i}/{k}": v for k, v in step.items()})
        self.train_calls += 1
        if self.compile != "off":  # a break splits a graph: each one costs speed (issue #10)
            metrics["compile/graph_breaks"] = float(compiled.graph_breaks())
        return metrics

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"levels": [lvl.state_dict() for lvl in self.levels],
                "optimizers": [{k: o.state_dict() for k, o in lvl.optimizers().items()}
                               for lvl in self.levels],
                "train_calls": self.train_calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["levels"]) != self.num_levels:
            raise ValueError(f"checkpoint has {len(state['levels'])} levels, config has "
                             f"{self.num_levels}")
        for lvl, weights, opts in zip(self.levels, state["levels"], state["optimizers"],
                                      strict=True):
            lvl.load_state_dict(weights)
            for key, opt in lvl.optimizers().items():
                opt.load_state_dict(opts[key])
        self.train_calls = int(state["train_calls"])
        self._train_states = None

    def acting_state(self) -> dict[str, Any] | list[dict[str, Any]] | None:
        """The training streams' acting memory (every level's latent, held outputs, acting
        windows, abstractions; None before the first step), for a checkpoint that resumes
        mid-episode: one stream's dict, or a list of them with several env streams. Load it
        after :meth:`load_state_dict`, which clears it."""
        if self._train_states is None:
            return None
        saved = [state.state_dict() for state in self._train_states]
        return saved[0] if self.num_envs == 1 else saved

    def load_acting_state(self, state: dict[str, Any] | list[dict[str, Any]] | None) -> None:
        self._train_states = None
        if state is None:
            return
        saved = [state] if isinstance(state, dict) else list(state)
        if len(saved) != self.num_envs:
            raise ValueError(f"acting state of {len(saved)} env streams, agent has "
                             f"{self.num_envs} (Trainer.num_envs)")
        self._train_states = [self.policy_state() for _ in saved]
        for mine, one in zip(self._train_states, saved, strict=True):
            mine.load_state_dict(one)

    def save_replay(self, directory: Path) -> None:
        for i, rep in enumerate(self.replays):
            rep.save(directory / f"replay{i}.bin")

    def load_replay(self, directory: Path) -> None:
        for i, rep in enumerate(self.replays):
            rep.load(directory / f"replay{i}.bin")


def check_context(level: Level, length: int) -> None:
    """Refuse a sequence model whose context (``SequenceModel.context``: a transformer's window)
    is longer than the replay windows it trains on: training would never show it that much."""
    sequence = level.world_model.sequence
    if sequence.context > length:
        name = (registry.component_of(sequence) or ("sequence", type(sequence).__name__))[1]
        raise ValueError(f"level {level.index}: {name} attends to {sequence.context} earlier "
                         f"steps ({name}.window) but its replay windows are "
                         f"ReplayBuffer.length = {length} steps long: lower the window or raise "
                         "the length")
