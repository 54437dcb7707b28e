"""Imagination rollouts (spec §4.1) and the world-model interface they need.

``imagine`` rolls the policy through the world model for H states from all N starts at once:
the only Python loop is over the horizon, every step is one batched ``img_step`` over ``[N]``.
Each state's prediction and actor input is computed exactly once, here, and kept in the
returned :class:`Trajectory` for critics, reward mixers and the actor loss.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from hieros_lab.sequence.base import Latent


@runtime_checkable
class ImaginationModel(Protocol):
    """What imagination needs from a world model (N = flattened starts, A = actions)."""

    @property
    def actor_input_dim(self) -> int:
        """F, the width of :meth:`actor_input`."""

    def img_step(self, state: Latent, prev_action: torch.Tensor, sample: bool = True) -> Latent:
        """One prior step: ``state [N]``, one-hot ``prev_action [N, A]`` -> next state ``[N]``."""

    def predict(self, latent: Latent) -> dict[str, torch.Tensor]:
        """Head outputs at ``latent [*lead]``: at least ``reward``, ``cont`` (continue
        probability) and ``entropy`` (of the latent's distribution), each ``[*lead]``."""

    def actor_input(self, latent: Latent, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """``[*lead, F]`` input of actor and critic built from a state and its predictions."""


@dataclass
class Trajectory:
    """An imagined rollout of H states from N starts.

    Attributes:
        states: :class:`Latent` with leading dims ``[H, N]``; ``states[0]`` is the start.
            Its ``memory`` is empty (``[H, N, 0]``): what a sequence model carries between
            steps stays inside the rollout.
        actor_inputs: ``[H, N, F]`` detached actor/critic inputs of each state.
        actions: ``[H, N, A]`` one-hot a_j chosen at s_j (a_{H-1} is never executed).
        pred: ``predict`` of each state, every entry ``[H, N, ...]``.
        policy_logits: ``[H, N, A']`` the raw actor outputs that chose the actions, with the
            actor's autograd graph (the actor loss reuses them), or None.
        actor_inputs_grad: ``[H, N, F]`` the actor inputs with the model's graph, when the
            rollout kept it (``model_grad``: a learner that backpropagates through the
            dynamics evaluates its values there); None otherwise.
    """

    states: Latent
    actor_inputs: torch.Tensor
    actions: torch.Tensor
    pred: dict[str, torch.Tensor]
    policy_logits: torch.Tensor | None = None
    actor_inputs_grad: torch.Tensor | None = None

    @property
    def horizon(self) -> int:
        return self.actions.shape[0]


def imagine(model: ImaginationModel, policy: Callable[[torch.Tensor], torch.Tensor],
            start: Latent, horizon: int, sample: bool = True,
            model_grad: bool = False) -> Trajectory:
    """Roll ``policy`` through ``model`` for ``horizon`` states from every start at once.

    Args:
        model: the world model (``img_step``/``predict``/``actor_input``).
        policy: ``actor_input [N, F]`` -> action ``[N, A]`` (with a gradient when the learner
            backpropagates through the dynamics).
        start: ``Latent [N]``, s_0 (callers pass detached world-model states).
        horizon: H ≥ 1, number of states s_0 .. s_{H-1}; ``img_step`` runs H − 1 times.
        sample: sample the imagined latents (spec §4.1 ``imag_sample``) or take modes.
        model_grad: run the model steps in the caller's grad mode (a learner that backpropagates
            through the dynamics); by default they run without gradients in any mode, so a
            policy can keep its own graph while the caller has gradients enabled (a compiled
            rollout keeps a graph only for outputs of a call made with them enabled).
    Returns:
        :class:`Trajectory` with leading dims ``[H, N]``.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    n = start.deter.shape[0]
    states, inputs, actions, preds, graphs = [], [], [], [], []
    model_mode = contextlib.nullcontext if model_grad else torch.no_grad
    state = start
    for j in range(horizon):
        with model_mode():
            pred = model.predict(state)
            # Detached actor input (spec §4.1 behavior_stop_grad): no actor gradient reaches
            # the model.
            feat = model.actor_input(state, pred)
            inp = feat.detach()
        if model_grad:
            graphs.append(feat)
        action = policy(inp)
        if action.shape[0] != n or inp.shape[0] != n:
            raise ValueError(f"imagination step {j}: batch {action.shape[0]}/{inp.shape[0]} != {n}")
        # The trajectory keeps z, h and logits; no consumer reads a state's memory, and a
        # model's memory can be large (Mamba: inner x (N + K - 1) floats per layer, about 150
        # MB over a quickstart rollout), so its stack over the horizon is left out.
        states.append(dataclasses.replace(state, memory=state.memory.new_empty(n, 0)))
        inputs.append(inp)
        actions.append(action)
        preds.append(pred)
        if j + 1 < horizon:  # s_H is never used: no step after the last action.
            with model_mode():
                state = model.img_step(state, action, sample=sample)
    pred_stack = {key: torch.stack([p[key] for p in preds]) for key in preds[0]}
    return Trajectory(Latent.stack(states), torch.stack(inputs), torch.stack(actions), pred_stack,
                      actor_inputs_grad=torch.stack(graphs) if model_grad else None)
