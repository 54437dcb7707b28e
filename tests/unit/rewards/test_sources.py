"""Reward sources: paper and official formulas (spec §5.4, §5.5, §12.20-§12.21)."""

from __future__ import annotations

import math

import pytest
import torch

from hieros_lab.behavior.imagination import Trajectory
from hieros_lab.hierarchy.subgoals import SubgoalAutoencoder
from hieros_lab.nn.distributions import symlog
from hieros_lab.rewards.base import RewardContext
from hieros_lab.rewards.sources import (
    DirectorSubgoalReward,
    ExtrinsicReward,
    NoveltyReward,
    OfficialNoveltyReward,
    SubgoalReward,
    director_similarity,
    max_norm_similarity,
)
from hieros_lab.sequence.base import Latent

SYMLOG1 = math.log(2.0)


def _traj(deter: torch.Tensor, seed: int = 0) -> Trajectory:
    """A trajectory ``[H, N]`` around ``deter [H, N, D]`` with a random reward head."""
    gen = torch.Generator().manual_seed(seed)
    h, n = deter.shape[:2]
    states = Latent(stoch=torch.zeros(h, n, 4), logits=torch.zeros(h, n, 2, 2), deter=deter,
                    memory=torch.zeros(h, n, 1))
    pred = {"reward": torch.randn(h, n, generator=gen), "cont": torch.ones(h, n),
            "entropy": torch.zeros(h, n)}
    return Trajectory(states, torch.zeros(h, n, 3), torch.zeros(h, n, 2), pred)


def _constant_ae(value: torch.Tensor) -> SubgoalAutoencoder:
    """An autoencoder whose reconstruction is ``value [D]`` for every input."""
    ae = SubgoalAutoencoder(deter_dim=value.shape[0], code_groups=2, code_classes=3, units=8)
    with torch.no_grad():
        ae.decoder.out.weight.zero_()
        ae.decoder.out.bias.copy_(value)
    return ae


def test_extrinsic_is_the_reward_head():
    traj = _traj(torch.randn(4, 3, 5))
    assert torch.equal(ExtrinsicReward()(RewardContext(traj)), traj.pred["reward"])


def test_max_norm_similarity_bounds_and_peak():
    gen = torch.Generator().manual_seed(0)
    g, h = torch.randn(500, 6, generator=gen), 2 * torch.randn(500, 6, generator=gen)
    r = max_norm_similarity(g, h)
    low = torch.minimum(g.norm(dim=-1), h.norm(dim=-1))
    assert (r.abs() <= low + 1e-5).all()
    torch.testing.assert_close(max_norm_similarity(g, g), g.norm(dim=-1))
    assert (r <= max_norm_similarity(g, g) + 1e-5).all()  # h = g is the best state for g
    e0, e1 = torch.eye(6)[0], torch.eye(6)[1]
    assert float(max_norm_similarity(e0, e1)) == 0.0
    assert float(max_norm_similarity(e0, -3 * e0)) == pytest.approx(-1.0)
    assert float(max_norm_similarity(torch.zeros(6), torch.zeros(6))) == 0.0


def test_subgoal_source_holds_the_goal_over_the_horizon():
    deter = torch.randn(5, 3, 4)
    goal = torch.randn(3, 4)
    r = SubgoalReward()(RewardContext(_traj(deter), goal=goal))
    assert r.shape == (5, 3)
    for j in range(5):
        torch.testing.assert_close(r[j], max_norm_similarity(goal, deter[j]))
    at_goal = SubgoalReward()(RewardContext(_traj(goal.expand(5, 3, 4)), goal=goal))
    torch.testing.assert_close(at_goal, goal.norm(dim=-1).expand(5, 3))


def test_director_similarity_invariants():
    """spec §12.20: in [0, symlog 1], symlog 1 at s = g, 0 if orthogonal/opposite."""
    gen = torch.Generator().manual_seed(1)
    g, s = torch.randn(1000, 8, generator=gen), torch.randn(1000, 8, generator=gen) * 3
    r = director_similarity(g, s)
    assert (r >= 0).all() and (r <= SYMLOG1 + 1e-6).all() and (r > 0).any()
    torch.testing.assert_close(director_similarity(g, g), torch.full((1000,), SYMLOG1))
    e0, e1 = torch.eye(8)[0], torch.eye(8)[1]
    assert float(director_similarity(e0, e1)) == 0.0
    assert float(director_similarity(e0, -e0)) == 0.0


@pytest.mark.parametrize("scale", [1.5, 4.0])
def test_director_scaling_the_goal_beyond_the_state_lowers_it(scale):
    """Max-norm property: once ‖g‖ ≥ ‖s‖, a larger goal scores lower (a pure cosine would not)."""
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(200, 8, generator=gen)
    g = s + 0.3 * torch.randn(200, 8, generator=gen)
    g = g * (s.norm(dim=-1, keepdim=True) / g.norm(dim=-1, keepdim=True)).clamp_min(1.0)
    base, scaled = director_similarity(g, s), director_similarity(scale * g, s)
    assert (scaled < base).all()


def test_director_source_uses_symlog_space_and_peaks_at_the_goal():
    deter = 3 * torch.randn(4, 6, 5)
    goal = 3 * torch.randn(6, 5)
    r = DirectorSubgoalReward()(RewardContext(_traj(deter), goal=goal))
    torch.testing.assert_close(r, director_similarity(symlog(goal)[None], symlog(deter)))
    at_goal = DirectorSubgoalReward()(RewardContext(_traj(goal.expand(4, 6, 5)), goal=goal))
    torch.testing.assert_close(at_goal, torch.full((4, 6), SYMLOG1))


def test_novelty_is_the_l2_reconstruction_error_and_zero_iff_exact():
    target = torch.tensor([0.5, -1.0, 2.0])
    ae = _constant_ae(target)
    deter = torch.randn(3, 4, 3)
    deter[0, 0] = target
    r = NoveltyReward()(RewardContext(_traj(deter), autoencoder=ae))
    torch.testing.assert_close(r, (deter - target).norm(dim=-1))
    assert float(r[0, 0]) == pytest.approx(0.0, abs=1e-6)
    assert (r.flatten()[1:] > 0).all()


def test_official_novelty_compares_raw_h_with_a_symlog_space_reconstruction():
    """B4: symlog(mean (h − symlog AE(h))²); 0 iff raw h equals the symlog-space reconstruction,
    and a *perfect* reconstruction AE(h) = h still scores (h − symlog h)²."""
    target = torch.tensor([0.5, -1.0, 2.0])
    ae = _constant_ae(target)
    deter = torch.randn(2, 5, 3)
    deter[0, 0] = symlog(target)
    deter[0, 1] = target
    r = OfficialNoveltyReward()(RewardContext(_traj(deter), autoencoder=ae))
    torch.testing.assert_close(r, symlog((deter - symlog(target)).square().mean(-1)))
    assert float(r[0, 0]) == pytest.approx(0.0, abs=1e-6)
    bias = float(symlog((target - symlog(target)).square().mean()))
    assert float(r[0, 1]) == pytest.approx(bias) and bias > 0.05
    assert (r >= 0).all()


@pytest.mark.parametrize("source", [SubgoalReward(), DirectorSubgoalReward()])
def test_goal_errors(source):
    traj = _traj(torch.randn(3, 2, 4))
    with pytest.raises(ValueError, match="subgoal"):
        source(RewardContext(traj))
    with pytest.raises(ValueError, match="goal"):
        source(RewardContext(traj, goal=torch.zeros(2, 5)))


@pytest.mark.parametrize("source", [NoveltyReward(), OfficialNoveltyReward()])
def test_novelty_needs_an_autoencoder(source):
    with pytest.raises(ValueError, match="autoencoder"):
        source(RewardContext(_traj(torch.randn(3, 2, 4))))
