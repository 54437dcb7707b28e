"""The shared trainer: env interaction, train ratio, evaluation, logging, checkpoints.

Every metric goes to the injected tracker at ``step = env steps``; components only return
metric dicts. A run can be stopped at any time and resumed from its last checkpoint. Metrics
reach the tracker with the checkpoint they belong to (:mod:`hieros_lab.trainer.journal`), so a
resumed run never logs a step twice.
"""

from __future__ import annotations

import pickle
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gin
import numpy as np
import torch
from tqdm import tqdm

from hieros_lab import registry
from hieros_lab.envs.base import EnvFactory, action_width, check_env, is_continuous
from hieros_lab.hierarchy.agent import Agent
from hieros_lab.nn import allocator, compiled
from hieros_lab.nn import precision as prec
from hieros_lab.tracking import keys
from hieros_lab.tracking.base import Tracker
from hieros_lab.trainer import carry, host, rng
from hieros_lab.trainer import checkpoint as ckpt
from hieros_lab.trainer.driver import Driver
from hieros_lab.trainer.evaluate import evaluate
from hieros_lab.trainer.journal import MetricJournal, replay
from hieros_lab.trainer.schedule import Ratio, crossed, planned_updates
from hieros_lab.trainer.stopping import StopRequest

EVAL_SEED_OFFSET = 1_000_003
#: Seed offset of the sampled-policy evaluation's env: its own env, so that turning it on changes
#: neither the greedy evaluation's episodes nor training.
SAMPLED_EVAL_SEED_OFFSET = 2_000_003
#: Seed offset between the training envs of two streams (``Trainer.num_envs``); stream 0 keeps
#: ``Trainer.seed``, so one env is seeded as it always was.
STREAM_SEED_OFFSET = 3_000_017


def component_tags(objects: Iterable[Any]) -> dict[str, str]:
    """``component.<kind>`` -> registered name, for every registered object or sub-module."""
    names: dict[str, list[str]] = {}
    for obj in objects:
        found = [obj] + (list(obj.modules()) if isinstance(obj, torch.nn.Module) else [])
        for item in found:
            entry = registry.component_of(item)
            if entry is not None and entry[1] not in names.setdefault(entry[0], []):
                names[entry[0]].append(entry[1])
    # Several of a kind (reward sources, per-level choices): comma-separated, in order found.
    return {keys.component_tag(kind): ",".join(found) for kind, found in names.items()}


@gin.configurable
class Trainer:
    """Trains an agent on an env for ``steps`` env steps.

    Args:
        env: env factory (kind ``env``), called as ``env(seed=...)``.
        tracker: tracker factory (kind ``tracker``).
        agent: agent factory.
        steps: env steps to train for (Atari100k: 100k agent steps).
        train_ratio: replayed steps per env step; updates per env step = ratio / (B * T).
        log_every: env steps between logs of averaged training metrics.
        eval_every: env steps between greedy evaluations (0: only the final one).
        eval_episodes: episodes per evaluation.
        sampled_eval_episodes: episodes of the sampling (training) policy per evaluation, on an
            env of their own, logged as ``eval_sampled/*`` beside the greedy ``eval/*``; 0: none.
        checkpoint_every: env steps between checkpoints (0: only at the end / on interrupt).
        seed: seeds torch, the replay sampler and the envs.
        device: ``auto``, ``cpu`` or ``cuda``.
        precision: ``auto``, ``fp32`` or ``bf16``: the precision of training steps
            (:mod:`hieros_lab.nn.precision`; ``auto``: bf16 on a CUDA device that supports it,
            else fp32). Acting and evaluation run in float32 either way.
        compile: ``off`` (eager) or a ``torch.compile`` mode (``default``, ``reduce-overhead``,
            ``max-autotune``) for the tensor parts of every training step
            (:mod:`hieros_lab.nn.compiled`). Acting and evaluation stay eager.
        num_envs: training envs stepped together, each its own stream (seed ``seed + j *``
            ``STREAM_SEED_OFFSET``, its own acting memory and replay rings); one batched policy
            call per level serves them all. ``steps`` counts the env steps of all of them, and
            exactly that many are executed (the last round steps only the envs still in budget).
            1: the single-env trainer, bit for bit.
        retain_freed_memory: keep freed memory in the process (:mod:`hieros_lab.nn.allocator`:
            fewer page faults at paper sizes, same numbers, the peak RSS held until exit).
            Applied at :meth:`build`; glibc only (elsewhere a no-op, recorded as such).
    """

    def __init__(self, env: EnvFactory, tracker: Callable[..., Tracker],
                 agent: Callable[..., Agent], steps: int = 100_000,
                 train_ratio: float = 1024.0, log_every: int = 1000, eval_every: int = 0,
                 eval_episodes: int = 10, checkpoint_every: int = 10_000, seed: int = 0,
                 device: str = "auto", sampled_eval_episodes: int = 0,
                 precision: str = "auto", compile: str = "off", num_envs: int = 1,
                 retain_freed_memory: bool = True) -> None:
        for name, value in (("steps", steps), ("eval_episodes", eval_episodes),
                            ("num_envs", num_envs)):
            if value < 1:
                raise ValueError(f"Trainer.{name} must be >= 1, got {value}")
        if sampled_eval_episodes < 0:
            raise ValueError(f"Trainer.sampled_eval_episodes must be >= 0, got "
                             f"{sampled_eval_episodes}")
        self.sampled_eval_episodes = sampled_eval_episodes
        if not train_ratio > 0:  # also NaN: a ratio of 0 would run to the end without training
            raise ValueError(f"Trainer.train_ratio must be > 0, got {train_ratio}")
        self.env_factory, self.tracker_factory, self.agent_factory = env, tracker, agent
        self.steps, self.train_ratio, self.seed = steps, train_ratio, seed
        self.log_every, self.eval_every, self.eval_episodes = log_every, eval_every, eval_episodes
        self.checkpoint_every = checkpoint_every
        self.num_envs = num_envs
        self.device = host.resolve_device(device)
        self.precision = prec.resolve(precision, self.device)
        self.compile = compiled.check(compile)
        self.retain_freed_memory = retain_freed_memory
        self.agent: Agent | None = None

    @property
    def driver(self) -> Driver:
        """Stream 0's training driver (the only one with ``num_envs = 1``)."""
        return self.drivers[0]

    def stream_seed(self, stream: int, step: int = 0) -> int:
        """Seed of training env ``stream``; ``step``: of a fresh env made at that step."""
        return self.seed + step + STREAM_SEED_OFFSET * stream

    def make_tracker(self) -> Tracker:
        return self.tracker_factory()

    def build(self) -> None:
        """Seed everything, make the envs and the agent (raises before any training)."""
        if self.retain_freed_memory:
            allocator.retain_freed_memory()
        torch.manual_seed(self.seed)
        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        env = self.env_factory(seed=self.seed)
        check_env(env, getattr(self.env_factory, "__name__", "env"))
        self.drivers = [Driver(env, self.seed)]
        for j in range(1, self.num_envs):
            seed = self.stream_seed(j)
            self.drivers.append(Driver(self.env_factory(seed=seed), seed))
        self.eval_driver: Driver | None = None
        self.sampled_eval_driver: Driver | None = None
        self.agent = self.agent_factory(obs_space=env.observation_space,
                                        num_actions=action_width(env.action_space),
                                        continuous_actions=is_continuous(env.action_space),
                                        seed=self.seed,
                                        device=self.device, precision=self.precision,
                                        compile=self.compile, num_envs=self.num_envs)
        self.ratio = Ratio(self.train_ratio / self.agent.replayed_steps_per_update)
        self._check_trains(self.agent)
        self.step, self.updates, self.episodes = 0, 0, 0
        self.journal = MetricJournal()
        #: True while the evaluation due at ``step`` has not been logged: a stop during it
        #: checkpoints this flag and the resumed run evaluates first (no point of the curve lost).
        self.eval_due = False
        self.saved_step: int | None = None  # step of the checkpoint this state was saved in
        self.wall_s = 0.0  # seconds spent in fit(), over every resume (keys.WALL_S)
        #: training metrics of the updates since the last log, averaged at the next one
        self.pending: dict[str, list[float]] = defaultdict(list)
        #: resumes that went on with a fresh env (one that cannot be carried): keys.RESUME_INEXACT
        self.inexact_resumes = 0
        #: why this part's restore() went on with a fresh env (None: it continued exactly)
        self.fresh_reason: str | None = None
        #: what this part's restore() set up or found about the process (host.continue_as), and
        #: whether it continues as the uninterrupted run would (its envs carried, same kind)
        self.resume_notes: list[str] = []
        self.resumed_exactly = False

    def _check_trains(self, agent: Agent) -> None:
        """Raise when the budget ends before the agent's first update: such a run would go to
        the end and report scores of an untrained agent without a word."""
        need, rep, batch = agent.steps_before_training, agent.replay, agent.batch_size
        sizes = f"Agent.batch_size = {batch} windows of ReplayBuffer.length = {rep.length}"
        if rep.capacity < need:
            raise ValueError(f"ReplayBuffer.capacity = {rep.capacity} holds fewer than the {need} "
                             f"steps that {sizes} need: the agent would never train")
        # Short episodes store extra steps and could start training a little earlier; a budget
        # that relies on them is still a mistake, so the rule counts env steps only.
        if planned_updates(self.steps, need, self.ratio.ratio) < 1:
            raise ValueError(f"Trainer.steps = {self.steps} ends before the first update, which "
                             f"needs {need} env steps ({sizes}): the agent would never train")

    def tags(self, tracker: Tracker) -> dict[str, str]:
        assert self.agent is not None
        return component_tags([self.env_factory, tracker, *self.agent.components()])

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self, root: Path, tracker: Tracker | None = None) -> Path:
        """Write and commit a checkpoint, then send the metrics measured since the last one
        to ``tracker`` (None: they stay in the checkpoint until a resume sends them)."""
        assert self.agent is not None
        path = ckpt.new_checkpoint_dir(root, self.step)
        self.journal.write(path)
        self.agent.save_replay(path)
        train = self.drivers[0] if self.num_envs == 1 else list(self.drivers)
        carry.save(path, carry.Acting(train, self.eval_driver, self.sampled_eval_driver,
                                      self.agent.acting_state(),
                                      carry.env_config(self.env_factory, self.seed)))
        state = {"agent": self.agent.state_dict(), "step": self.step, "updates": self.updates,
                 "episodes": self.episodes, "ratio": self.ratio.state_dict(),
                 "eval_due": self.eval_due, "wall_s": self.wall_s,
                 "pending": dict(self.pending), "inexact_resumes": self.inexact_resumes,
                 **rng.state(), **host.computed_on()}
        ckpt.atomic_torch_save(state, path / "state.pt")
        ckpt.commit_checkpoint(root, path)
        self.saved_step = self.step
        if tracker is not None:
            self.journal.send(tracker, path)
        return path

    def save_on_stop(self, root: Path, tracker: Tracker, stop: StopRequest) -> None:
        """The checkpoint of a run stopped by a signal at a safe point, unless the state is
        already in the latest one or the stop was forced (the state may be half-updated: the
        previous checkpoint is kept and the metrics since are measured again on resume)."""
        if self.agent is None or self.step == 0 or stop.forced:
            return
        if self.saved_step == self.step and not self.journal.entries:
            return
        self.save(root, tracker)

    def restore(self, root: Path, tracker: Tracker | None = None) -> bool:
        """Load the latest checkpoint under ``root``; False when there is none. Metrics the
        checkpoint holds but may not have sent go to ``tracker`` first (exactly once)."""
        assert self.agent is not None
        path = ckpt.latest_checkpoint(root)
        if path is None:
            return False
        state = ckpt.load_torch(path / "state.pt")
        acting = carry.load(path, self.device)
        try:
            self.agent.load_state_dict(state["agent"])
            self.agent.load_replay(path)
        except Exception as err:
            raise ckpt.CheckpointError(f"checkpoint {path} does not match this config: "
                                       f"{type(err).__name__}: {err}") from None
        if tracker is not None:
            replay(tracker, path)
        self.step, self.updates = int(state["step"]), int(state["updates"])
        self.episodes = int(state["episodes"])
        self.eval_due = bool(state.get("eval_due", False))
        self.wall_s = float(state.get("wall_s", 0.0))
        self.saved_step = self.step
        self.ratio.load_state_dict(state["ratio"])
        self.pending = defaultdict(list, state.get("pending", {}))
        self.inexact_resumes = int(state.get("inexact_resumes", 0))
        rng.restore(state)
        self.resume_notes, other_kind = host.continue_as(state)
        now = carry.env_config(self.env_factory, self.seed)
        self.fresh_reason = ("this env cannot be checkpointed" if acting is None else
                             None if acting.env_config == now else
                             f"its env settings changed: {acting.env_config} -> {now}")
        for driver in self.drivers:
            driver.close()
        if self.fresh_reason is None:  # the stopped run's envs and acting memory: exact
            self.drivers, self.eval_driver = acting.train_drivers(), acting.eval
            self.sampled_eval_driver = acting.sampled_eval
            self.agent.load_acting_state(acting.agent_state)
        else:  # fresh, deterministically seeded envs
            self.drivers = [Driver(self.env_factory(seed=self.stream_seed(j, self.step)),
                                   self.stream_seed(j, self.step))
                            for j in range(self.num_envs)]
        self.resumed_exactly = self.fresh_reason is None and not other_kind
        self.inexact_resumes += int(not self.resumed_exactly)
        return True

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, tracker: Tracker, checkpoint_root: Path, progress: bool = True,
            stop: StopRequest | None = None) -> dict[str, float]:
        """Train until ``steps``; returns the final evaluation metrics.

        ``stop`` is checked before each env step, where the state is whole; a stop raises
        :class:`~hieros_lab.trainer.stopping.Killed` (the caller checkpoints).
        """
        assert self.agent is not None
        stop = stop or StopRequest()
        began, wall_before = time.perf_counter(), self.wall_s

        def clock() -> None:
            self.wall_s = wall_before + time.perf_counter() - began

        if self.eval_due and self.step < self.steps:  # a resume of a run stopped in its eval
            self.run_eval(tracker, stop)
        pending = self.pending
        last_time, last_step, last_updates = time.perf_counter(), self.step, self.updates
        bar = tqdm(total=self.steps, initial=self.step, disable=not progress, unit="step",
                   dynamic_ncols=True, mininterval=1.0)
        try:
            while self.step < self.steps:
                stop.check()
                stepped = self._act(bar)
                if not stepped:  # every stream was at an episode's last step
                    continue
                before, self.step = self.step, self.step + stepped
                bar.update(stepped)
                if self.agent.can_train():
                    for _ in range(self.ratio(self.step)):
                        for key, value in self.agent.train().items():
                            pending[key].append(value)
                        self.updates += 1
                clock()
                if crossed(before, self.step, self.log_every):
                    now = time.perf_counter()
                    perf = {keys.UPDATES_PER_S: (self.updates - last_updates) / (now - last_time),
                            keys.ENV_STEPS_PER_S: (self.step - last_step) / (now - last_time),
                            keys.REPLAY_SIZE: float(len(self.agent.replay)),
                            keys.UPDATES: float(self.updates)}
                    if self.step < self.steps:  # the last value follows the final evaluation
                        perf[keys.WALL_S] = self.wall_s
                    self.journal.add({**{k: float(np.mean(v)) for k, v in pending.items()},
                                      **perf}, self.step)
                    pending.clear()
                    last_time, last_step, last_updates = now, self.step, self.updates
                if crossed(before, self.step, self.eval_every) and self.step < self.steps:
                    self.eval_due = True
                    self.run_eval(tracker, stop)
                    clock()
                if crossed(before, self.step, self.checkpoint_every):
                    self.save(checkpoint_root, tracker)
        finally:
            bar.close()
        stop.check()
        final = self.run_eval(tracker, stop)
        clock()
        self.journal.add({keys.WALL_S: self.wall_s}, self.step)
        self.save(checkpoint_root, tracker)
        return final

    def _act(self, bar: tqdm) -> int:
        """One policy call for every training stream, then each env executes its action;
        returns the env steps executed. Streams at an episode's last step execute nothing
        (their episode is logged); in the round that reaches ``steps`` only the streams still
        within budget execute, so a run makes exactly ``steps`` env steps."""
        assert self.agent is not None
        actions = self.agent.step_batch([driver.current() for driver in self.drivers])
        budget, executed = self.steps - self.step, 0
        for driver, action in zip(self.drivers, actions, strict=True):
            if not driver.current().is_last:
                if executed == budget:
                    continue
                executed += 1
            episode = driver.advance(action)
            if episode is not None:
                self.episodes += 1
                self.journal.add({keys.EPISODE_SCORE: episode.score,
                                  keys.EPISODE_LENGTH: float(episode.length),
                                  keys.EPISODES: float(self.episodes),
                                  **{f"episode/{k}": v for k, v in episode.metrics.items()}},
                                 self.step)
                bar.set_postfix(score=f"{episode.score:.1f}", refresh=False)
        return executed

    def run_eval(self, tracker: Tracker, stop: StopRequest | None = None) -> dict[str, float]:
        """Greedy evaluation at ``step``. It changes no training state, so a stop raises
        inside it at once; its result is then dropped and ``eval_due`` stays set."""
        stop = stop or StopRequest()
        # A stop (or failure) inside the evaluation leaves its envs mid-episode: put back the
        # envs as they were before it, so the checkpoint's repeat of it sees the same episodes.
        drivers = [self.eval_driver, self.sampled_eval_driver]
        before = pickle.dumps(drivers) if carry.carried(drivers) else None
        try:
            with stop.interruptible():
                if self.eval_driver is None:
                    seed = self.seed + EVAL_SEED_OFFSET
                    self.eval_driver = Driver(self.env_factory(seed=seed), seed)
                result, picture = evaluate(self.eval_driver, self.agent, self.eval_episodes,
                                           seed=self.seed + EVAL_SEED_OFFSET + self.step)
                sampled = self._sampled_eval()
        except BaseException:
            if before is not None:
                self.eval_driver, self.sampled_eval_driver = pickle.loads(before)
            raise
        self.journal.add({f"eval/{k}": v for k, v in result.items()}, self.step)
        self.journal.add({f"{keys.EVAL_SAMPLED}/{k}": v for k, v in sampled.items()}, self.step)
        self.eval_due = False
        if picture is not None:
            tracker.log_image(picture, f"{keys.SUBGOALS}/step_{self.step:09d}.png")
        return result

    def _sampled_eval(self) -> dict[str, float]:
        """The sampling policy's evaluation (``sampled_eval_episodes``), or {} when off."""
        if not self.sampled_eval_episodes:
            return {}
        if self.sampled_eval_driver is None:
            seed = self.seed + SAMPLED_EVAL_SEED_OFFSET
            self.sampled_eval_driver = Driver(self.env_factory(seed=seed), seed)
        result, _ = evaluate(self.sampled_eval_driver, self.agent, self.sampled_eval_episodes,
                             seed=self.seed + SAMPLED_EVAL_SEED_OFFSET + self.step, sample=True)
        return result
