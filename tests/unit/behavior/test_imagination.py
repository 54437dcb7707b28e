"""Imagination rollouts (spec §4.1): shapes, batching over N, detached actor inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hieros_lab.behavior.imagination import ImaginationModel, imagine


def _fixed_policy(num_actions: int):
    """Deterministic policy: action = argmax of the first ``num_actions`` input features."""
    def policy(inp: torch.Tensor) -> torch.Tensor:
        return F.one_hot(inp[:, :num_actions].argmax(-1), num_actions).float()
    return policy


def test_toy_double_satisfies_protocol(toy_model):
    assert isinstance(toy_model(), ImaginationModel)


@pytest.mark.parametrize("n", [1, 37])
def test_img_step_called_horizon_minus_one_times_regardless_of_n(toy_model, n):
    model = toy_model()
    calls = []
    imagine(model, lambda x: calls.append(x.shape[0]) or _fixed_policy(3)(x), model.start(n), 6)
    assert model.calls == 5
    assert calls == [n] * 6  # one batched policy call per state


def test_trajectory_shapes_and_start(toy_model):
    model = toy_model(actions=4)
    start = model.start(10)
    traj = imagine(model, _fixed_policy(4), start, 5)
    assert traj.horizon == 5
    assert traj.actor_inputs.shape == (5, 10, model.actor_input_dim)
    assert traj.actions.shape == (5, 10, 4)
    assert traj.states.deter.shape == (5, 10, 8) and traj.states.logits.shape == (5, 10, 2, 3)
    # a model's memory stays inside the rollout (Mamba's is 2,432 floats a layer at small sizes)
    assert traj.states.memory.shape == (5, 10, 0)
    for key in ("reward", "cont", "entropy"):
        assert traj.pred[key].shape == (5, 10)
    assert torch.equal(traj.states.deter[0], start.deter)
    assert torch.equal(traj.states.stoch[0], start.stoch)
    # Each state's prediction belongs to that state: reward of s_{j+1} = [a_j == good].
    torch.testing.assert_close(traj.pred["reward"][1:], traj.actions[:-1, :, model.good])


def test_batched_rollout_equals_per_start_rollouts(toy_model):
    model = toy_model()
    start = model.start(6, seed=3)
    full = imagine(model, _fixed_policy(3), start, 4)
    for i in range(6):
        one = imagine(model, _fixed_policy(3), start.map(lambda t, i=i: t[i:i + 1]), 4)
        torch.testing.assert_close(one.actor_inputs[:, 0], full.actor_inputs[:, i])
        torch.testing.assert_close(one.actions[:, 0], full.actions[:, i])


def test_actor_inputs_are_detached(toy_model):
    model = toy_model()
    model.requires_grad_(True)
    seen = []

    def policy(inp):
        seen.append(inp.requires_grad)
        return _fixed_policy(3)(inp)

    traj = imagine(model, policy, model.start(4), 3, model_grad=True)
    assert traj.states.deter.requires_grad  # the model graph exists ...
    assert seen == [False] * 3 and not traj.actor_inputs.requires_grad  # ... the actor's input not


def test_the_model_runs_without_gradients_by_default(toy_model):
    """A caller with gradients enabled (the compiled rollout) gets no model graph: only the
    policy's own outputs may carry one."""
    model = toy_model()
    model.requires_grad_(True)
    weight = torch.ones(1, requires_grad=True)
    logits = []

    def policy(inp):
        logits.append(inp.sum(-1) * weight)
        return _fixed_policy(3)(inp)

    traj = imagine(model, policy, model.start(4), 3)
    assert not traj.states.deter.requires_grad and not traj.pred["reward"].requires_grad
    assert all(t.requires_grad for t in logits)


def test_horizon_must_be_positive(toy_model):
    model = toy_model()
    with pytest.raises(ValueError):
        imagine(model, _fixed_policy(3), model.start(2), 0)
