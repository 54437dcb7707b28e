"""Train/eval modes (issue 7 defect 1, DESIGN §8 "Modes"): dropout only inside each part's own
loss, so imagination, acting and greedy evaluation are deterministic where they should be."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from hieros_lab import config
from hieros_lab.trainer.driver import Driver
from hieros_lab.trainer.evaluate import evaluate

DROPOUT = ["s5.dropout = 0.5"]


@pytest.fixture
def agent_with_dropout(build_agent):
    """``(levels) -> (agent, env)``: the debug agent with S5 dropout 0.5."""
    return lambda levels=1: build_agent(*DROPOUT, f"Agent.num_levels = {levels}")


def _rollout(wm, start, actions):
    states = [start]
    for action in actions:
        states.append(wm.img_step(states[-1], action, sample=False))
    return torch.stack([s.deter for s in states])


def test_world_model_is_in_train_mode_exactly_inside_its_loss(agent_with_dropout, level0_batch):
    agent, _ = agent_with_dropout()
    wm = agent.levels[0].world_model
    seen = []
    original = wm.loss

    def spy(batch):
        seen.append([m.training for m in wm.modules()])
        return original(batch)

    wm.loss = spy
    assert not any(m.training for m in agent.levels[0].modules())  # built in eval mode
    agent.levels[0].train_step(level0_batch(agent))
    assert seen and all(seen[0])
    assert not any(m.training for m in agent.levels[0].modules())  # and back after the update


def test_two_imagined_rollouts_from_one_start_are_identical_with_dropout(agent_with_dropout,
                                                                        level0_batch):
    agent, _ = agent_with_dropout()
    level = agent.levels[0]
    batch = level0_batch(agent)
    level.train_step(batch)  # modes have been switched back and forth once
    wm = level.world_model
    with torch.no_grad():
        post, prior = wm.observe(batch, sample=False)
        start = wm.start_states(post, prior)
        gen = torch.Generator().manual_seed(1)
        actions = torch.nn.functional.one_hot(
            torch.randint(0, level.num_actions, (8, start.deter.shape[0]), generator=gen),
            level.num_actions).float()
        first, second = _rollout(wm, start, actions), _rollout(wm, start, actions)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def _scores(agent, seed: int) -> tuple[float, float, list[float]]:
    """Score, length and every acting step's level-0 latent (summed) of a 2-episode evaluation."""
    driver = Driver(config.configurable("fake")(seed=5), 5)
    trace: list[float] = []
    act = agent.act

    def recording(step, state, sample):
        action, state = act(step, state, sample)
        trace.append(float(state.policy[0].latent.deter.sum()))
        return action, state

    agent.act = recording
    try:
        result, _ = evaluate(driver, agent, episodes=2, seed=seed)
    finally:
        del agent.act
    return result["score"], result["length"], trace


def test_greedy_evaluation_is_deterministic_and_dropout_free(agent_with_dropout, level0_batch):
    agent, _ = agent_with_dropout(levels=2)
    agent.levels[0].train_step(level0_batch(agent))
    twin = copy.deepcopy(agent)  # the same weights without dropout anywhere
    for level in twin.levels:
        for module in level.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in agent.levels[0].modules())
    torch.manual_seed(123)  # the training stream must not matter
    first = _scores(agent, seed=7)
    torch.manual_seed(456)
    second = _scores(agent, seed=7)
    assert first == second
    assert _scores(twin, seed=7) == first


def test_evaluation_leaves_the_training_random_stream_alone(agent_with_dropout):
    agent, _ = agent_with_dropout()
    torch.manual_seed(9)
    expected = torch.rand(3)
    torch.manual_seed(9)
    _scores(agent, seed=1)
    torch.testing.assert_close(torch.rand(3), expected)


def test_observing_twice_from_one_state_gives_one_latent(agent_with_dropout):
    agent, env = agent_with_dropout()
    level = agent.levels[0]
    obs, _ = env.reset(seed=0)
    state = level.initial_policy_state(1, torch.device("cpu"))
    obs_t = torch.as_tensor(np.asarray(obs)).unsqueeze(0)
    first = torch.tensor([True])
    a = level.observe(state, obs_t, first, sample=False).latent
    b = level.observe(state, obs_t, first, sample=False).latent
    torch.testing.assert_close(a.deter, b.deter, rtol=0, atol=0)
    torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=0)
