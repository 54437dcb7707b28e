"""The ``reward_source`` and ``reward_mixer`` swap points (spec §4.2, §5.4-§5.6).

A level's reward sources are a list (``Level.sources``), one entry per *role* (its ``key``:
``"extrinsic"``, ``"subgoal"``, ``"novelty"``, or a new one), whichever registered variant fills
it. The level keeps a source when the source wants that level (:meth:`RewardSource.active_at`,
e.g. novelty only from level 1 in the paper sweep) and when the level can give it what it
declares it needs (``needs_goal``: a parent; ``needs_autoencoder``: the level then builds one).
Every source maps a :class:`RewardContext` to a reward ``[H, N]`` *into* each imagined state s_j.

The level's *reward mixer* decides how those rewards reach the actor:

* :meth:`RewardMixer.bind` checks the mixer's weights against the level's source keys;
* :meth:`RewardMixer.heads` names the critics the actor-critic must have;
* :meth:`RewardMixer.head_rewards` turns per-source rewards into per-critic rewards;
* :meth:`RewardMixer.mix` turns per-critic advantages into the one advantage of the actor loss.

So the paper's weighted reward sum is one head, and the authors' per-source critics with a
weighted advantage sum are one head per source, without the actor-critic knowing which. The
level drives the flow (imagine -> sources -> mixer -> actor-critic update); no component calls
back into it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from hieros_lab.behavior.imagination import Trajectory


@runtime_checkable
class Reconstructor(Protocol):
    """What the novelty rewards need of a subgoal autoencoder."""

    def reconstruct(self, h: torch.Tensor) -> torch.Tensor:
        """AE(h): ``[*lead, D]`` -> ``[*lead, D]`` in the space of h."""


@dataclass
class RewardContext:
    """What a reward source may read.

    Attributes:
        traj: the imagined :class:`Trajectory` ``[H, N]`` (``traj.states.deter`` is h ``[H, N, D]``,
            ``traj.pred["reward"]`` the reward head ``[H, N]``).
        goal: ``[N, D]`` the decoded subgoal of each start, held constant over the horizon (spec
            §4.1, B15), in the space of h; ``None`` at the top level (no parent).
        autoencoder: the level's subgoal autoencoder (novelty); ``None`` if the level has none.
    """

    traj: Trajectory
    goal: torch.Tensor | None = None
    autoencoder: Reconstructor | None = None


@runtime_checkable
class RewardSource(Protocol):
    """``source(ctx) -> [H, N]`` rewards into each imagined state: plain tensor code in the
    caller's grad mode (a level asks for none, or for the trajectory's graph when its actor
    learns through the dynamics).

    Attributes:
        key: the role it fills in a level (and the key of its weight in a mixer).
        needs_goal, needs_autoencoder: which optional parts of the context it reads; calling it
            without them raises ``ValueError``.
    """

    key: str
    needs_goal: bool
    needs_autoencoder: bool

    def active_at(self, level: int) -> bool:
        """Whether hierarchy level ``level`` (0 = bottom) uses this source."""

    def __call__(self, ctx: RewardContext) -> torch.Tensor: ...


@runtime_checkable
class RewardMixer(Protocol):
    """Per-source rewards -> per-critic rewards; per-critic advantages -> one advantage."""

    def bind(self, sources: Sequence[str]) -> RewardMixer:
        """Attach to a level's source keys; ``ValueError`` naming the binding on a weight for a
        source the level does not have (or a source without a weight). Returns ``self``."""

    def heads(self) -> list[str]:
        """Names of the critics (non-empty), in a fixed order."""

    def head_rewards(self, rewards: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{source: [H, N]}`` (exactly the bound sources) -> ``{head: [H, N]}``."""

    def mix(self, advantages: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``{head: [H-1, N]}`` -> the actor's advantage ``[H-1, N]``."""

    def paid_weights(self) -> dict[str, float]:
        """``{source: weight}`` for every bound source: the weight with which it reaches the
        actor (0: the mixer ignores it), as the run records it (``derived/level<i>/
        reward_weights``); a default weight (``weights=None``) shows as the number it is."""
