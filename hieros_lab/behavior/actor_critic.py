"""The actor-critic learner of one level (spec §4, DESIGN §2 steps 5-7).

The level drives one behaviour update in two calls, with its own reward computation between:

1. :meth:`ActorCritic.imagine`: H states from the N detached starts with the sampling actor (no
   gradients into the world model: with REINFORCE nothing flows there, spec §4.1); the actor's
   raw outputs keep their graph for the actor loss;
2. :meth:`ActorCritic.update` on that trajectory and the level's per-head rewards ``[H, N]``:
   slow-critic EMAs (spec §4.3: at the *start* of every update), discounts c_j = γ·cont_j with
   c_0 = 1 − is_terminal(start), λ-returns in the successor alignment
   (:func:`~hieros_lab.behavior.returns.successor_lambda_return`), one critic step per head
   (two-hot NLL of its returns + slow-critic regulariser), then the actor step: REINFORCE with
   each head's advantage normalised by its own percentile return scale (paper and DreamerV3;
   ``normalize_advantages=False`` gives the authors' raw R − v, spec §9 B3), the heads'
   advantages combined by the level's ``mix`` (spec §4.4, §5.6). ``center_advantages=True``
   (off by default: not in the spec) subtracts the mixed advantage's weighted batch mean.
   With ``actor_grad = dynamics`` (:mod:`hieros_lab.behavior.actor_grad`) the rollout keeps
   the model's graph and the actor maximises that advantage through the dynamics.

Heads. By default there is one critic, ``"extrinsic"``, and this is the single-level DreamerV3
learner. A level passes the heads of its reward mixer (``heads=mixer.heads()``); each head has
a fast critic, a slow critic, a return normaliser and an optimiser. With one head, metric and
optimiser names are unsuffixed (``critic_loss``); with several they carry the head
(``critic_loss/<head>``, optimiser ``critic/<head>``).

Conditioning. ``condition_dim = K > 0`` adds a ``[N, K]`` input (a subgoal code, or the decoded
subgoal for the "decompress" ablation, spec §8) held constant over the horizon (spec §4.1) and
concatenated to the actor and critic inputs; the level decides what it is.

Starts. By default every replayed state starts an imagined rollout (DreamerV3, spec §4.1: N =
B x T). ``starts = M`` (not in the spec) imagines from M of them, drawn without replacement
each update (:meth:`start_indices`, applied by the level so that goals and c_0 stay aligned):
the behaviour update costs about M / N as much, which pays for a longer ``horizon`` at the same
cost per update.

Warm-up. ``warmup = W > 0`` (not in the spec, whose actor and critics have none, §7.1) ramps
the actor's and critics' learning rates linearly from lr / W to lr over their first W updates,
as the world model's are: an actor trained at full rate on an untrained world model's dreams can
commit to one action before that model predicts anything.

Modes. Actor and critics are in eval mode except while their own losses are computed
(:func:`~hieros_lab.nn.modes.training`); the rollout runs the actor in train mode because the
actor loss is computed from its outputs, and the world model in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import gin
import torch
from torch import nn

from hieros_lab.behavior.actor import Actor
from hieros_lab.behavior.actor_grad import ActorGrad, Reinforce
from hieros_lab.behavior.critic import Critic
from hieros_lab.behavior.imagination import ImaginationModel, Trajectory, imagine
from hieros_lab.behavior.policies import Categorical, Policy
from hieros_lab.behavior.returns import (
    ReturnNormalizer,
    successor_lambda_return,
    trajectory_weights,
)
from hieros_lab.nn import compiled
from hieros_lab.nn.distributions import TwoHotSymlog
from hieros_lab.nn.modes import training
from hieros_lab.nn.optim import Optimizer
from hieros_lab.sequence.base import Latent

#: ``{head: advantage [H-1, N]}`` -> the actor's advantage ``[H-1, N]`` (a reward mixer's ``mix``).
MixFn = Callable[[Mapping[str, torch.Tensor]], torch.Tensor]


@gin.register
class ActorCritic(nn.Module):
    """Actor (``policy``: categorical or bounded normal; gradient: ``actor_grad``) and one
    two-hot critic per head, trained in imagination.

    Shapes: B acting batch, F world-model actor input, K condition, A actions, H horizon
    (states), N starts. ``state_dict`` covers actor, critics, slow critics and return
    normalisers; the optimisers are returned by :meth:`optimizers`.
    """

    def __init__(self, input_dim: int, num_actions: int, units: int = 256, layers: int = 2,
                 horizon: int = 16, gamma: float = 0.997, lam: float = 0.95,
                 entropy: float = 3e-4, actor_lr: float = 3e-5,
                 actor_eps: float = 1e-5, actor_clip: float = 100.0, critic_lr: float = 3e-5,
                 critic_eps: float = 1e-5, critic_clip: float = 100.0,
                 slow_fraction: float = 0.02, slow_reg: float = 1.0,
                 normalize_advantages: bool = True, weight_decay: float = 0.0,
                 heads: Sequence[str] = ("extrinsic",), condition_dim: int = 0,
                 action_groups: int = 1, actor_out_scale: float = 1.0,
                 center_advantages: bool = False, starts: int | None = None,
                 warmup: int = 0, policy: Callable[[], Policy] = Categorical,
                 actor_grad: Callable[[], ActorGrad] = Reinforce) -> None:
        super().__init__()
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"ActorCritic.warmup must be an integer >= 0 (updates), got "
                             f"{warmup!r}")
        if horizon < 2:
            raise ValueError(f"horizon must be >= 2 (one return needs two states), got {horizon}")
        if starts is not None and (isinstance(starts, bool) or not isinstance(starts, int)
                                   or starts < 1):
            raise ValueError(f"ActorCritic.starts must be a positive integer or None (every "
                             f"replayed state), got {starts!r}")
        self.starts = starts
        self.heads = _check_heads(heads)
        if condition_dim < 0:
            raise ValueError(f"ActorCritic.condition_dim must be >= 0, got {condition_dim}")
        self.input_dim, self.num_actions, self.horizon = input_dim, num_actions, horizon
        self.condition_dim = condition_dim
        self.gamma, self.lam, self.entropy_scale = gamma, lam, entropy
        self.slow_fraction, self.slow_reg = slow_fraction, slow_reg
        self.normalize_advantages = normalize_advantages
        self.center_advantages = center_advantages
        width = input_dim + condition_dim
        self.actor = Actor(width, num_actions, units, layers, groups=action_groups,
                           out_scale=actor_out_scale, policy=policy())
        self.actor_grad = actor_grad()
        self.critics = nn.ModuleDict({h: Critic(width, units, layers) for h in self.heads})
        self.normalizers = nn.ModuleDict({h: ReturnNormalizer() for h in self.heads})
        self._opts = {"actor": Optimizer(self.actor.parameters(), actor_lr, actor_eps,
                                         actor_clip, warmup=warmup, weight_decay=weight_decay)}
        for head in self.heads:
            self._opts[self._name("critic", head)] = Optimizer(
                self.critics[head].net.parameters(), critic_lr, critic_eps, critic_clip,
                warmup=warmup, weight_decay=weight_decay)
        self.set_compile("off")
        self.eval()  # train mode only inside its own losses (DESIGN §8)

    @property
    def critic(self) -> Critic:
        """The critic of a single-head learner."""
        return self.critics[self._only_head()]

    @property
    def normalizer(self) -> ReturnNormalizer:
        """The return normaliser of a single-head learner."""
        return self.normalizers[self._only_head()]

    def _only_head(self) -> str:
        if len(self.heads) != 1:
            raise AttributeError(f"{len(self.heads)} heads {self.heads}: use critics[head]")
        return self.heads[0]

    def _name(self, key: str, head: str) -> str:
        """Metric/optimiser name: unsuffixed with one head, ``key/head`` with several."""
        return key if len(self.heads) == 1 else f"{key}/{head}"

    def optimizers(self) -> dict[str, Optimizer]:
        """``{"actor": ..., "critic": ...}`` (one head) or ``critic/<head>`` per head."""
        return dict(self._opts)

    def _with_condition(self, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """``x [*lead, N, F]`` -> ``[*lead, N, F+K]`` with ``condition [N, K]`` appended."""
        if condition is None:
            return x
        return torch.cat([x, condition.expand(*x.shape[:-1], condition.shape[-1])], -1)

    def _check_condition(self, condition: torch.Tensor | None, n: int) -> None:
        if self.condition_dim == 0:
            if condition is not None:
                raise ValueError("a condition was given, but ActorCritic.condition_dim = 0")
            return
        if condition is None or condition.shape != (n, self.condition_dim):
            got = None if condition is None else tuple(condition.shape)
            raise ValueError(f"condition must be [N, K] = [{n}, {self.condition_dim}], got {got}")

    @torch.no_grad()
    def act(self, actor_input: torch.Tensor, sample: bool = True,
            condition: torch.Tensor | None = None) -> torch.Tensor:
        """``actor_input [B, F]`` (+ ``condition [B, K]``) -> one-hot action ``[B, A]``
        (sample, or argmax in eval)."""
        if actor_input.shape[-1] != self.input_dim:
            raise ValueError(f"actor input width {actor_input.shape[-1]} != {self.input_dim}")
        self._check_condition(condition, actor_input.shape[0])
        return self.actor.act(self._with_condition(actor_input, condition), sample)

    def start_indices(self, n: int, device: torch.device | None = None) -> torch.Tensor | None:
        """Which of ``n`` candidate starts to imagine from: ``[M]`` distinct indices in
        ascending order, drawn with torch's RNG; None for all of them (``starts`` None or
        ``>= n``)."""
        if self.starts is None or self.starts >= n:
            return None
        return torch.randperm(n, device=device)[:self.starts].sort().values

    def imagine(self, model: ImaginationModel, start: Latent,
                condition: torch.Tensor | None = None) -> Trajectory:
        """Roll the sampling actor through ``model`` for H states from ``start [N]``.

        Returns a :class:`Trajectory` ``[H, N]`` whose ``policy_logits [H, N, A]`` carry the
        actor's graph: the actor runs with gradients inside the otherwise gradient-free rollout
        so that the REINFORCE loss reuses these forward passes instead of recomputing them.
        ``condition``: ``[N, K]`` held over the horizon (iff ``condition_dim > 0``).
        """
        if model.actor_input_dim != self.input_dim:
            raise ValueError(f"model actor_input_dim {model.actor_input_dim} != {self.input_dim}")
        condition = None if condition is None else condition.detach()
        self._check_condition(condition, start.deter.shape[0])
        # Called with gradients enabled: a compiled function called without them would return
        # logits without a graph. The model steps run without them (imagination.imagine).
        with torch.enable_grad(), training(self.actor):
            return self._rollout(model, start.detach(), condition)

    def rollout(self, model: ImaginationModel, start: Latent,
                condition: torch.Tensor | None) -> Trajectory:
        """:meth:`imagine` without its checks and modes: tensors in, a trajectory out, what
        ``Trainer.compile`` compiles (:mod:`hieros_lab.nn.compiled`). Only ``policy_logits``
        carry a graph (the actor's)."""
        logits: list[torch.Tensor] = []
        through_dynamics = self.actor_grad.model_grad

        def policy(actor_input: torch.Tensor) -> torch.Tensor:
            with torch.enable_grad():
                logits.append(self.actor.net(self._with_condition(actor_input, condition)))
                if through_dynamics:  # the action carries the actor's gradient into the model
                    return self.actor.dist(logits[-1]).rsample()
            with torch.no_grad():  # REINFORCE: the executed action carries no gradient
                return Actor.sample(self.actor.dist(logits[-1]))

        traj = imagine(model, policy, start, self.horizon, model_grad=through_dynamics)
        traj.policy_logits = torch.stack(logits)
        return traj

    def update(self, traj: Trajectory, rewards: Mapping[str, torch.Tensor],
               condition: torch.Tensor | None = None, start_cont: torch.Tensor | None = None,
               mix: MixFn | None = None) -> dict[str, float]:
        """One behaviour update on ``traj`` (from :meth:`imagine`): critic steps, then actor step.

        Args:
            traj: the imagined trajectory ``[H, N]``, with ``policy_logits``.
            rewards: ``{head: [H, N]}`` rewards *into* each imagined state, one entry per critic
                head. With the successor alignment the return of s_j starts at ``reward[j + 1]``,
                so ``reward[0]`` (the start state's) is not used.
            condition: the ``[N, K]`` input :meth:`imagine` was given (iff ``condition_dim``).
            start_cont: ``[N]`` c_0 = 1 − is_terminal of the (real) start states; None: all 1.
            mix: combines the heads' advantages (a reward mixer's ``mix``); None needs one head.
        """
        if traj.policy_logits is None:
            raise ValueError("ActorCritic.update needs a trajectory from ActorCritic.imagine")
        if mix is None and len(self.heads) > 1:
            raise ValueError(f"{len(self.heads)} critic heads need a reward mixer's mix")
        graph_rewards = rewards if self.actor_grad.model_grad else None
        rewards = self._check_rewards(traj, rewards)
        condition = None if condition is None else condition.detach()
        self._check_condition(condition, traj.actions.shape[1])
        for critic in self.critics.values():
            critic.update_slow(self.slow_fraction)
        with torch.no_grad():
            cont = traj.pred["cont"].detach().clone()
            # c_0 is known at a real start (1 - is_terminal), not predicted (DreamerV3).
            if start_cont is None:
                start_cont = torch.ones_like(cont[0])
            if start_cont.shape != cont.shape[1:]:
                raise ValueError(f"start_cont {tuple(start_cont.shape)} != [N] = "
                                 f"{tuple(cont.shape[1:])}")
            cont[0] = start_cont.to(cont.dtype)
            discount = self.gamma * cont
            weight = trajectory_weights(discount, self.gamma)[:-1]  # [H-1, N]
            inputs = self._with_condition(traj.actor_inputs, condition)  # [H, N, F+K]
        metrics: dict[str, float] = {}
        returns, values = {}, {}
        with training(self.critics):
            for head in self.heads:
                returns[head], values[head], head_metrics = self._critic_update(
                    head, inputs, rewards[head], discount, weight)
                metrics.update(head_metrics)
        graph_returns = (None if graph_rewards is None else  # differentiable through dynamics
                         self._graph_returns(traj, graph_rewards, condition, discount))
        metrics.update(self._actor_update(traj, returns, values, weight, mix, graph_returns))
        return metrics

    def _graph_returns(self, traj: Trajectory, rewards: Mapping[str, torch.Tensor],
                       condition: torch.Tensor | None, discount: torch.Tensor
                       ) -> dict[str, torch.Tensor]:
        """λ-returns ``{head: [H-1, N]}`` whose rewards and bootstrap values keep the graph of
        the imagined dynamics (``actor_grad`` through the dynamics); discounts stay detached."""
        if traj.actor_inputs_grad is None:
            raise ValueError("this actor_grad needs a trajectory imagined with the model's graph")
        inputs = self._with_condition(traj.actor_inputs_grad, condition)
        out = {}
        for head in self.heads:
            value = self.critics[head](inputs).mean()  # [H, N], graph through the states
            out[head] = successor_lambda_return(rewards[head], discount, value, self.lam)
        return out

    def _check_rewards(self, traj: Trajectory, rewards: Mapping[str, torch.Tensor]
                       ) -> dict[str, torch.Tensor]:
        """Exactly one ``[H, N]`` reward per head, detached."""
        if set(rewards) != set(self.heads):
            raise ValueError(f"rewards for {sorted(rewards)}, critic heads are {list(self.heads)}")
        need = traj.actions.shape[:2]
        for head, reward in rewards.items():
            if reward.shape != need:
                raise ValueError(f"reward for head {head!r} is {tuple(reward.shape)}, "
                                 f"need [H, N] = {tuple(need)}")
        return {head: rewards[head].detach() for head in self.heads}

    def _critic_update(self, head: str, inputs: torch.Tensor, reward: torch.Tensor,
                       discount: torch.Tensor, weight: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """λ-returns of one head and its critic step: weighted two-hot NLL of the returns plus
        the slow-critic regulariser (spec §4.3). Returns ``(R [H-1, N], v [H-1, N], metrics)``.
        """
        loss, returns, value, sums = self._critic_loss(head, inputs, reward, discount, weight)
        out = self._opts[self._name("critic", head)].step(loss)
        stats = {"critic_loss": out["loss"], "critic_grad_norm": out["grad_norm"],
                 **{k: float(v) for k, v in sums.items()}}
        return returns, value[:-1], {self._name(k, head): v for k, v in stats.items()}

    def critic_loss(self, head: str, inputs: torch.Tensor, reward: torch.Tensor,
                    discount: torch.Tensor, weight: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of :meth:`_critic_update` (tensors only, compiled by ``Trainer.compile``):
        ``(loss, R [H-1, N], v [H, N], {reward_mean, value_mean, return_mean, return_std})``."""
        critic = self.critics[head]
        # One fast-critic pass over all H states: its detached mean bootstraps the returns and
        # its first H-1 outputs are trained.
        value_dist = critic(inputs)
        value = value_dist.mean().detach()  # [H, N]
        returns = successor_lambda_return(reward, discount, value, self.lam)  # [H-1, N]
        dist = TwoHotSymlog(value_dist.logits[:-1])  # states s_0 .. s_{H-2}
        slow_target = critic.slow_value(inputs[:-1])
        nll = -dist.log_prob(returns) - self.slow_reg * dist.log_prob(slow_target)
        loss = (weight * nll).mean()
        stats = {"reward_mean": reward[1:].mean(), "value_mean": value.mean(),
                 "return_mean": returns.mean(), "return_std": returns.std()}
        return loss, returns, value, stats

    def _advantages(self, returns: dict[str, torch.Tensor], values: dict[str, torch.Tensor],
                    graph_returns: dict[str, torch.Tensor] | None = None
                    ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """Per-head advantages ``[H-1, N]``, normalised unless disabled (spec §4.4, B3); from
        ``graph_returns`` (same values, with the dynamics' graph) when given."""
        advantages, metrics = {}, {}
        for head in self.heads:
            self.normalizers[head].update(returns[head])
            _, scale = self.normalizers[head].stats()
            # The percentile offset cancels in (R - off)/s - (v - off)/s (spec §4.4).
            ret = returns[head] if graph_returns is None else graph_returns[head]
            adv = ret - values[head]
            advantages[head] = adv / scale if self.normalize_advantages else adv
            metrics[self._name("return_scale", head)] = float(scale)
            if len(self.heads) > 1:
                metrics[f"advantage_mean/{head}"] = float(advantages[head].detach().mean())
                metrics[f"advantage_std/{head}"] = float(advantages[head].detach().std())
        return advantages, metrics

    def _actor_update(self, traj: Trajectory, returns: dict[str, torch.Tensor],
                      values: dict[str, torch.Tensor], weight: torch.Tensor,
                      mix: MixFn | None,
                      graph_returns: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """The actor step: ``actor_grad``'s objective on the mixed advantage, entropy bonus."""
        advantages, metrics = self._advantages(returns, values, graph_returns)
        advantage = mix(advantages) if mix is not None else advantages[self.heads[0]]
        if self.center_advantages:
            # A lagging critic (it learns the value by bootstrapping, slowly at CPU budgets)
            # leaves R - v positive on average; a baseline that is too low makes REINFORCE
            # commit early to whatever it sampled (Chung et al. 2021). Subtracting the
            # trajectory-weighted batch mean removes that offset and keeps the ranking.
            advantage = advantage - (weight * advantage).sum() / weight.sum().clamp_min(1e-8)
        loss, ent = self._actor_loss(traj.policy_logits, traj.actions, advantage, weight)
        out = self._opts["actor"].step(loss)
        metrics.update(actor_loss=out["loss"], actor_grad_norm=out["grad_norm"],
                       actor_entropy=float(ent.detach().mean()),
                       advantage_mean=float(advantage.detach().mean()),
                       advantage_std=float(advantage.detach().std()))
        return metrics


    def actor_loss(self, policy_logits: torch.Tensor, actions: torch.Tensor,
                   advantage: torch.Tensor, weight: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """The actor loss and the entropy ``[H-1, N]`` (tensors only, compiled by
        ``Trainer.compile``) from the rollout's ``policy_logits [H, N, A]``, ``actions
        [H, N, A]``, the mixed ``advantage [H-1, N]`` (``actor_grad`` decides what of it is
        differentiated) and ``weight [H-1, N]``."""
        # π(·|s_j) for j < H-1 from the rollout's own forward passes (graph kept by imagine).
        dist = self.actor.dist(policy_logits[:-1])
        log_prob = Actor.log_prob(dist, actions[:-1])
        ent = dist.entropy()
        objective = self.actor_grad.objective(log_prob, advantage)
        loss = -(weight * (objective + self.entropy_scale * ent)).mean()
        return loss, ent

    def set_compile(self, mode: str) -> None:
        """Run :meth:`rollout`, :meth:`critic_loss` and :meth:`actor_loss` through
        ``torch.compile`` in ``mode`` (``off``: eager; :mod:`hieros_lab.nn.compiled`)."""
        self._rollout = compiled.compile_fn(self.rollout, mode)
        self._critic_loss = compiled.compile_fn(self.critic_loss, mode)
        self._actor_loss = compiled.compile_fn(self.actor_loss, mode)


def _check_heads(heads: Sequence[str]) -> tuple[str, ...]:
    """Distinct, non-empty head names usable as module keys (no '.')."""
    out = tuple(heads)
    if not out or len(set(out)) != len(out) or any(not h or "." in h for h in out):
        raise ValueError(f"ActorCritic.heads must be distinct non-empty names without '.', "
                         f"got {heads!r}")
    return out
