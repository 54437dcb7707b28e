"""The actor-critic learner (spec §4, §12 items 12-14)."""

from __future__ import annotations

import copy
import math

import gin
import pytest
import torch

from hieros_lab.behavior.actor import Actor
from hieros_lab.behavior.actor_critic import ActorCritic
from hieros_lab.behavior.imagination import imagine
from hieros_lab.behavior.returns import successor_lambda_return, trajectory_weights
from hieros_lab.nn.distributions import TwoHotSymlog

KEYS = {"actor_loss", "critic_loss", "actor_entropy", "return_mean", "return_std", "value_mean",
        "advantage_mean", "advantage_std", "reward_mean", "return_scale", "actor_grad_norm",
        "critic_grad_norm"}


def _learner(model, seed=0, **kwargs):
    torch.manual_seed(seed)
    defaults = dict(units=16, layers=1, horizon=5)
    defaults.update(kwargs)
    return ActorCritic(model.actor_input_dim, model.actions, **defaults)


def test_train_step_metrics_and_parameter_changes(toy_model):
    model = toy_model()
    ac = _learner(model, actor_lr=1e-3, critic_lr=1e-3)
    actor0 = [p.clone() for p in ac.actor.parameters()]
    critic0 = [p.clone() for p in ac.critic.net.parameters()]
    metrics = ac.train_step(model, model.start(12))
    assert set(metrics) == KEYS
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    assert model.calls == 4
    assert any(not torch.equal(a, b) for a, b in zip(actor0, ac.actor.parameters(), strict=True))
    assert any(not torch.equal(a, b)
               for a, b in zip(critic0, ac.critic.net.parameters(), strict=True))


def test_slow_critic_ema_uses_fast_weights_before_the_update(toy_model):
    model = toy_model()
    ac = _learner(model, critic_lr=1e-2)
    with torch.no_grad():  # make fast and slow differ so the mix is observable
        for p in ac.critic.net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    fast = [p.clone() for p in ac.critic.net.parameters()]
    slow = [p.clone() for p in ac.critic.slow.parameters()]
    ac.train_step(model, model.start(8))
    for new, old, f in zip(ac.critic.slow.parameters(), slow, fast, strict=True):
        torch.testing.assert_close(new, 0.98 * old + 0.02 * f)
    assert any(not torch.equal(f, p) for f, p in zip(fast, ac.critic.net.parameters(), strict=True))


def test_critic_steps_before_actor(toy_model):
    model = toy_model()
    ac = _learner(model)
    order = []
    for name, opt in ac.optimizers().items():
        step = opt.step
        opt.step = lambda loss, name=name, step=step, **kw: order.append(name) or step(loss, **kw)
    ac.train_step(model, model.start(4))
    assert order == ["critic", "actor"]


def test_act_one_hot_and_mode_is_argmax(toy_model):
    model = toy_model(actions=4)
    ac = _learner(model)
    x = torch.randn(9, model.actor_input_dim)
    for sample in (True, False):
        a = ac.act(x, sample)
        assert a.shape == (9, 4) and (a.sum(-1) == 1).all() and not a.requires_grad
    logits = ac.actor.net(x)
    assert torch.equal(ac.act(x, sample=False).argmax(-1), logits.argmax(-1))


def test_reward_fn_is_the_reward_seam(toy_model):
    model = toy_model()
    ac = _learner(model)
    seen = []

    def reward_fn(traj):
        seen.append(traj.horizon)
        return torch.full_like(traj.pred["reward"], 2.0)

    metrics = ac.train_step(model, model.start(6), reward_fn=reward_fn)
    assert seen == [5] and metrics["reward_mean"] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        ac.train_step(model, model.start(6), reward_fn=lambda traj: traj.pred["reward"][1:])


def test_advantage_normalisation_divides_by_return_scale(toy_model):
    model = toy_model()
    big = lambda traj: 1e4 * traj.pred["reward"]  # noqa: E731  spread >> 100: scale > 1
    out = {}
    for flag in (True, False):
        ac = _learner(model, seed=1, normalize_advantages=flag)
        torch.manual_seed(2)
        out[flag] = ac.train_step(model, model.start(32), reward_fn=big)
    scale = out[True]["return_scale"]
    assert scale > 1.0
    ratio = out[False]["advantage_std"] / out[True]["advantage_std"]
    assert ratio == pytest.approx(scale, rel=1e-4)


def test_state_dict_covers_slow_critic_and_normalizer(toy_model):
    model = toy_model()
    ac = _learner(model)
    ac.train_step(model, model.start(8))
    state = ac.state_dict()
    assert {"normalizers.extrinsic.low", "normalizers.extrinsic.high"} <= set(state)
    assert any(k.startswith("critics.extrinsic.slow.") for k in state)
    other = _learner(model, seed=5)
    other.load_state_dict(state)
    assert float(other.normalizer.low) == float(ac.normalizer.low) != 0.0


def test_gin_binding_applies(toy_model):
    gin.bind_parameter("ActorCritic.horizon", 3)
    model = toy_model()
    ac = ActorCritic(model.actor_input_dim, model.actions, units=8, layers=1)
    assert ac.horizon == 3
    ac.train_step(model, model.start(4))
    assert model.calls == 2


def test_learns_to_prefer_the_rewarded_action(toy_model):
    model = toy_model(actions=3, good=2, cont=0.9)
    ac = _learner(model, seed=0, actor_lr=3e-3, critic_lr=3e-3, horizon=4, entropy=1e-4)
    start = model.start(32, seed=1)

    def good_prob():  # mean π(good | s) over the states the policy visits
        with torch.no_grad():
            traj = imagine(model, ac.act, start, 4)
            return float(ac.actor(traj.actor_inputs).probs[..., 0, 2].mean())

    before = good_prob()
    for _ in range(80):
        ac.train_step(model, start)
    after = good_prob()
    assert after > 0.8 and after > before + 0.3


def test_losses_match_the_spec_formulas(toy_model):
    """Recompute both losses from the trajectory the learner saw, with a pre-update copy."""
    model = toy_model(cont=0.8)
    ac = _learner(model, entropy=0.1)
    with torch.no_grad():  # non-zero values, and a slow critic that differs from the fast one
        ac.critic.net.out.weight.normal_(0.0, 0.3)
    ref = copy.deepcopy(ac)
    seen = []
    metrics = ac.train_step(model, model.start(16),
                            reward_fn=lambda traj: seen.append(traj) or traj.pred["reward"])
    traj = seen[0]
    with torch.no_grad():
        ref.critic.update_slow(0.02)
        disc = ac.gamma * traj.pred["cont"]
        value = ref.critic(traj.actor_inputs).mean()
        ret = successor_lambda_return(traj.pred["reward"], disc, value, ac.lam)
        w = trajectory_weights(disc)[:-1]
        vdist = TwoHotSymlog(ref.critic.net(traj.actor_inputs[:-1]))
        slow = ref.critic.slow_value(traj.actor_inputs[:-1])
        critic_loss = (w * (-vdist.log_prob(ret) - vdist.log_prob(slow))).mean()
        ref.normalizer.update(ret)
        adv = (ret - value[:-1]) / ref.normalizer.stats()[1]
        dist = ref.actor(traj.actor_inputs[:-1])
        logp = Actor.log_prob(dist, traj.actions[:-1])
        actor_loss = -(w * (logp * adv + 0.1 * dist.entropy())).mean()
    assert metrics["critic_loss"] == pytest.approx(float(critic_loss), rel=1e-5)
    assert metrics["actor_loss"] == pytest.approx(float(actor_loss), rel=1e-4, abs=1e-7)
    assert metrics["actor_entropy"] == pytest.approx(float(dist.entropy().mean()), rel=1e-5)
