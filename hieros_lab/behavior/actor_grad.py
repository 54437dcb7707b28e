"""The ``actor_grad`` swap point: how the actor's gradient is estimated from imagination.

* ``reinforce`` (spec §4.5, DreamerV3 for discrete actions): log π(a_j | s_j) times the detached
  advantage. Imagination runs without gradients through the world model.
* ``dynamics`` (DreamerV3's choice for continuous control, Dreamer v1/v2): the actions are
  reparameterised samples (straight-through for categoricals), imagination keeps the world
  model's graph, and the objective is the normalised λ-return itself, so its gradient flows
  back through rewards, values and latent dynamics into every earlier action. The world model
  and critics are not updated by it (their optimisers zero what reaches them).

Both add the same entropy bonus. A component says whether imagination must keep the model's
graph (``model_grad``) and turns log-probabilities and advantages into the per-step objective
the actor maximises.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from hieros_lab.registry import register


@runtime_checkable
class ActorGrad(Protocol):
    #: Imagination keeps the world model's graph and samples actions with a gradient.
    model_grad: bool

    def objective(self, log_prob: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
        """``log_prob [H-1, N]`` of the taken actions and the mixed ``advantage [H-1, N]``
        (with the dynamics' graph when ``model_grad``) -> the objective ``[H-1, N]``."""


@register("actor_grad", "reinforce")
class Reinforce:
    """Score-function gradient: log π(a) x the detached advantage (spec §4.5)."""

    model_grad = False

    def objective(self, log_prob: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
        return log_prob * advantage.detach()


@register("actor_grad", "dynamics")
class Dynamics:
    """Backpropagation through the learned dynamics: the advantage's own gradient."""

    model_grad = True

    def objective(self, log_prob: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
        return advantage
