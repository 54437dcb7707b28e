"""``ActorCritic.starts``: a level imagines from a subset of its replayed states, and the goals
and start weights c_0 of a goal-conditioned level follow the same subset."""

from __future__ import annotations

import torch


def _imagined_starts(level) -> list[int]:
    """Patch ``level``'s imagination to record how many starts each call gets."""
    seen, imagine = [], level.actor_critic.imagine

    def recording(model, start, condition=None):
        seen.append(start.deter.shape[0])
        if condition is not None:  # the goal input is aligned with the starts
            assert condition.shape[0] == start.deter.shape[0]
        return imagine(model, start, condition)

    level.actor_critic.imagine = recording
    return seen


def test_a_goal_conditioned_level_imagines_from_the_chosen_starts(build_agent, level0_batch):
    agent, _ = build_agent("Agent.num_levels = 2", "level0/ActorCritic.starts = 5")
    level = agent.levels[0]
    batch = level0_batch(agent)
    seen = _imagined_starts(level)
    torch.manual_seed(0)
    metrics = level.train_step(batch)
    assert seen == [5]
    assert metrics["rewards/subgoal_mean"] == metrics["rewards/subgoal_mean"]  # not NaN


def test_without_starts_every_replayed_state_starts_a_rollout(build_agent, level0_batch):
    agent, _ = build_agent("Agent.num_levels = 2")
    level = agent.levels[0]
    batch = level0_batch(agent)
    seen = _imagined_starts(level)
    level.train_step(batch)
    assert seen == [batch["is_first"].numel()]  # B x T
