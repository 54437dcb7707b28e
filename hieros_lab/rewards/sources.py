"""Reward sources (kind ``reward_source``): extrinsic, subgoal and novelty rewards (spec §4.2, §5.4,
§5.5, §11 items 2-3).

Each source maps a :class:`~hieros_lab.rewards.base.RewardContext` to ``[H, N]`` rewards into the
imagined states s_0 .. s_{H-1}. The level computes them without gradients, or with the
imagined dynamics' graph when its actor learns through the dynamics (``actor_grad = dynamics``),
so sources are plain differentiable tensor code. h = ``traj.states.deter [H, N, D]``.

Paper variants (the defaults), the authors' variants (``*_director``, ``*_official``) and
scale-free variants (``*_ratio``, ``*_rms``):

==================== ==================================================================
``extrinsic``        the world model's reward head
``subgoal``          paper: r_g = gᵀh / max(‖g‖, ‖h‖)
``subgoal_director`` authors: symlog(max(0, ĝᵀs / max(‖ĝ‖, ‖s‖)²)), s = symlog(h)
``subgoal_ratio``    scale-free: gᵀh / max(‖g‖, ‖h‖)² in [−1, 1], 1 only at h = g
``novelty``          paper: ‖h − AE(h)‖₂
``novelty_official`` authors: symlog(mean_d (h_d − Â(h)_d)²) (bug B4 reproduced)
``novelty_rms``      scale-free: ‖h − AE(h)‖₂ / √D
==================== ==================================================================

Scale. The paper's r_g equals ‖g‖ for every h = c·g with c ≥ 1, so its size is the size of the
decoded goal (about 10 for an untrained autoencoder at paper sizes) and a weight such as 0.3
says little about its share; the paper's novelty grows with √D in the same way. The ``*_ratio``
and ``*_rms`` variants do not depend on the scale of h, and ``subgoal_ratio`` penalises
overshoot (h = c·g scores 1/c for c > 1). The level logs every source's mean and std in
imagination (``level<i>/rewards/<key>_mean``), so the balance is visible in every run.

Levels. Every source has ``min_level`` and ``max_level`` (None: no upper bound): the levels of
the hierarchy that use it. Novelty sources default to ``min_level = 1``, the paper sweep's
``novelty_only_higher_level True`` (spec §5.1), so a one-level agent is exactly the flat
extrinsic-reward agent. The paper's text has the extrinsic reward only at level 0
(``extrinsic.max_level = 0``, presets/hieros.gin); the authors' code gives every level its
period reward (``max_level = None``, the Python default).

Spaces. Our subgoal autoencoder reconstructs h itself, so a decoded goal g and AE(h) live in the
space of h. The authors' autoencoder reconstructs symlog(h) (spec §5.3), so *their* goal and
reconstruction live in symlog space. The official variants therefore first map ours into that
space, ĝ = symlog(g) and Â(h) = symlog(AE(h)); with a perfect autoencoder they then compute the
authors' numbers exactly, including B4's (h − symlog h)² bias, and ``subgoal_director`` peaks
where the authors' does, at h = g.
"""

from __future__ import annotations

import math

import torch

from hieros_lab.nn.distributions import symlog
from hieros_lab.registry import register
from hieros_lab.rewards.base import Reconstructor, RewardContext

#: Added to both norms of the max-cosine (the authors' 1e-12, spec §5.4).
NORM_EPS = 1e-12


def _deter(ctx: RewardContext) -> torch.Tensor:
    """h ``[H, N, D]`` of the imagined states."""
    return ctx.traj.states.deter


def _goal(ctx: RewardContext, source: str) -> torch.Tensor:
    """The held subgoal broadcast over the horizon: ``[1, N, D]``; errors if absent/misshaped."""
    if ctx.goal is None:
        raise ValueError(f"reward source {source!r} needs a decoded subgoal (RewardContext.goal); "
                         f"a level without a parent cannot use it")
    h = _deter(ctx)
    if ctx.goal.shape != h.shape[1:]:
        raise ValueError(f"reward source {source!r}: goal {tuple(ctx.goal.shape)} != "
                         f"[N, D] = {tuple(h.shape[1:])}")
    return ctx.goal.unsqueeze(0)


def _autoencoder(ctx: RewardContext, source: str) -> Reconstructor:
    if ctx.autoencoder is None:
        raise ValueError(f"reward source {source!r} needs the level's subgoal autoencoder "
                         f"(RewardContext.autoencoder)")
    return ctx.autoencoder


def max_norm_similarity(g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Paper subgoal reward gᵀh / max(‖g‖, ‖h‖) over the last dim: ``[..., D]`` x2 -> ``[...]``.

    By Cauchy-Schwarz |r| ≤ ‖g‖‖h‖ / max(‖g‖, ‖h‖) = min(‖g‖, ‖h‖) ≤ ‖g‖, so for a fixed g it is
    maximal, = ‖g‖, at h = g. It is 0 when g ⟂ h and negative for opposing vectors; 0 if both
    vectors are 0.
    """
    denom = torch.maximum(g.norm(dim=-1), h.norm(dim=-1)).clamp_min(NORM_EPS)
    return (g * h).sum(-1) / denom


def director_similarity(g: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Authors' (Director's) max-cosine: symlog(max(0, gᵀs / max(‖g‖+ε, ‖s‖+ε)²)), ``[...]``.

    In [0, symlog 1]; = symlog 1 ≈ 0.693 at s = g ≠ 0; 0 for orthogonal or opposite vectors;
    scaling g (or s) beyond the other's norm lowers it (spec §12.20).
    """
    denom = torch.maximum(g.norm(dim=-1) + NORM_EPS, s.norm(dim=-1) + NORM_EPS)
    return symlog(torch.relu((g * s).sum(-1) / denom.square()))


def ratio_similarity(g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Scale-free subgoal similarity gᵀh / max(‖g‖, ‖h‖)², ``[..., D]`` x2 -> ``[...]``.

    = cos(g, h) · min(‖g‖, ‖h‖) / max(‖g‖, ‖h‖): in [−1, 1], 1 exactly at h = g ≠ 0, c for
    h = c·g with 0 < c ≤ 1 and 1/c for c ≥ 1 (overshoot is penalised); 0 if both are 0.
    """
    denom = torch.maximum(g.norm(dim=-1), h.norm(dim=-1)).square().clamp_min(NORM_EPS)
    return (g * h).sum(-1) / denom


class LevelRange:
    """Which levels use a source: ``min_level <= level <= max_level`` (None: no upper bound)."""

    #: Default lowest level of the class (novelty sources: 1).
    MIN_LEVEL = 0

    def __init__(self, min_level: int | None = None, max_level: int | None = None) -> None:
        min_level = self.MIN_LEVEL if min_level is None else min_level
        if min_level < 0 or (max_level is not None and max_level < min_level):
            raise ValueError(f"{type(self).__name__}: need 0 <= min_level <= max_level, got "
                             f"min_level={min_level}, max_level={max_level}")
        self.min_level, self.max_level = min_level, max_level

    def active_at(self, level: int) -> bool:
        return level >= self.min_level and (self.max_level is None or level <= self.max_level)


@register("reward_source", "extrinsic")
class ExtrinsicReward(LevelRange):
    """Extrinsic reward: the world model's reward-head mean at each imagined state (spec §4.2)."""

    key, needs_goal, needs_autoencoder = "extrinsic", False, False

    def __call__(self, ctx: RewardContext) -> torch.Tensor:
        return ctx.traj.pred["reward"]


@register("reward_source", "subgoal")
class SubgoalReward(LevelRange):
    """Paper subgoal reward r_g = gᵀh / max(‖g‖, ‖h‖) with the decoded subgoal g (spec §11.2)."""

    key, needs_goal, needs_autoencoder = "subgoal", True, False

    def __call__(self, ctx: RewardContext) -> torch.Tensor:
        return max_norm_similarity(_goal(ctx, "subgoal"), _deter(ctx))


@register("reward_source", "subgoal_director")
class DirectorSubgoalReward(LevelRange):
    """Authors' subgoal reward: clamped, symlog'd max-cosine in symlog space (spec §5.4)."""

    key, needs_goal, needs_autoencoder = "subgoal", True, False

    def __call__(self, ctx: RewardContext) -> torch.Tensor:
        # symlog(g): the authors' decoder outputs symlog-space goals; ours outputs h-space goals.
        goal = symlog(_goal(ctx, "subgoal_director"))
        return director_similarity(goal, symlog(_deter(ctx)))


@register("reward_source", "novelty")
class NoveltyReward(LevelRange):
    """Paper novelty: the L2 reconstruction error ‖h − AE(h)‖₂ of the subgoal AE (spec §11.3)."""

    key, needs_goal, needs_autoencoder = "novelty", False, True
    MIN_LEVEL = 1  # novelty_only_higher_level (spec §5.1)

    def __call__(self, ctx: RewardContext) -> torch.Tensor:
        h = _deter(ctx)
        recon = _autoencoder(ctx, "novelty").reconstruct(h)
        return (h - recon).norm(dim=-1)


@register("reward_source", "novelty_official")
class OfficialNoveltyReward(LevelRange):
    """Authors' novelty symlog(mean_d (h − symlog AE(h))²): raw h vs a symlog-space
    reconstruction, a per-dimension mean square instead of a norm (spec §5.5, bug B4)."""

    key, needs_goal, needs_autoencoder = "novelty", False, True
    MIN_LEVEL = 1  # novelty_only_higher_level (spec §5.1)

    def __call__(self, ctx: RewardContext) -> torch.Tensor:
        h = _deter(ctx)
        # The authors' AE(h) approximates symlog(h); symlog(ours) approximates the same thing.
        recon = symlog(_autoencoder(ctx, "novelty_official").reconstruct(h))
        return symlog((h - recon).square().mean(-1))


@register("reward_source", "subgoal_ratio")
class RatioSubgoalReward(LevelRange):
    """Scale-free subgoal reward gᵀh / max(‖g‖, ‖h‖)²: bounded, penalises overshoot."""

    key, needs_goal, needs_autoencoder = "subgoal", True, False

    def __call__(self, ctx: RewardContext) -> torch.Tensor:
        return ratio_similarity(_goal(ctx, "subgoal_ratio"), _deter(ctx))


@register("reward_source", "novelty_rms")
class RmsNoveltyReward(LevelRange):
    """Scale-free novelty ‖h − AE(h)‖₂ / √D: the root-mean-square reconstruction error."""

    key, needs_goal, needs_autoencoder = "novelty", False, True
    MIN_LEVEL = 1  # novelty_only_higher_level (spec §5.1)

    def __call__(self, ctx: RewardContext) -> torch.Tensor:
        h = _deter(ctx)
        recon = _autoencoder(ctx, "novelty_rms").reconstruct(h)
        return (h - recon).norm(dim=-1) / math.sqrt(h.shape[-1])
