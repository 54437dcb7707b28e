"""ActorCritic with several critic heads, a reward mixer and a held condition (spec §4.3-§4.4)."""

from __future__ import annotations

import math

import pytest
import torch

from hieros_lab.behavior.actor_critic import ActorCritic
from hieros_lab.rewards.mixers import PerCriticMixer, WeightedSumMixer


def _learner(model, seed=0, **kwargs):
    torch.manual_seed(seed)
    defaults = dict(units=16, layers=1, horizon=5, actor_lr=1e-3, critic_lr=1e-3)
    defaults.update(kwargs)
    return ActorCritic(model.actor_input_dim, model.actions, **defaults)


def _train_step(ac, model, start, sources=None, mixer=None, condition=None):
    """One update the way a level drives it: imagine, rewards from the trajectory (``sources``,
    default the reward head), mapped to heads by ``mixer``, update mixing with ``mixer.mix``."""
    traj = ac.imagine(model, start, condition)
    rewards = sources(traj) if sources is not None else {"extrinsic": traj.pred["reward"]}
    if mixer is not None:
        rewards = mixer.head_rewards(rewards)
    return ac.update(traj, rewards, condition, mix=None if mixer is None else mixer.mix)


def _sources(traj):
    """Two sources: the reward head and a (non-constant) function of the deter."""
    return {"extrinsic": traj.pred["reward"], "subgoal": traj.states.deter[..., 0]}


def test_two_heads_train_both_critics(toy_model):
    model = toy_model()
    mixer = PerCriticMixer().bind(["extrinsic", "subgoal"])
    ac = _learner(model, heads=mixer.heads())
    assert set(ac.optimizers()) == {"actor", "critic/extrinsic", "critic/subgoal"}
    before = {h: [p.clone() for p in ac.critics[h].net.parameters()] for h in ac.heads}
    slow = {h: [p.clone() for p in ac.critics[h].slow.parameters()] for h in ac.heads}
    metrics = _train_step(ac, model, model.start(12), _sources, mixer)
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    for head in ("extrinsic", "subgoal"):
        for key in ("critic_loss", "critic_grad_norm", "return_mean", "value_mean",
                    "reward_mean", "return_scale", "advantage_mean"):
            assert f"{key}/{head}" in metrics
        assert any(not torch.equal(a, b)
                   for a, b in zip(before[head], ac.critics[head].net.parameters(), strict=True))
        for new, old, fast in zip(ac.critics[head].slow.parameters(), slow[head], before[head],
                                  strict=True):
            torch.testing.assert_close(new, 0.98 * old + 0.02 * fast)
    assert "critic_loss" not in metrics and "actor_loss" in metrics
    # The two heads saw their own rewards.
    assert metrics["reward_mean/extrinsic"] != metrics["reward_mean/subgoal"]


def test_actor_advantage_is_the_weighted_mix(toy_model):
    """Authors' mode (unnormalised): A = (A_e + 0.3 A_s) / 1.3 (spec §12.16); means are linear."""
    model = toy_model()
    mixer = PerCriticMixer({"extrinsic": 1.0, "subgoal": 0.3}).bind(["extrinsic", "subgoal"])
    ac = _learner(model, heads=mixer.heads(), normalize_advantages=False)
    m = _train_step(ac, model, model.start(16), _sources, mixer)
    expected = (m["advantage_mean/extrinsic"] + 0.3 * m["advantage_mean/subgoal"]) / 1.3
    assert m["advantage_mean"] == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert m["advantage_mean/extrinsic"] != pytest.approx(m["advantage_mean/subgoal"])


def test_weighted_sum_mixer_equals_summing_by_hand(toy_model):
    """One head on Σ w r through the mixer == the same learner fed the hand-summed reward."""
    model = toy_model()
    mixer = WeightedSumMixer({"subgoal": 0.5}).bind(["extrinsic", "subgoal"])
    (total,) = mixer.heads()

    def hand(traj):  # the one head's reward, summed by hand; updated without the mixer's mix
        return {total: traj.pred["reward"] + 0.5 * traj.states.deter[..., 0]}

    out = []
    for use_mixer in (True, False):
        ac = _learner(model, seed=3, heads=mixer.heads())
        torch.manual_seed(4)
        if use_mixer:
            out.append(_train_step(ac, model, model.start(8), _sources, mixer))
        else:
            out.append(_train_step(ac, model, model.start(8), hand))
    assert out[0] == out[1]


def test_mismatched_heads_and_rewards_are_rejected(toy_model):
    model = toy_model()
    mixer = PerCriticMixer().bind(["extrinsic", "subgoal"])
    two = _learner(model, heads=["extrinsic", "subgoal"])
    with pytest.raises(ValueError, match="need a reward mixer"):  # several heads, no mix
        _train_step(two, model, model.start(4), _sources)
    one = _learner(model)
    with pytest.raises(ValueError, match="critic heads"):  # a two-head mixer's rewards
        _train_step(one, model, model.start(4), _sources, mixer)
    with pytest.raises(ValueError, match="critic heads"):
        _train_step(one, model, model.start(4), lambda t: {"other": t.pred["reward"]})
    traj = two.imagine(model, model.start(4))
    with pytest.raises(ValueError, match="critic heads"):  # one head short
        two.update(traj, {"extrinsic": traj.pred["reward"]}, mix=mixer.mix)
    with pytest.raises(ValueError):
        _learner(model, heads=[])
    with pytest.raises(ValueError):
        _learner(model, heads=["a", "a"])


def test_condition_is_an_actor_and_critic_input(toy_model):
    model = toy_model(actions=4)
    ac = _learner(model, condition_dim=6)
    assert ac.critic.net.hidden[0].in_features == model.actor_input_dim + 6
    x = torch.randn(5, model.actor_input_dim)
    with pytest.raises(ValueError, match="condition"):
        ac.act(x)
    cond_a, cond_b = torch.zeros(5, 6), torch.full((5, 6), 3.0)
    logits_a = ac.actor.net(torch.cat([x, cond_a], -1))
    logits_b = ac.actor.net(torch.cat([x, cond_b], -1))
    assert not torch.allclose(logits_a, logits_b)  # the condition reaches the policy
    assert torch.equal(ac.act(x, sample=False, condition=cond_b),
                       torch.nn.functional.one_hot(logits_b.argmax(-1), 4).float())
    metrics = _train_step(ac, model, model.start(5), condition=cond_b)
    assert all(math.isfinite(v) for v in metrics.values())
    with pytest.raises(ValueError, match="condition"):
        ac.imagine(model, model.start(5))
    with pytest.raises(ValueError, match="condition"):
        ac.imagine(model, model.start(5), condition=torch.zeros(5, 3))
    with pytest.raises(ValueError, match="condition_dim = 0"):
        _learner(model).imagine(model, model.start(5), condition=cond_a)
    traj = ac.imagine(model, model.start(5), condition=cond_b)  # update checks it too
    with pytest.raises(ValueError, match="condition"):
        ac.update(traj, {"extrinsic": traj.pred["reward"]})
    with pytest.raises(ValueError, match="condition"):
        ac.update(traj, {"extrinsic": traj.pred["reward"]}, condition=torch.zeros(5, 3))


def test_single_head_accessors_refuse_several_heads(toy_model):
    ac = _learner(toy_model(), heads=["extrinsic", "novelty"])
    with pytest.raises(AttributeError):
        ac.critic  # noqa: B018
    assert set(ac.critics) == {"extrinsic", "novelty"} == set(ac.normalizers)
