"""Every part is built at build time in its level's scope (issue 7 defect 4): per-level
bindings of the abstraction and the replay take effect in that level only, the per-level
capacity rule is a bindable parameter, and the reward sources each level keeps follow the
sources' declared needs and level ranges (defect 6)."""

from __future__ import annotations

import pytest

from hieros_lab import config
from hieros_lab.hierarchy.abstraction import period_mean, period_sum


@pytest.fixture
def agent(build_agent):
    """``(*bindings, files=...) -> Agent`` built through gin on the fake env."""
    return lambda *bindings, files=("debug.gin",): build_agent(*bindings, files=files)[0]


def test_abstractions_exist_before_acting_and_take_their_levels_bindings(agent):
    agent = agent("Agent.num_levels = 3", "level2/Abstraction.period_reward = @period_mean")
    assert [a.period_reward.__name__ for a in agent.abstractions] == [period_sum.__name__,
                                                                       period_mean.__name__]
    operative = config.operative_config()
    assert "level2/Abstraction.period_reward = @period_mean" in operative
    assert "level1/Abstraction.period_reward = @period_sum" in operative


def test_scoped_intermediate_binding_changes_one_levels_observation_width(agent):
    agent = agent("Agent.num_levels = 3", "level1/Abstraction.intermediate = False")
    width0 = agent.levels[0].encoding_dim
    assert agent.replays[1].obs_space.shape == (width0,)
    assert agent.replays[2].obs_space.shape == (agent.levels[1].encoding_dim * agent.k,)


def test_per_level_capacity_follows_the_bindable_rule(agent):
    agent = agent("Agent.num_levels = 3", "ReplayBuffer.capacity = 1000")
    assert [r.capacity for r in agent.replays] == [1000, 250, 63]
    assert agent.derived_params()["derived/level2/replay_capacity"] == "63"


def test_the_run_records_each_levels_reward_weights_as_resolved(agent):
    """``weights=None`` resolves to the paper's weights, and a mixer that ignores a source pays
    it 0: the run's params say which numbers it used, not ``None``."""
    params = agent("Agent.num_levels = 2", "level1/weighted_sum.weights = {'novelty': 0.5}"
                   ).derived_params()
    assert params["derived/level0/reward_weights"] == "extrinsic=1,subgoal=0.3"
    assert params["derived/level1/reward_weights"] == "extrinsic=1,novelty=0.5"
    params = agent("Agent.num_levels = 2", "Level.reward_mixer = @extrinsic_only"
                   ).derived_params()
    assert params["derived/level0/reward_weights"] == "extrinsic=1,subgoal=0"


def test_a_level_scoped_capacity_binding_is_not_overridden(agent):
    agent = agent("Agent.num_levels = 2", "level1/ReplayBuffer.capacity = 777",
                   "level1/ReplayBuffer.scale_by_period = False")
    assert agent.replays[1].capacity == 777 and agent.replays[0].capacity == 10000


def test_passing_a_structural_argument_as_binding_is_an_error():
    """The agent passes ``period``: a binding for it could never take effect."""
    config.parse(["debug.gin"], ["ReplayBuffer.period = 3"])
    with pytest.raises(config.ConfigError, match="ReplayBuffer.period"):
        from hieros_lab.trainer.loop import Trainer

        Trainer().build()
        config.check_unused_bindings([config.resolve_gin_file("debug.gin")],
                                     ["ReplayBuffer.period = 3"])


def _sources(agent) -> list[list[str]]:
    return [[s.key for s in level.sources] for level in agent.levels]


def test_paper_preset_has_extrinsic_reward_only_at_level_0(agent):
    agent = agent("Trainer.env = @fake",
                   files=("presets/hieros.gin", "scale/tiny.gin", "envs/fake.gin"))
    assert _sources(agent) == [["extrinsic", "subgoal"], ["subgoal", "novelty"], ["novelty"]]


def test_official_preset_gives_every_level_its_period_reward(agent):
    agent = agent(files=("presets/hieros_official.gin", "scale/tiny.gin", "envs/fake.gin"))
    assert _sources(agent) == [["extrinsic", "subgoal"], ["extrinsic", "subgoal", "novelty"],
                               ["extrinsic", "novelty"]]
    assert [lvl.actor_critic.heads for lvl in agent.levels] == [
        ("extrinsic", "subgoal"), ("extrinsic", "subgoal", "novelty"), ("extrinsic", "novelty")]


def test_a_level_without_any_source_is_an_error_naming_the_slot(agent):
    with pytest.raises(ValueError, match="Level.sources: no reward source is active at level 1"):
        agent("Agent.num_levels = 2", "extrinsic.max_level = 0", "novelty.min_level = 5")


def test_reward_sources_are_logged_per_level(agent, level0_batch):
    agent = agent("Agent.num_levels = 2")
    metrics = agent.levels[0].train_step(level0_batch(agent))
    for key in ("extrinsic", "subgoal"):
        assert f"rewards/{key}_mean" in metrics and f"rewards/{key}_std" in metrics
        assert metrics[f"rewards/{key}_std"] >= 0.0
    assert "rewards/novelty_mean" not in metrics  # novelty only from level 1
