"""One batched policy call for several env streams (``Trainer.num_envs``) computes what each
stream's own call computes: the same actions, subgoals, records and acting memory, with the
streams' episodes (and so their level schedules and acting windows) out of phase.

Latents and actors are deterministic here (``s5.stochastic = False``, greedy actors), so the
only difference batching may make is float rounding.
"""

from __future__ import annotations

import numpy as np
import torch

from hieros_lab import config
from hieros_lab.envs.fake import fake
from hieros_lab.hierarchy.runtime import hierarchy_step, hierarchy_step_batch
from hieros_lab.trainer.driver import Driver

K, LEVELS = 2, 3
LENGTHS = (5, 7, 11)  # the streams' episode lengths: their K^i phases drift apart


def _agent():
    config.parse(["debug.gin", "sequence/s5_deterministic.gin"],
                 [f"Agent.num_levels = {LEVELS}", f"Agent.k = {K}",
                  "WorldModel.act_context = 3"])
    torch.manual_seed(0)
    env = fake(seed=0, image=False)
    return config.configurable("Agent")(obs_space=env.observation_space,
                                        num_actions=int(env.action_space.n), seed=0,
                                        device=torch.device("cpu"))


def test_a_batched_call_equals_one_call_per_stream():
    agent = _agent()
    drivers = [Driver(fake(seed=j, image=False, episode_length=n), seed=j)
               for j, n in enumerate(LENGTHS)]
    batched = [agent.policy_state() for _ in drivers]
    single = [agent.policy_state() for _ in drivers]
    acted = set()
    for _ in range(40):
        steps = [d.current() for d in drivers]
        actions, records = hierarchy_step_batch(agent.levels, batched, steps, K, False,
                                                agent.device)
        for j, step in enumerate(steps):
            action, recs = hierarchy_step(agent.levels, single[j], step, K, False, agent.device)
            assert action == actions[j]
            assert [i for i, _ in recs] == [i for i, _ in records[j]]
            acted.add(tuple(i for i, _ in recs))
            for (_, want), (_, got) in zip(recs, records[j], strict=True):
                np.testing.assert_allclose(got.obs, want.obs, rtol=1e-5, atol=1e-6)
                np.testing.assert_array_equal(got.action, want.action)
                assert (got.goal is None) == (want.goal is None)
                if got.goal is not None:
                    np.testing.assert_array_equal(got.goal, want.goal)
                assert (got.is_first, got.is_last, got.reward) == (
                    want.is_first, want.is_last, want.reward)
            for level in range(LEVELS):
                torch.testing.assert_close(batched[j].policy[level].latent.deter,
                                           single[j].policy[level].latent.deter,
                                           rtol=1e-5, atol=1e-6)
                assert len(batched[j].policy[level].window) == len(single[j].policy[level].window)
        for driver, action in zip(drivers, actions, strict=True):
            driver.advance(action)
    # the streams were out of phase: rounds where only some levels acted in some streams
    assert {(0,), (1, 0), (2, 1, 0)} <= acted
