"""RSSM sequence model (kind ``sequence``, name ``rssm``): the DreamerV3 recurrent world model.

The HIEROS RSSM ablation (spec §8 "RSSM details", ``networks.RSSM``):

* input layer ``Linear(G*C + A -> hidden, no bias) -> LayerNorm -> SiLU`` on ``[z_{t-1}; a_{t-1}]``;
* GRU with LayerNorm over the ``3*D`` gate pre-activations, update bias -1, tanh candidate;
* prior head from ``h_t``, posterior head from ``[h_t; embed_t]``;
* learned initial ``h_0 = tanh(W)`` (``W`` initialised to 0) and ``z_0`` = mode of the prior at
  ``h_0``; unimix 1 %; no symlog on ``h``.

Training is a sequential loop over T (the posterior sample at t feeds h_{t+1}). Two exact
re-arrangements keep the loop short: the action and embedding parts of the first Linear of the
input layer and of the posterior head are applied to the whole sequence at once (a Linear on a
concatenation is the sum of Linears on the parts), and the prior head, which does not feed back
into the recurrence, runs once on all ``h_t`` after the loop.

Action alignment (spec §2.3, bug B1): ``prev_action`` is the action taken *before* the step.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from hieros_lab.nn.init import init_hidden
from hieros_lab.registry import register
from hieros_lab.sequence.base import Latent
from hieros_lab.sequence.latent import LatentHead, draw


class _Weights(NamedTuple):
    """Column blocks of two Linears on concatenations (see ``RSSMSequence._split_weights``)."""

    inp_z: torch.Tensor
    inp_a: torch.Tensor
    post_h: torch.Tensor
    post_e: torch.Tensor


class LayerNormGRUCell(nn.Module):
    """GRU cell of DreamerV3: one Linear(no bias) on ``[x; h]`` -> LayerNorm over the 3*D gates.

    ``x [..., in_dim]``, ``h [..., D]`` -> ``h' [..., D]``. Gate order (reset, candidate, update);
    the update gate gets a bias of ``update_bias`` (-1) so that new cells start by keeping ``h``.
    """

    def __init__(self, in_dim: int, deter_dim: int, update_bias: float = -1.0,
                 norm_eps: float = 1e-3) -> None:
        super().__init__()
        self.layer = nn.Linear(in_dim + deter_dim, 3 * deter_dim, bias=False)
        self.norm = nn.LayerNorm(3 * deter_dim, eps=norm_eps)
        self.update_bias = update_bias
        init_hidden(self)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        parts = self.norm(self.layer(torch.cat([x, h], -1)))
        reset, cand, update = parts.chunk(3, -1)
        cand = torch.tanh(torch.sigmoid(reset) * cand)
        update = torch.sigmoid(update + self.update_bias)
        return update * cand + (1.0 - update) * h


@register("sequence", "rssm")
class RSSMSequence(nn.Module):
    """Recurrent state-space model with a LayerNorm-GRU (DreamerV3, HIEROS RSSM ablation).

    Shapes: B batch, T time, E embedding, A action (one-hot), G*C stoch, D deter.
    ``Latent.deter`` and ``Latent.memory`` are both the GRU state ``h`` (``[*lead, D]``).

    Args:
        embed_dim: E, width of the observation embedding.
        action_dim: A, number of (one-hot) actions.
        deter_dim: D, GRU state size (256 in the paper sizes).
        hidden: width of the input layer and of the prior/posterior heads.
        stoch_groups, stoch_classes: G categoricals of C classes (32 x 32).
        unimix: uniform mix of the latent categoricals (spec §2.3).

    Always stochastic (``stochastic = True``): the authors' RSSM ignores ``dyn_stochasticity``
    (spec §8).
    """

    stochastic = True
    context = 0  # the GRU state summarises the whole past (the protocol's ``context``)

    def __init__(self, embed_dim: int, action_dim: int, deter_dim: int = 256, hidden: int = 256,
                 stoch_groups: int = 32, stoch_classes: int = 32, unimix: float = 0.01) -> None:
        super().__init__()
        self.embed_dim, self.action_dim = embed_dim, action_dim
        self.deter_dim, self.hidden = deter_dim, hidden
        self.stoch_groups, self.stoch_classes = stoch_groups, stoch_classes
        self.unimix = unimix
        stoch = stoch_groups * stoch_classes
        self.inp = nn.Linear(stoch + action_dim, hidden, bias=False)
        self.inp_norm = nn.LayerNorm(hidden, eps=1e-3)
        init_hidden(self.inp)
        self.gru = LayerNormGRUCell(hidden, deter_dim)
        self.prior_head = LatentHead(deter_dim, hidden, stoch_groups, stoch_classes)
        # temp_post True (spec §8): the posterior sees [h_t ; embed_t].
        self.post_head = LatentHead(deter_dim + embed_dim, hidden, stoch_groups, stoch_classes)
        # Learned initial state: h_0 = tanh(W), W = 0 at init (spec §8).
        self.init_weight = nn.Parameter(torch.zeros(deter_dim))

    @property
    def feat_dim(self) -> int:
        """G*C + D."""
        return self.stoch_groups * self.stoch_classes + self.deter_dim

    # ----------------------------------------------------------------------------- building blocks
    def _split_weights(self) -> _Weights:
        """Column blocks of the input Linear and of the posterior head's first Linear.

        Sliced once per call, not per step: the backward of a slice materialises a gradient of
        the whole weight, which per step would dominate the cost of the training loop.
        """
        stoch = self.stoch_groups * self.stoch_classes
        inp, post = self.inp.weight, self.post_head.net.hidden[0].weight
        return _Weights(inp_z=inp[:, :stoch], inp_a=inp[:, stoch:],
                        post_h=post[:, : self.deter_dim], post_e=post[:, self.deter_dim:])

    def _recur(self, stoch: torch.Tensor, deter: torch.Tensor, action_part: torch.Tensor,
               weights: _Weights) -> torch.Tensor:
        """h_t = GRU(SiLU(LN(W_z z_{t-1} + W_a a_{t-1})), h_{t-1}); ``[B, .] -> [B, D]``."""
        x = F.silu(self.inp_norm(F.linear(stoch, weights.inp_z) + action_part))
        return self.gru(x, deter)

    def _post_logits(self, deter: torch.Tensor, embed_part: torch.Tensor,
                     weights: _Weights) -> torch.Tensor:
        """Posterior head on ``[h; embed]`` given the embed part ``W_e embed`` -> ``[B, G, C]``."""
        net = self.post_head.net
        pre = F.linear(deter, weights.post_h) + embed_part
        out = net.out(net.hidden[1:](pre))
        return out.unflatten(-1, (self.stoch_groups, self.stoch_classes))

    def _reset(self, state: Latent, is_first: torch.Tensor) -> Latent:
        """Replace the ``[B]`` state by :meth:`initial` where ``is_first [B]``."""
        init = self.initial(is_first.shape[0])
        return Latent(**{name: torch.where(_expand(is_first, getattr(state, name)),
                                           getattr(init, name), getattr(state, name))
                         for name in ("stoch", "logits", "deter", "memory")})

    # ----------------------------------------------------------------------------- protocol
    def initial(self, batch: int) -> Latent:
        """``[batch]`` state: h_0 = tanh(W), z_0 = prior mode at h_0 (spec §8)."""
        deter = torch.tanh(self.init_weight).unsqueeze(0)
        stoch, logits = draw(self.prior_head(deter), self.unimix, sample=False)
        state = Latent(stoch=stoch, logits=logits, deter=deter, memory=deter)
        return state.map(lambda t: t.expand(batch, *t.shape[1:]))

    def img_step(self, state: Latent, prev_action: torch.Tensor, sample: bool = True) -> Latent:
        """``state [N]``, ``prev_action [N, A]`` -> prior ``[N]``."""
        weights = self._split_weights()
        deter = self._recur(state.stoch, state.deter, F.linear(prev_action, weights.inp_a),
                            weights)
        stoch, logits = draw(self.prior_head(deter), self.unimix, sample)
        return Latent(stoch=stoch, logits=logits, deter=deter, memory=deter)

    def obs_step(self, state: Latent, prev_action: torch.Tensor, embed: torch.Tensor,
                 is_first: torch.Tensor, sample: bool = True) -> tuple[Latent, Latent]:
        """``state [B]``, ``prev_action [B, A]``, ``embed [B, E]``, ``is_first [B]`` ->
        ``(post, prior)`` ``[B]``; the state is reset and the action zeroed where is_first."""
        state = self._reset(state, is_first)
        prev_action = prev_action * (~is_first).unsqueeze(-1).to(prev_action.dtype)
        prior = self.img_step(state, prev_action, sample)
        weights = self._split_weights()
        post_logits = self._post_logits(prior.deter, F.linear(embed, weights.post_e), weights)
        stoch, logits = draw(post_logits, self.unimix, sample)
        post = Latent(stoch=stoch, logits=logits, deter=prior.deter, memory=prior.deter)
        return post, prior

    def observe(self, embed: torch.Tensor, prev_action: torch.Tensor, is_first: torch.Tensor,
                state: Latent | None = None, sample: bool = True) -> tuple[Latent, Latent]:
        """Sequential posterior/prior over ``embed [B, T, E]``, ``prev_action [B, T, A]``,
        ``is_first [B, T]`` -> ``(post, prior)`` with leading dims ``[B, T]``."""
        batch, length = embed.shape[:2]
        assert prev_action.shape[:2] == (batch, length) and is_first.shape == (batch, length)
        init = self.initial(batch)
        stoch, deter = (init.stoch, init.deter) if state is None else (state.stoch, state.deter)
        keep = (~is_first).unsqueeze(-1).to(embed.dtype)
        weights = self._split_weights()
        action_parts = F.linear(prev_action * keep, weights.inp_a)
        embed_parts = F.linear(embed, weights.post_e)
        deters, stochs, logits = [], [], []
        for t in range(length):
            first = _expand(is_first[:, t], stoch)
            stoch = torch.where(first, init.stoch, stoch)
            deter = torch.where(first, init.deter, deter)
            deter = self._recur(stoch, deter, action_parts[:, t], weights)
            stoch, post_logits = draw(self._post_logits(deter, embed_parts[:, t], weights),
                                      self.unimix, sample)
            deters.append(deter)
            stochs.append(stoch)
            logits.append(post_logits)
        deter_seq = torch.stack(deters, 1)
        post = Latent(stoch=torch.stack(stochs, 1), logits=torch.stack(logits, 1),
                      deter=deter_seq, memory=deter_seq)
        # The prior does not feed the recurrence: one batched call over [B, T].
        prior_stoch, prior_logits = draw(self.prior_head(deter_seq), self.unimix, sample)
        prior = Latent(stoch=prior_stoch, logits=prior_logits, deter=deter_seq, memory=deter_seq)
        return post, prior


def _expand(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``mask [B]`` -> ``[B, 1, ...]`` broadcastable against ``like [B, ...]``."""
    return mask.reshape(mask.shape[0], *([1] * (like.dim() - 1)))
