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
from hieros_lab.config import configurable
from hieros_lab.nn.distributions import TwoHotSymlog

KEYS = {"actor_loss", "critic_loss", "actor_entropy", "return_mean", "return_std", "value_mean",
        "advantage_mean", "advantage_std", "reward_mean", "return_scale", "actor_grad_norm",
        "critic_grad_norm"}


def _learner(model, seed=0, **kwargs):
    torch.manual_seed(seed)
    defaults = dict(units=16, layers=1, horizon=5)
    defaults.update(kwargs)
    return ActorCritic(model.actor_input_dim, model.actions, **defaults)


def _train_step(ac, model, start, reward_fn=None, condition=None, start_cont=None):
    """One behaviour update the way a level drives it: imagine, rewards from the trajectory
    (default: the reward head), update. Returns ``(metrics, traj)``."""
    traj = ac.imagine(model, start, condition)
    reward = traj.pred["reward"] if reward_fn is None else reward_fn(traj)
    return ac.update(traj, {"extrinsic": reward}, condition, start_cont), traj


def test_train_step_metrics_and_parameter_changes(toy_model):
    model = toy_model()
    ac = _learner(model, actor_lr=1e-3, critic_lr=1e-3)
    actor0 = [p.clone() for p in ac.actor.parameters()]
    critic0 = [p.clone() for p in ac.critic.net.parameters()]
    metrics, _ = _train_step(ac, model, model.start(12))
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
    _train_step(ac, model, model.start(8))
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
    _train_step(ac, model, model.start(4))
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


def test_update_rewards_are_the_reward_seam(toy_model):
    model = toy_model()
    ac = _learner(model)
    traj = ac.imagine(model, model.start(6))
    assert traj.horizon == 5 and traj.policy_logits.shape == (5, 6, model.actions)
    metrics = ac.update(traj, {"extrinsic": torch.full_like(traj.pred["reward"], 2.0)})
    assert metrics["reward_mean"] == pytest.approx(2.0)
    traj = ac.imagine(model, model.start(6))
    with pytest.raises(ValueError):
        ac.update(traj, {"extrinsic": traj.pred["reward"][1:]})


def test_advantage_normalisation_divides_by_return_scale(toy_model):
    model = toy_model()
    big = lambda traj: 1e4 * traj.pred["reward"]  # noqa: E731  spread >> 100: scale > 1
    out = {}
    for flag in (True, False):
        ac = _learner(model, seed=1, normalize_advantages=flag)
        torch.manual_seed(2)
        out[flag], _ = _train_step(ac, model, model.start(32), reward_fn=big)
    scale = out[True]["return_scale"]
    assert scale > 1.0
    ratio = out[False]["advantage_std"] / out[True]["advantage_std"]
    assert ratio == pytest.approx(scale, rel=1e-4)


def test_state_dict_covers_slow_critic_and_normalizer(toy_model):
    model = toy_model()
    ac = _learner(model)
    _train_step(ac, model, model.start(8))
    state = ac.state_dict()
    assert {"normalizers.extrinsic.low", "normalizers.extrinsic.high"} <= set(state)
    assert any(k.startswith("critics.extrinsic.slow.") for k in state)
    other = _learner(model, seed=5)
    other.load_state_dict(state)
    assert float(other.normalizer.low) == float(ac.normalizer.low) != 0.0


def test_gin_binding_applies(toy_model):
    gin.bind_parameter("ActorCritic.horizon", 3)
    model = toy_model()
    # A registered part: the gin-configured wrapper applies bindings, the plain class does not.
    assert ActorCritic(model.actor_input_dim, model.actions, units=8, layers=1).horizon != 3
    ac = configurable("ActorCritic")(model.actor_input_dim, model.actions, units=8, layers=1)
    assert ac.horizon == 3
    _train_step(ac, model, model.start(4))
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
        _train_step(ac, model, start)
    after = good_prob()
    assert after > 0.8 and after > before + 0.3


def test_losses_match_the_spec_formulas(toy_model):
    """Recompute both losses from the trajectory the learner saw, with a pre-update copy."""
    model = toy_model(cont=0.8)
    ac = _learner(model, entropy=0.1)
    with torch.no_grad():  # non-zero values, and a slow critic that differs from the fast one
        ac.critic.net.out.weight.normal_(0.0, 0.3)
    ref = copy.deepcopy(ac)
    start_cont = torch.ones(16)
    start_cont[[3, 7]] = 0.0  # two terminal starts: c_0 = 0, so weight 0 along their rollouts
    metrics, traj = _train_step(ac, model, model.start(16), start_cont=start_cont)
    with torch.no_grad():
        ref.critic.update_slow(0.02)
        cont = traj.pred["cont"].clone()
        cont[0] = start_cont
        disc = ac.gamma * cont
        value = ref.critic(traj.actor_inputs).mean()
        ret = successor_lambda_return(traj.pred["reward"], disc, value, ac.lam)
        w = trajectory_weights(disc, ac.gamma)[:-1]
        assert (w[:, [3, 7]] == 0).all() and (w[:, 0] > 0).all()
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


def test_center_advantages_removes_the_mean_offset(toy_model):
    """A critic far below the returns makes every advantage positive; centring takes the
    weighted mean out of the actor's advantage, so its reported mean is ~0 (and not without).
    gamma = cont = 1 makes every trajectory weight 1, so the reported (plain) mean is the
    weighted one."""
    model = toy_model(cont=1.0)
    shifted = lambda traj: traj.pred["reward"] + 5.0  # noqa: E731  returns >> zero-init values
    means = {}
    for flag in (False, True):
        ac = _learner(model, seed=3, center_advantages=flag, normalize_advantages=False,
                      gamma=1.0)
        torch.manual_seed(4)
        out, _ = _train_step(ac, model, model.start(16), reward_fn=shifted)
        means[flag] = out["advantage_mean"]
    assert means[False] > 1.0
    assert abs(means[True]) < 0.05


def test_start_indices_draw_distinct_starts_or_all(toy_model):
    model = toy_model()
    assert _learner(model).start_indices(12) is None  # default: every replayed state
    assert _learner(model, starts=12).start_indices(12) is None
    torch.manual_seed(0)
    idx = _learner(model, starts=5).start_indices(12)
    assert idx.shape == (5,) and len(set(idx.tolist())) == 5
    assert idx.tolist() == sorted(idx.tolist()) and 0 <= idx.min() and idx.max() < 12
    torch.manual_seed(0)
    assert torch.equal(_learner(model, starts=5).start_indices(12), idx)  # torch's RNG
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="ActorCritic.starts must be a positive integer"):
            _learner(model, starts=bad)


def test_warmup_ramps_actor_and_critic_lr(toy_model):
    model = toy_model()
    ac = _learner(model, actor_lr=1e-3, critic_lr=2e-3, warmup=4)
    opts = ac.optimizers()
    for k in range(1, 6):  # update k runs at lr * min(1, k / 4)
        _train_step(ac, model, model.start(12))
        scale = min(1.0, k / 4)
        assert opts["actor"].opt.param_groups[0]["lr"] == pytest.approx(1e-3 * scale)
        assert opts["critic"].opt.param_groups[0]["lr"] == pytest.approx(2e-3 * scale)
    plain = _learner(model, actor_lr=1e-3, critic_lr=2e-3)  # default 0: full rate at once
    _train_step(plain, model, model.start(12))
    assert plain.optimizers()["actor"].opt.param_groups[0]["lr"] == 1e-3
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="ActorCritic.warmup must be an integer >= 0"):
            _learner(model, warmup=bad)
