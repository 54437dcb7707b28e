"""The hierarchy acting in a real (tiny) agent: spec §12.17-§12.19 and the B7/B16 fixes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hieros_lab import config
from hieros_lab.envs.fake import fake
from hieros_lab.hierarchy import agent as agent_module
from hieros_lab.trainer.driver import Driver

K = 2


def make_agent(env):
    """The gin-configured Agent (a registered part: the plain class ignores bindings)."""
    return config.configurable("Agent")(obs_space=env.observation_space,
                                        num_actions=int(env.action_space.n), seed=0,
                                        device=torch.device("cpu"))


def run(num_levels: int, steps: int, episode_length: int = 9, bindings: tuple[str, ...] = ()):
    """Drive the fake env; returns the agent, per-step level-0 latents and, per env step, the
    (level, Step) records the hierarchy produced for the replays."""
    config.parse(["debug.gin"], [f"Agent.num_levels = {num_levels}", f"Agent.k = {K}",
                                 *bindings])
    torch.manual_seed(0)
    env = fake(seed=0, image=False, episode_length=episode_length)
    agent = make_agent(env)
    driver = Driver(env, seed=0)
    latents, records, env_steps = [], [], []
    hierarchy_step = agent_module.hierarchy_step_batch

    def recording_step(*args, **kwargs):
        actions, recs = hierarchy_step(*args, **kwargs)
        records.append(list(recs[0]))  # the agent's one env stream
        return actions, recs

    def policy(step):
        action = agent.step(step)
        latents.append(agent._train_states[0].policy[0].latent.feat()[0].clone())
        env_steps.append(step)
        return action

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(agent_module, "hierarchy_step_batch", recording_step)
        while len(env_steps) < steps:
            driver.step(policy)
    assert len(records) == len(env_steps)
    return agent, latents, records, env_steps


def acting_levels(records) -> list[set[int]]:
    return [{i for i, _ in recs} for recs in records]


@pytest.mark.parametrize("num_levels", [1, 2, 3, 4])
def test_levels_act_on_the_k_power_schedule_and_fill_their_replays(num_levels):
    agent, _, records, steps = run(num_levels, 40)
    episode_step = 0
    for step, levels in zip(steps, acting_levels(records), strict=True):
        episode_step = 0 if step.is_first else episode_step + 1
        expected = {i for i in range(num_levels) if episode_step % K**i == 0 or step.is_last}
        assert levels == expected, (episode_step, levels)
    for i, replay in enumerate(agent.replays):
        assert replay.num_steps == sum(i in lv for lv in acting_levels(records))
    # Level i's ring holds capacity / K^i of its own steps (at least one window).
    base = agent.replays[0]
    for i, replay in enumerate(agent.replays):
        assert replay.capacity == max(base.length, -(-base.capacity // K**i))


def test_higher_observation_is_the_k_latest_lower_latents_oldest_first():
    _, latents, records, steps = run(2, 30)
    episode_start = 0
    for t, (step, recs) in enumerate(zip(steps, records, strict=True)):
        if step.is_first:
            episode_start = t
        for level, rec in recs:
            if level != 1:
                continue
            window = latents[max(episode_start, t - K + 1):t + 1]  # current latent included
            pad = [torch.zeros_like(latents[0])] * (K - len(window))
            assert np.allclose(rec.obs, torch.cat(pad + window).numpy(), atol=1e-6)


def test_period_reward_is_the_sum_and_boundaries_are_marked():
    _, _, records, steps = run(2, 40)
    since = 0.0
    for step, recs in zip(steps, records, strict=True):
        since = 0.0 if step.is_first else since + step.reward
        by_level = dict(recs)
        if 1 in by_level:
            rec = by_level[1]
            assert rec.reward == pytest.approx(since)
            assert (rec.is_first, rec.is_last, rec.is_terminal) == (
                step.is_first, step.is_last, step.is_terminal)
            since = 0.0
    assert any(dict(r).get(1) is not None and dict(r)[1].is_last for r in records)


def test_codes_are_one_hot_per_group_and_goals_are_the_parents_codes():
    agent, _, records, _ = run(3, 20)
    groups = agent.levels[0].autoencoder.groups
    held = {}
    for recs in records:
        by_level = dict(recs)
        for level in sorted(by_level, reverse=True):
            rec = by_level[level]
            if level > 0:
                assert np.array_equal(rec.action.reshape(groups, -1).sum(-1), np.ones(groups))
            if level < 2:
                assert np.array_equal(rec.goal, held[level + 1])
            held[level] = rec.action
    assert agent.levels[2].has_parent is False and agent.levels[1].has_parent


def test_num_levels_below_one_names_the_binding():
    config.parse(["debug.gin"], ["Agent.num_levels = 0"])
    env = fake(seed=0, image=False)
    with pytest.raises(ValueError, match="Agent.num_levels"):
        make_agent(env)


def test_level_i_trains_every_k_power_i_calls():
    agent, *_ = run(3, 120, episode_length=30)
    trained = {0: 0, 1: 0, 2: 0}
    calls = 8
    for _ in range(calls):
        for key in agent.train():
            if key.endswith("world_model/loss"):
                trained[int(key[5])] += 1
    assert trained == {0: calls, 1: calls // K, 2: calls // K**2}


def test_per_level_scope_configures_one_level_only():
    config.parse(["debug.gin"], ["Agent.num_levels = 2", f"Agent.k = {K}",
                                 "level1/WorldModel.mlp_units = 24",
                                 "level1/Level.decompress_goal = True"])
    env = fake(seed=0, image=False)
    agent = make_agent(env)
    widths = [lvl.world_model.embed_dim for lvl in agent.levels]
    assert widths == [16, 24]  # debug.gin's mlp_units = 16 everywhere else
    # level 0 has the parent; its goal input is the code unless decompressed
    assert agent.levels[0].actor_critic.condition_dim == agent.levels[0].code_dim


def test_an_acting_context_reaches_every_level_and_bounds_its_window():
    agent, _, records, _ = run(3, 30, bindings=("WorldModel.act_context = 3",))
    for i, level in enumerate(agent.levels):
        assert level.world_model.act_context == 3
        window = agent._train_states[0].policy[i].window
        assert window is not None and 1 <= len(window) <= 3, i
    assert len(agent._train_states[0].policy[0].window) == 3  # level 0 acted on all 30 steps
