"""What every scan-based sequence model shares (S5WM, Mamba): the latent wiring around a stack
of resettable recurrent blocks that have a parallel form (training) and a step form (acting,
imagination).

Per step t (s_t the stochastic input, a_t = ``prev_action[t]``, the action taken before o_t):

* u_t = SiLU(LN(Linear([s_t ; a_t / max(1, |a_t|)]))) (DreamerV3 action scaling);
* the blocks, with reset = is_first (their memory -> 0);
* m_t = Linear(stack output); prior logits = LatentHead(m_t); h_t from the subclass
  (:meth:`ScanSequence._deter`);
* posterior logits = LatentHead(embed_t): the embedding only, which is what allows the scan.

Initial state: a learned token W (init 0); z₀ = mode of the prior computed from GELU(W); memory
= 0; deter₀ = GELU(W) truncated or zero-padded to ``deter_dim`` (a placeholder nothing reads).

A subclass builds ``inp``, its blocks, ``seq_out``, ``prior_head``, ``post_head`` and
``init_token`` in ``__init__`` (in its own order: parameter order fixes the random init) and
implements the four hooks: :meth:`_zero_memory`, :meth:`_run_blocks`, :meth:`_step_blocks` and
:meth:`_deter`. ``Latent.memory`` is whatever the hooks make of it, ``[*lead, ...]``.
"""

from __future__ import annotations

from dataclasses import fields

import torch
import torch.nn.functional as F
from torch import nn

from hieros_lab.sequence.base import Latent
from hieros_lab.sequence.latent import LatentHead, draw, passthrough


def fit_width(x: torch.Tensor, width: int) -> torch.Tensor:
    """Truncate or zero-pad the last dim of ``x`` to ``width``."""
    if x.shape[-1] >= width:
        return x[..., :width]
    return F.pad(x, (0, width - x.shape[-1]))


class ScanSequence(nn.Module):
    """Latent dynamics around resettable blocks; see the module doc. Shapes: B batch, T time,
    N starts, E ``embed_dim``, A ``action_dim``, G*C stoch, D ``deter_dim``."""

    inp: nn.Module
    seq_out: nn.Linear
    prior_head: LatentHead
    post_head: LatentHead
    init_token: nn.Parameter
    stoch_groups: int
    stoch_classes: int
    deter_dim: int
    action_dim: int
    unimix: float
    stochastic: bool
    context: int = 0  # a recurrent memory summarises the whole past (the protocol's ``context``)

    # ----------------------------------------------------------------------------- hooks
    def _zero_memory(self, batch: int, device: torch.device) -> torch.Tensor:
        """The memory of a fresh episode, ``[batch, ...]``."""
        raise NotImplementedError

    def _run_blocks(self, x: torch.Tensor, is_first: torch.Tensor, memory: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Parallel form: ``x [B, T, H]``, resets ``[B, T]``, memory before step 0 ``[B, ...]``
        -> (outputs ``[B, T, H]``, memory after every step ``[B, T, ...]``)."""
        raise NotImplementedError

    def _step_blocks(self, x: torch.Tensor, memory: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Step form: ``x [N, H]``, memory ``[N, ...]`` -> (output ``[N, H]``, memory)."""
        raise NotImplementedError

    def _deter(self, m: torch.Tensor, out: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """h ``[..., D]`` from m = ``seq_out(out)``, the stack output ``out`` and the memory
        after the step."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- helpers
    @property
    def feat_dim(self) -> int:
        return self.stoch_groups * self.stoch_classes + self.deter_dim

    def _input(self, stoch: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``[..., G*C]``, ``[..., A]`` -> u ``[..., model_dim]`` (DreamerV3 action scaling)."""
        action = action / action.abs().clamp(min=1.0)
        return self.inp(torch.cat([stoch, action], -1))

    def _latent(self, logits: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw ``logits [..., G, C]`` -> ``(z [..., G*C], Latent.logits [..., G, C])``."""
        if self.stochastic:
            return draw(logits, self.unimix, sample)
        return passthrough(logits)  # no_stoch ablation (spec §8): z = logits, nothing sampled

    def _heads(self, out: torch.Tensor, memory: torch.Tensor, sample: bool
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stack output ``[..., model_dim]`` and memory -> (h, z, logits)."""
        m = self.seq_out(out)
        h = self._deter(m, out, memory)
        z, logits = self._latent(self.prior_head(m), sample)
        return h, z, logits

    def _posterior(self, embed: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        return self._latent(self.post_head(embed), sample)

    # ----------------------------------------------------------------------------- protocol
    def initial(self, batch: int) -> Latent:
        """Learned initial state ``[batch]``: z₀ = prior mode from GELU(W), memory = 0.

        (Deterministic mode: z₀ = the raw prior logits from GELU(W).)
        """
        token = F.gelu(self.init_token)
        z0, logits0 = self._latent(self.prior_head(token), sample=False)
        memory = self._zero_memory(batch, token.device)
        return Latent(stoch=z0.expand(batch, -1), logits=logits0.expand(batch, -1, -1),
                      deter=fit_width(token, self.deter_dim).expand(batch, -1), memory=memory)

    def observe(self, embed: torch.Tensor, prev_action: torch.Tensor, is_first: torch.Tensor,
                state: Latent | None = None, sample: bool = True) -> tuple[Latent, Latent]:
        """Posterior and prior over ``[B, T]`` with the blocks' parallel form.

        s_t = z^post_{t-1} (s_0 = ``state.stoch``); where is_first: s_t = z₀, a = 0 and the
        memory restarts from zero; otherwise step 0 continues from ``state.memory``.
        """
        b, t = is_first.shape
        assert embed.shape[:2] == (b, t) and prev_action.shape == (b, t, self.action_dim)
        init = self.initial(b)
        state = init if state is None else state
        z_post, post_logits = self._posterior(embed, sample)
        first = is_first.unsqueeze(-1)
        stoch_in = torch.cat([state.stoch.unsqueeze(1), z_post[:, :-1]], 1)
        stoch_in = torch.where(first, init.stoch.unsqueeze(1), stoch_in)
        action = prev_action * (~first).to(prev_action.dtype)
        x, memory = self._run_blocks(self._input(stoch_in, action), is_first, state.memory)
        h, z_prior, prior_logits = self._heads(x, memory, sample)
        return (Latent(z_post, post_logits, h, memory),
                Latent(z_prior, prior_logits, h, memory))

    def img_step(self, state: Latent, prev_action: torch.Tensor, sample: bool = True) -> Latent:
        """One step of every block from ``state [N]`` with ``prev_action [N, A]`` -> prior."""
        x, memory = self._step_blocks(self._input(state.stoch, prev_action), state.memory)
        h, z, logits = self._heads(x, memory, sample)
        return Latent(z, logits, h, memory)

    def obs_step(self, state: Latent, prev_action: torch.Tensor, embed: torch.Tensor,
                 is_first: torch.Tensor, sample: bool = True) -> tuple[Latent, Latent]:
        """Acting step ``[B]``: reset to :meth:`initial` where ``is_first``, prior, posterior."""
        b = is_first.shape[0]
        # Most acting steps start no episode: then the reset is the identity and building the
        # initial state (a prior-head pass) is skipped. The mode of z₀ draws no random numbers,
        # so skipping it leaves the RNG stream, and every later sample, unchanged.
        if bool(is_first.any()):
            init = self.initial(b)

            def pick(fresh: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
                return torch.where(is_first.view(b, *[1] * (old.dim() - 1)), fresh, old)

            state = Latent(**{f.name: pick(getattr(init, f.name), getattr(state, f.name))
                              for f in fields(Latent)})
        prev_action = prev_action * (~is_first).to(prev_action.dtype).unsqueeze(-1)
        prior = self.img_step(state, prev_action, sample)
        z, logits = self._posterior(embed, sample)
        return Latent(z, logits, prior.deter, prior.memory), prior
