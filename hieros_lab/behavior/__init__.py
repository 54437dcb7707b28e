"""Behaviour learning in imagination (spec §4): imagination rollouts, actor, critic, λ-returns.

``ActorCritic`` (in :mod:`hieros_lab.behavior.actor_critic`) is the learner a level owns; it
imagines H steps from detached world-model start states through the ``ImaginationModel``
protocol (:mod:`hieros_lab.behavior.imagination`) and trains an actor (a categorical or
bounded-normal ``policy``, its gradient from REINFORCE or through the dynamics: ``actor_grad``)
and a two-hot symlog critic with a slow EMA copy.
"""

from hieros_lab.behavior.actor import Actor
from hieros_lab.behavior.actor_critic import ActorCritic
from hieros_lab.behavior.critic import Critic
from hieros_lab.behavior.imagination import ImaginationModel, Trajectory, imagine
from hieros_lab.behavior.returns import (
    ReturnNormalizer,
    lambda_return,
    successor_lambda_return,
    trajectory_weights,
)

__all__ = [
    "Actor",
    "ActorCritic",
    "Critic",
    "ImaginationModel",
    "ReturnNormalizer",
    "Trajectory",
    "imagine",
    "lambda_return",
    "successor_lambda_return",
    "trajectory_weights",
]
