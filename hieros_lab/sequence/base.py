"""The ``sequence`` swap point: latent state container and the SequenceModel protocol.

Action alignment (spec §2.3, bug B1): every method takes ``prev_action``, the action taken
*before* the step's observation, so training, acting and imagination all pair ``z_{t-1}`` with
``a_{t-1}``. The world model shifts replayed actions (``a_t`` is chosen after seeing ``o_t``)
before calling :meth:`SequenceModel.observe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

import torch


@dataclass
class Latent:
    """World-model latent state; every field shares the same leading dims ``[*lead]``.

    Attributes:
        stoch: ``[*lead, G*C]`` flattened one-hot stochastic sample z (straight-through); in the
            deterministic-latent ablation (``s5.stochastic = False``) the raw logits themselves.
        logits: ``[*lead, G, C]`` log-probabilities (after unimix) of the distribution z came from
            (posterior for observed states, prior for imagined ones); raw logits when
            deterministic.
        deter: ``[*lead, D]`` deterministic part h used by heads, actor and subgoals.
        memory: ``[*lead, ...]`` model-specific recurrent memory (S5: complex per-layer states;
            RSSM: the GRU state). Opaque to everything but the sequence model.
    """

    stoch: torch.Tensor
    logits: torch.Tensor
    deter: torch.Tensor
    memory: torch.Tensor

    def feat(self) -> torch.Tensor:
        """``[*lead, G*C + D]`` = [z ; h], the input of decoder, reward and continue heads."""
        return torch.cat([self.stoch, self.deter], -1)

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Latent:
        """Apply ``fn`` to every field (e.g. detach, index, reshape of leading dims)."""
        return Latent(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def detach(self) -> Latent:
        return self.map(torch.Tensor.detach)

    def flatten(self, dims: int = 2) -> Latent:
        """Merge the first ``dims`` leading dims, e.g. ``[B, T, ...] -> [B*T, ...]``."""
        return self.map(lambda t: t.reshape(-1, *t.shape[dims:]))

    @staticmethod
    def stack(items: list[Latent], dim: int = 0) -> Latent:
        # fields of an instance, not of the class: dynamo traces only the former (no graph
        # break in a compiled rollout, hieros_lab/nn/compiled.py)
        return Latent(**{f.name: torch.stack([getattr(x, f.name) for x in items], dim)
                         for f in fields(items[0])})


@runtime_checkable
class SequenceModel(Protocol):
    """Latent dynamics: prior ``p(z_t | m_t)``, posterior ``q(z_t | ...)`` and ``h_t``.

    Implementations are ``torch.nn.Module`` s registered under kind ``sequence`` and constructed by
    the world model as ``factory(embed_dim=E, action_dim=A)``; every other argument comes from gin.

    Shapes: B batch, T time, E embedding, A action (one-hot), G*C stoch, D deter.
    """

    stoch_groups: int
    stoch_classes: int
    deter_dim: int
    #: False for a deterministic latent (z = raw logits, the ``no_stoch`` ablation of spec §8):
    #: the world model then swaps its KL terms for squared errors between the logits (§2.5).
    stochastic: bool
    #: How many earlier steps a state can depend on: 0 when a recurrent memory summarises the
    #: whole past (S5, RSSM, Mamba); a transformer's attention window otherwise. The agent checks
    #: that its replay windows hold that many steps (training never shows more).
    context: int

    @property
    def feat_dim(self) -> int:
        """G*C + D."""

    def initial(self, batch: int) -> Latent:
        """State before the first step of an episode, leading dims ``[batch]``."""

    def observe(self, embed: torch.Tensor, prev_action: torch.Tensor, is_first: torch.Tensor,
                state: Latent | None = None, sample: bool = True) -> tuple[Latent, Latent]:
        """Posterior and prior over a sequence.

        Args:
            embed: ``[B, T, E]`` observation embeddings.
            prev_action: ``[B, T, A]`` action taken before step t (zero where ``is_first``).
            is_first: ``[B, T]`` bool; the state is reset to :meth:`initial` there.
            state: state before step 0 (``[B]``); ``None`` = :meth:`initial`.
            sample: sample the latents (True) or take their modes (False, for exact tests).
        Returns:
            ``(post, prior)``, each a :class:`Latent` with leading dims ``[B, T]``. ``post.deter``
            and ``prior.deter`` are the same h_t; ``post.memory`` lets imagination continue from t.
        """

    def obs_step(self, state: Latent, prev_action: torch.Tensor, embed: torch.Tensor,
                 is_first: torch.Tensor, sample: bool = True) -> tuple[Latent, Latent]:
        """One acting step: ``state [B]``, ``prev_action [B, A]``, ``embed [B, E]``,
        ``is_first [B]`` -> ``(post, prior)`` with leading dims ``[B]``."""

    def img_step(self, state: Latent, prev_action: torch.Tensor, sample: bool = True) -> Latent:
        """One imagination step from ``state [N]`` with ``prev_action [N, A]`` -> prior ``[N]``."""
