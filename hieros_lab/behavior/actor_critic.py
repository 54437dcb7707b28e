"""The actor-critic learner of one level (spec §4, DESIGN §2 steps 5-7).

One :meth:`ActorCritic.train_step`:

1. slow critic EMA (spec §4.3: at the *start* of every update);
2. imagine H states from the N detached starts with the sampling actor (no gradients: with
   REINFORCE nothing flows into the world model, spec §4.1);
3. per-state rewards from ``reward_fn(traj)`` (default: the extrinsic reward head; reward mixers
   plug in here), discounts c_j = γ·cont_j, λ-returns in the successor alignment
   (:func:`~hieros_lab.behavior.returns.successor_lambda_return`);
4. critic step (two-hot NLL of the returns + slow-critic regulariser), then
5. actor step: REINFORCE with advantages normalised by the percentile return scale (paper and
   DreamerV3; ``normalize_advantages=False`` gives the authors' raw R − v, spec §9 B3).
"""

from __future__ import annotations

from collections.abc import Callable

import gin
import torch
from torch import nn

from hieros_lab.behavior.actor import Actor
from hieros_lab.behavior.critic import Critic
from hieros_lab.behavior.imagination import ImaginationModel, Trajectory, imagine
from hieros_lab.behavior.returns import (
    ReturnNormalizer,
    successor_lambda_return,
    trajectory_weights,
)
from hieros_lab.nn.distributions import TwoHotSymlog
from hieros_lab.nn.optim import Optimizer
from hieros_lab.sequence.base import Latent

RewardFn = Callable[[Trajectory], torch.Tensor]


def extrinsic_reward(traj: Trajectory) -> torch.Tensor:
    """Default reward: the reward head's prediction at every imagined state, ``[H, N]``."""
    return traj.pred["reward"]


@gin.configurable
class ActorCritic(nn.Module):
    """Discrete-action actor and two-hot critic trained in imagination.

    Shapes: B acting batch, F actor input, A actions, H horizon (states), N starts.
    ``state_dict`` covers actor, critic, slow critic and the return normaliser; the optimisers
    are returned by :meth:`optimizers`.
    """

    def __init__(self, input_dim: int, num_actions: int, units: int = 256, layers: int = 2,
                 horizon: int = 16, gamma: float = 0.997, lam: float = 0.95,
                 entropy: float = 3e-4, unimix: float = 0.01, actor_lr: float = 3e-5,
                 actor_eps: float = 1e-5, actor_clip: float = 100.0, critic_lr: float = 3e-5,
                 critic_eps: float = 1e-5, critic_clip: float = 100.0,
                 slow_fraction: float = 0.02, slow_reg: float = 1.0,
                 normalize_advantages: bool = True, weight_decay: float = 0.0) -> None:
        super().__init__()
        if horizon < 2:
            raise ValueError(f"horizon must be >= 2 (one return needs two states), got {horizon}")
        self.input_dim, self.num_actions, self.horizon = input_dim, num_actions, horizon
        self.gamma, self.lam, self.entropy_scale = gamma, lam, entropy
        self.slow_fraction, self.slow_reg = slow_fraction, slow_reg
        self.normalize_advantages = normalize_advantages
        self.actor = Actor(input_dim, num_actions, units, layers, unimix)
        self.critic = Critic(input_dim, units, layers)
        self.normalizer = ReturnNormalizer()
        self._opts = {
            "actor": Optimizer(self.actor.parameters(), actor_lr, actor_eps, actor_clip,
                               weight_decay=weight_decay),
            "critic": Optimizer(self.critic.net.parameters(), critic_lr, critic_eps, critic_clip,
                                weight_decay=weight_decay),
        }

    def optimizers(self) -> dict[str, Optimizer]:
        """``{"actor": ..., "critic": ...}`` for checkpointing."""
        return dict(self._opts)

    @torch.no_grad()
    def act(self, actor_input: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """``actor_input [B, F]`` -> one-hot action ``[B, A]`` (sample, or argmax in eval)."""
        if actor_input.shape[-1] != self.input_dim:
            raise ValueError(f"actor input width {actor_input.shape[-1]} != {self.input_dim}")
        return self.actor.act(actor_input, sample)

    def train_step(self, model: ImaginationModel, start: Latent,
                   reward_fn: RewardFn | None = None) -> dict[str, float]:
        """One behaviour update (critic step, then actor step); returns float metrics.

        Args:
            model: the world model, seen only through :class:`ImaginationModel`.
            start: ``Latent [N]`` imagination starts (detached here anyway).
            reward_fn: ``Trajectory -> [H, N]`` reward *into* each imagined state s_j (the hook
                for reward mixers); ``None`` = the extrinsic reward head. With the successor
                alignment the return of s_j starts at ``reward[j + 1]``, so ``reward[0]`` (the
                start state's) is not used.
        """
        if model.actor_input_dim != self.input_dim:
            raise ValueError(f"model actor_input_dim {model.actor_input_dim} != {self.input_dim}")
        self.critic.update_slow(self.slow_fraction)
        with torch.no_grad():
            traj, actor_logits = self._imagine(model, start.detach())
            reward = (reward_fn or extrinsic_reward)(traj).detach()
            if reward.shape != traj.actions.shape[:2]:
                raise ValueError(f"reward_fn gave {tuple(reward.shape)}, "
                                 f"need {tuple(traj.actions.shape[:2])}")
            discount = self.gamma * traj.pred["cont"]
            weight = trajectory_weights(discount)[:-1]  # [H-1, N]
        # One fast-critic pass over all H states: its detached mean bootstraps the returns and
        # its first H-1 outputs are trained.
        value_dist = self.critic(traj.actor_inputs)
        value = value_dist.mean().detach()  # [H, N]
        returns = successor_lambda_return(reward, discount, value, self.lam)  # [H-1, N]
        metrics = self._critic_update(traj, value_dist, returns, weight)
        metrics.update(self._actor_update(traj, actor_logits, returns, value[:-1], weight))
        metrics.update(reward_mean=float(reward[1:].mean()), value_mean=float(value.mean()),
                       return_mean=float(returns.mean()), return_std=float(returns.std()))
        return metrics

    def _imagine(self, model: ImaginationModel,
                 start: Latent) -> tuple[Trajectory, list[torch.Tensor]]:
        """Rollout with the sampling actor; also returns its raw logits, H x ``[N, A]``.

        The actor runs with gradients inside the (otherwise gradient-free) rollout so that the
        REINFORCE loss reuses these forward passes instead of recomputing them.
        """
        logits: list[torch.Tensor] = []

        def policy(actor_input: torch.Tensor) -> torch.Tensor:
            with torch.enable_grad():
                logits.append(self.actor.net(actor_input))
            return Actor.sample(self.actor.dist(logits[-1]))

        traj = imagine(model, policy, start, self.horizon)
        return traj, logits

    def _critic_update(self, traj: Trajectory, value_dist: TwoHotSymlog, returns: torch.Tensor,
                       weight: torch.Tensor) -> dict[str, float]:
        """Weighted two-hot NLL of the λ-returns plus the slow-critic regulariser (spec §4.3)."""
        inputs = traj.actor_inputs[:-1]
        dist = TwoHotSymlog(value_dist.logits[:-1])  # states s_0 .. s_{H-2}
        slow_target = self.critic.slow_value(inputs)
        nll = -dist.log_prob(returns) - self.slow_reg * dist.log_prob(slow_target)
        loss = (weight * nll).mean()
        out = self._opts["critic"].step(loss)
        return {"critic_loss": out["loss"], "critic_grad_norm": out["grad_norm"]}

    def _actor_update(self, traj: Trajectory, logits: list[torch.Tensor], returns: torch.Tensor,
                      value: torch.Tensor, weight: torch.Tensor) -> dict[str, float]:
        """REINFORCE with entropy bonus (spec §4.5); advantages normalised unless disabled."""
        self.normalizer.update(returns)
        _, scale = self.normalizer.stats()
        # The percentile offset cancels in (R - off)/s - (v - off)/s (spec §4.4).
        advantage = (returns - value) / scale if self.normalize_advantages else returns - value
        # π(·|s_j) for j < H-1 from the rollout's own forward passes (stacked with grad on).
        dist = self.actor.dist(torch.stack(logits[:-1]))
        log_prob = Actor.log_prob(dist, traj.actions[:-1])
        ent = dist.entropy()
        loss = -(weight * (log_prob * advantage.detach() + self.entropy_scale * ent)).mean()
        out = self._opts["actor"].step(loss)
        return {"actor_loss": out["loss"], "actor_grad_norm": out["grad_norm"],
                "actor_entropy": float(ent.detach().mean()), "return_scale": float(scale),
                "advantage_mean": float(advantage.mean()), "advantage_std": float(advantage.std())}
