"""Actor and critic networks (spec §4.3, §4.5, §12 items 11 and 14)."""

from __future__ import annotations

import torch

from hieros_lab.behavior.actor import Actor
from hieros_lab.behavior.critic import Critic


def test_actor_act_is_one_hot_and_mode_is_argmax():
    torch.manual_seed(0)
    actor = Actor(7, 5, units=16, layers=2)
    x = torch.randn(11, 7)
    for sample in (True, False):
        a = actor.act(x, sample)
        assert a.shape == (11, 5)
        assert ((a == 0) | (a == 1)).all() and (a.sum(-1) == 1).all()
    probs = actor(x).probs.squeeze(-2)
    assert torch.equal(actor.act(x, sample=False).argmax(-1), probs.argmax(-1))


def test_actor_output_is_not_zero_initialised():
    torch.manual_seed(0)
    actor = Actor(7, 5, units=16)
    assert actor.net.out.weight.abs().sum() > 0


def test_actor_out_scale_sets_how_far_from_uniform_it_starts():
    x = torch.randn(256, 7)
    entropies = {}
    for scale in (1.0, 0.01):
        torch.manual_seed(0)
        dist = Actor(7, 2, units=16, out_scale=scale)(x)
        entropies[scale] = float(dist.entropy().mean().detach())
    ln2 = float(torch.log(torch.tensor(2.0)))
    assert entropies[0.01] > 0.995 * ln2  # every state starts at (almost) the uniform policy
    assert entropies[1.0] < 0.95 * ln2  # the spec's scale 1: an arbitrary policy per state


def test_actor_unimix_floor():
    torch.manual_seed(0)
    actor = Actor(4, 6, units=8, layers=1, unimix=0.01)
    with torch.no_grad():
        actor.net.out.bias.copy_(torch.tensor([1e3, 0, 0, 0, 0, 0]))
    probs = actor(torch.randn(20, 4)).probs
    assert probs.min() >= 0.01 / 6 - 1e-7
    assert probs.min() < 0.01 / 6 + 1e-5  # the floor is reached: the mix is exactly 1 %


def test_actor_log_prob_matches_probs():
    torch.manual_seed(0)
    actor = Actor(4, 3, units=8)
    x = torch.randn(6, 4)
    dist = actor(x)
    a = actor.sample(dist)
    expected = (dist.probs.squeeze(-2) * a).sum(-1).log()
    torch.testing.assert_close(Actor.log_prob(dist, a), expected)


def test_critic_zero_init_and_slow_copy():
    torch.manual_seed(0)
    critic = Critic(5, units=16)
    x = torch.randn(9, 5)
    torch.testing.assert_close(critic(x).mean(), torch.zeros(9))
    assert all(not p.requires_grad for p in critic.slow.parameters())
    assert any(k.startswith("slow.") for k in critic.state_dict())


def test_critic_slow_update_is_ema():
    torch.manual_seed(0)
    critic = Critic(5, units=16)
    with torch.no_grad():
        for p in critic.net.parameters():
            p.add_(torch.randn_like(p))
    fast = [p.clone() for p in critic.net.parameters()]
    slow = [p.clone() for p in critic.slow.parameters()]
    critic.update_slow(0.02)
    for s_new, s_old, f in zip(critic.slow.parameters(), slow, fast, strict=True):
        torch.testing.assert_close(s_new, 0.98 * s_old + 0.02 * f)
    for f_new, f in zip(critic.net.parameters(), fast, strict=True):
        assert torch.equal(f_new, f)


def test_grouped_actor_emits_one_hot_codes():
    import torch

    from hieros_lab.behavior.actor import Actor

    actor = Actor(6, 64, units=8, layers=1, groups=8)
    x = torch.randn(5, 6)
    for sample in (True, False):
        code = actor.act(x, sample)
        assert code.shape == (5, 64)
        assert torch.equal(code.view(5, 8, 8).sum(-1), torch.ones(5, 8))  # one 1 per group
    dist = actor(x)
    code = actor.act(x)
    expected = (dist.log_probs * code.view(5, 8, 8)).sum((-2, -1))
    assert torch.allclose(Actor.log_prob(dist, code), expected)
    assert dist.entropy().shape == (5,)
