"""The subgoal reward's scale (issue 7 defect 5): the paper's max-norm similarity grows with
the goal's norm and does not penalise overshoot; ``subgoal_ratio`` is bounded, peaks only at
h = g and penalises overshoot; ``novelty_rms`` does not grow with the width of h."""

from __future__ import annotations

import math

import pytest
import torch

from hieros_lab.rewards.sources import (
    RatioSubgoalReward,
    RmsNoveltyReward,
    max_norm_similarity,
    ratio_similarity,
)


def _g(d: int = 64, scale: float = 10.0, seed: int = 0) -> torch.Tensor:
    return scale * torch.randn(d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("c", [1.0, 2.0, 10.0])
def test_paper_reward_equals_the_goal_norm_for_every_overshoot(c):
    """The defect itself: r_g(g, c g) = |g| for all c >= 1 (no scale, no overshoot penalty)."""
    g = _g()
    torch.testing.assert_close(max_norm_similarity(g, c * g), g.norm())


@pytest.mark.parametrize("c", [0.25, 0.5, 1.0, 2.0, 4.0])
def test_ratio_reward_is_min_c_one_over_c_along_the_goal(c):
    g = _g()
    torch.testing.assert_close(ratio_similarity(g, c * g), torch.tensor(min(c, 1.0 / c)))


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_ratio_reward_is_bounded_and_scale_free(scale):
    gen = torch.Generator().manual_seed(1)
    g, h = torch.randn(200, 32, generator=gen), torch.randn(200, 32, generator=gen)
    r = ratio_similarity(scale * g, scale * h)
    assert r.abs().max() <= 1.0 + 1e-6
    torch.testing.assert_close(r, ratio_similarity(g, h))
    assert ratio_similarity(g[0], g[0]) == pytest.approx(1.0)
    assert ratio_similarity(g[0], -g[0]) == pytest.approx(-1.0)


class _Identityish:
    """A reconstructor that is off by a constant 1 in every dimension."""

    def reconstruct(self, h: torch.Tensor) -> torch.Tensor:
        return h + 1.0


def _ctx(d: int):
    from hieros_lab.behavior.imagination import Trajectory
    from hieros_lab.rewards.base import RewardContext
    from hieros_lab.sequence.base import Latent

    h = torch.randn(3, 5, d)
    states = Latent(torch.zeros(3, 5, 4), torch.zeros(3, 5, 2, 2), h, torch.zeros(3, 5, 1))
    traj = Trajectory(states, torch.zeros(3, 5, 1), torch.zeros(3, 5, 2), {})
    return RewardContext(traj, goal=h[0], autoencoder=_Identityish())


@pytest.mark.parametrize("d", [16, 256])
def test_rms_novelty_does_not_grow_with_the_width(d):
    torch.testing.assert_close(RmsNoveltyReward()(_ctx(d)), torch.ones(3, 5))


def test_ratio_source_is_one_at_the_goal():
    ctx = _ctx(8)
    r = RatioSubgoalReward()(ctx)
    torch.testing.assert_close(r[0], torch.ones(5))
    assert math.isfinite(float(r.sum()))
