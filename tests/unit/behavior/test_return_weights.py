"""Trajectory weights match the successor return alignment (issue 7 defect 3): w_j includes
c_j (DreamerV3's cumprod(γ·c)/γ with c_0 = 1 − is_terminal(start)), so a terminal state, the
states after it and a terminal replay start carry no weight."""

from __future__ import annotations

import pytest
import torch

from hieros_lab.behavior.returns import trajectory_weights

GAMMA = 0.9


def test_weight_is_zero_from_an_imagined_terminal_on():
    cont = torch.ones(6, 3)
    cont[3, 1] = 0.0  # s_3 of trajectory 1 is terminal
    w = trajectory_weights(GAMMA * cont, GAMMA)
    assert torch.all(w[3:, 1] == 0) and torch.all(w[:3, 1] > 0)
    torch.testing.assert_close(w[:, 0], GAMMA ** torch.arange(6.0))


def test_a_terminal_start_has_no_weight_at_all():
    cont = torch.ones(5, 2)
    cont[0, 0] = 0.0  # c_0 = 1 - is_terminal(start)
    w = trajectory_weights(GAMMA * cont, GAMMA)
    assert torch.all(w[:, 0] == 0) and w[0, 1] == 1


def test_weights_are_the_cumulative_discount_including_the_own_state():
    gen = torch.Generator().manual_seed(0)
    cont = torch.rand(7, 4, generator=gen)
    w = trajectory_weights(GAMMA * cont, GAMMA)
    for j in range(7):
        torch.testing.assert_close(w[j], GAMMA**j * cont[: j + 1].prod(0))


@pytest.fixture
def terminal_start_level(build_agent):
    return build_agent()[0].levels[0]


def test_terminal_starts_train_nothing(terminal_start_level):
    """Every start terminal: every weight is 0, so both losses are exactly 0."""
    level = terminal_start_level
    wm, ac = level.world_model, level.actor_critic
    start = wm.initial(8)
    traj = ac.imagine(wm, start)
    rewards = {h: torch.randn(traj.actions.shape[:2]) for h in ac.heads}
    metrics = ac.update(traj, rewards, start_cont=torch.zeros(8), mix=level.mixer.mix)
    assert metrics["actor_loss"] == 0.0
    assert all(v == 0.0 for k, v in metrics.items() if k.startswith("critic_loss"))


def test_start_continue_defaults_to_one_not_the_prediction(terminal_start_level):
    """Without start_cont every start is non-terminal: c_0 = 1 whatever the cont head says."""
    level = terminal_start_level
    wm, ac = level.world_model, level.actor_critic
    traj = ac.imagine(wm, wm.initial(6))
    traj.pred["cont"][0] = 0.0  # a prediction of "terminal" at the start must not count
    rewards = {h: torch.randn(traj.actions.shape[:2]) for h in ac.heads}
    metrics = ac.update(traj, rewards, mix=level.mixer.mix)
    assert metrics["actor_loss"] != 0.0
