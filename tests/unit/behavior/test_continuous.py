"""Continuous actions (issue #11): the bounded-normal policy, the two actor gradients, and the
same behaviour test for discrete and continuous actions under both."""

from __future__ import annotations

import re

import pytest
import torch

from hieros_lab.behavior.actor_critic import ActorCritic
from hieros_lab.behavior.actor_grad import Dynamics, Reinforce
from hieros_lab.behavior.imagination import imagine
from hieros_lab.behavior.policies import BoundedNormal, Categorical


def test_bounded_normal_matches_a_normal_with_squashed_parameters():
    policy = BoundedNormal(min_std=0.1, max_std=1.0)
    raw = torch.randn(64, 6) * 3.0
    dist = policy.dist(raw, groups=1)
    mean, spread = raw.chunk(2, -1)
    assert torch.allclose(dist.mean, torch.tanh(mean))
    assert bool((dist.std >= 0.1).all() and (dist.std <= 1.0).all())
    ref = torch.distributions.Normal(dist.mean, dist.std)
    action = torch.rand(64, 3) * 2 - 1
    torch.testing.assert_close(dist.log_prob(action), ref.log_prob(action).sum(-1))
    torch.testing.assert_close(dist.entropy(), ref.entropy().sum(-1))
    torch.manual_seed(0)
    samples = torch.stack([dist.sample() for _ in range(50)])
    assert samples.abs().max() <= 1.0 and not samples.requires_grad
    torch.testing.assert_close(dist.mode(), torch.tanh(mean))
    assert policy.out_dim(3, 1) == 6
    env = policy.env_action(torch.tensor([2.0, -0.5, -3.0]))
    assert env.dtype.name == "float32" and env.tolist() == [1.0, -0.5, -1.0]


def test_reparameterised_samples_carry_the_gradient_and_stay_in_bounds():
    raw = torch.zeros(5, 4, requires_grad=True)
    dist = BoundedNormal().dist(raw, groups=1)
    torch.manual_seed(1)
    action = dist.rsample()
    assert action.detach().abs().max() <= 1.0
    action.sum().backward()
    assert raw.grad is not None and raw.grad.abs().sum() > 0


def test_bad_policy_settings_are_refused():
    with pytest.raises(ValueError, match="min_std <= max_std"):
        BoundedNormal(min_std=0.5, max_std=0.1)
    with pytest.raises(ValueError, match="no action groups"):
        BoundedNormal().out_dim(4, 2)
    with pytest.raises(ValueError, match="equal groups"):
        Categorical().out_dim(5, 2)


def _chosen(ac: ActorCritic, model, start) -> float:
    """How much the learner's greedy policy picks the rewarded action: π(good) for a
    categorical, the good dimension of the action for a bounded normal."""
    with torch.no_grad():
        traj = imagine(model, lambda x: ac.act(x, sample=False), start, 4)
        return float(traj.actions[..., model.good].mean())


@pytest.mark.parametrize("policy", [Categorical, BoundedNormal])
@pytest.mark.parametrize("grad", [Reinforce, Dynamics])
def test_learns_to_choose_the_rewarded_action(toy_model, policy, grad):
    """The behaviour test of test_actor_critic.py, for both kinds of actions and gradients: the
    toy model pays the previous action's ``good`` component (1 for the right one-hot action; up
    to 1 for a continuous action pushed to the top of its range)."""
    model = toy_model(actions=3, good=2, cont=0.9)
    torch.manual_seed(0)
    ac = ActorCritic(model.actor_input_dim, model.actions, units=16, layers=1, horizon=4,
                     actor_lr=3e-3, critic_lr=3e-3, entropy=1e-4, policy=policy,
                     actor_grad=grad)
    start = model.start(32, seed=1)
    before = _chosen(ac, model, start)
    for _ in range(80):
        traj = ac.imagine(model, start)
        ac.update(traj, {"extrinsic": traj.pred["reward"]})
    after = _chosen(ac, model, start)
    assert after > 0.8 and after > before + 0.3, (before, after)


@pytest.mark.parametrize("grad, keeps_graph", [(Reinforce, False), (Dynamics, True)])
def test_only_the_dynamics_gradient_keeps_the_models_graph(toy_model, grad, keeps_graph):
    model = toy_model()
    ac = ActorCritic(model.actor_input_dim, model.actions, units=8, layers=1, horizon=4,
                     policy=BoundedNormal, actor_grad=grad)
    traj = ac.imagine(model, model.start(6))
    assert traj.actions.requires_grad == keeps_graph
    assert (traj.actor_inputs_grad is not None) == keeps_graph
    assert not traj.actor_inputs.requires_grad  # the critics' inputs stay detached (§4.1)
    if keeps_graph:  # the reward of s_{j+1} depends on a_j, so on the actor, through the model
        params = list(ac.actor.parameters())
        grads = torch.autograd.grad(traj.pred["reward"][1:].sum(), params)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    else:
        assert not traj.pred["reward"].requires_grad


def test_the_dynamics_objective_is_the_normalised_return():
    log_prob, advantage = torch.randn(3, 4), torch.randn(3, 4, requires_grad=True)
    assert Dynamics().objective(log_prob, advantage) is advantage
    out = Reinforce().objective(log_prob, advantage)
    assert not out.requires_grad
    torch.testing.assert_close(out, log_prob * advantage.detach())


@pytest.mark.parametrize("env_file, binding, message", [
    ("envs/cartpole.gin", "ActorCritic.policy = @bounded_normal",
     "actions are discrete but ActorCritic.policy = @bounded_normal serves continuous"),
    ("envs/pendulum.gin", "ActorCritic.policy = @categorical",
     r"actions are continuous \(Box\) but ActorCritic.policy = @categorical serves discrete"),
])
def test_an_actor_that_cannot_emit_the_envs_actions_fails_at_build(env_file, binding, message):
    from hieros_lab import config
    from hieros_lab.trainer.loop import Trainer

    config.parse(["debug.gin", env_file], [binding, "Trainer.tracker = @null"])
    with pytest.raises(ValueError) as err:
        Trainer().build()
    # one line naming both (gin appends the call chain below it; the CLI prints the first line)
    assert re.search(message, str(err.value).splitlines()[0])


def test_higher_levels_keep_categorical_codes_and_reinforce_under_a_continuous_env():
    from hieros_lab import config
    from hieros_lab.trainer.loop import Trainer

    config.parse(["debug.gin", "envs/pendulum.gin", "hierarchy/levels_3.gin"],
                 ["Trainer.tracker = @null"])
    trainer = Trainer()
    trainer.build()
    policies = [type(lvl.actor_critic.actor.policy) for lvl in trainer.agent.levels]
    assert policies == [BoundedNormal, Categorical, Categorical]
    grads = [type(lvl.actor_critic.actor_grad) for lvl in trainer.agent.levels]
    assert grads == [Dynamics, Reinforce, Reinforce]  # envs/pendulum.gin scopes it to level 0
    assert trainer.agent.replays[0].continuous and not trainer.agent.replays[1].continuous


@pytest.mark.parametrize("grad", ["dynamics", "reinforce"])
def test_a_levels_rewards_carry_the_graph_only_through_the_dynamics(grad):
    """The level computes its reward sources in the grad mode its actor needs: under the
    dynamics gradient every source's reward is differentiable in the actor's actions."""
    from hieros_lab import config
    from hieros_lab.hierarchy.agent import to_torch
    from hieros_lab.trainer.loop import Trainer

    config.parse(["debug.gin", "envs/pendulum.gin", "hierarchy/levels_2.gin"],
                 ["Trainer.tracker = @null", "Agent.k = 2",
                  f"level0/ActorCritic.actor_grad = @{grad}"])
    trainer = Trainer()
    trainer.build()
    agent = trainer.agent
    while not all(len(r) >= agent.batch_size for r in agent.replays):
        trainer.drivers[0].step(agent.step)
    level = agent.levels[0]  # the continuous level, with a parent: extrinsic and subgoal rewards
    batch = to_torch(agent.replays[0].sample(agent.batch_size), agent.device)
    post, prior, _ = level.world_model.train_step(batch)
    start = level.world_model.start_states(post, prior)
    code = batch["goal"].flatten(0, 1).float()
    goal = level.autoencoder.decode(code).detach()
    traj = level.actor_critic.imagine(level.world_model, start, level.condition(code, goal))
    rewards = level.rewards(traj, goal)
    assert set(rewards) == {"extrinsic", "subgoal"}
    for key, reward in rewards.items():
        assert reward.requires_grad == (grad == "dynamics"), key
