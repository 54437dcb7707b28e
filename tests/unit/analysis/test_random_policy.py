"""The random-policy baseline: the expected score of uniform actions, reproducible per seed."""

from __future__ import annotations

from hieros_lab.analysis.random_policy import num_actions, random_scores

FAKE = ["debug.gin"]  # fake env: 3 actions, 20-step episodes, +1 when the action matches


def test_random_policy_scores_what_uniform_actions_earn_on_the_fake_env():
    scores = random_scores(FAKE, ["Trainer.eval_episodes = 60"], seeds=[0, 1])
    expected = 19 / 3  # 19 rewarded steps per episode (not the reset), 1/3 chance each
    for score in scores.values():
        assert abs(score - expected) < 0.8, scores  # 60 episodes: std of the mean ~0.27


def test_the_same_seed_gives_the_same_baseline_and_another_seed_another():
    a = random_scores(FAKE, ["Trainer.eval_episodes = 5"], seeds=[3, 4])
    b = random_scores(FAKE, ["Trainer.eval_episodes = 5"], seeds=[3, 4])
    assert a == b and a[3] != a[4]


def test_num_actions_is_the_configured_envs_action_count():
    assert num_actions(["debug.gin", "envs/cartpole.gin"]) == 2
    assert num_actions(["debug.gin", "envs/pinpad.gin"], ["pinpad.room = 'small'"]) == 5
