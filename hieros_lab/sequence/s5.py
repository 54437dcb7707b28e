"""S5WM: the S5-based sequence model of HIEROS (spec §2.3), registered as ``sequence/s5``.

Training (:meth:`S5Sequence.observe`) runs every S5 layer as a parallel resettable scan over T;
acting (:meth:`S5Sequence.obs_step`) and imagination (:meth:`S5Sequence.img_step`) use the
layers' step mode, batched over all starts.

Per step t (s_t the stochastic input, a_t = ``prev_action[t]``, the action taken before o_t):

* u_t = SiLU(LN(Linear([s_t ; a_t / max(1, |a_t|)]))), Linear without bias, LN eps 1e-3;
* the ``num_blocks`` S5 blocks (spec §2.2) with reset = is_first (S5 memory → 0);
* m_t = Linear(stack output); prior logits = LatentHead(m_t) (from m_t, not h_t);
* h_t = symlog(Linear(Re of all 2·num_blocks S5 states after step t)), or symlog(m_t) when
  ``state_as_deter`` is False (then ``deter_dim`` must equal ``model_dim``);
* posterior logits = LatentHead(embed_t): the embedding only, which is what allows the scan.

Initial state (spec §2.3, ``initial: learned``): a learned token W ∈ R^model_dim (init 0);
z₀ = mode of the prior computed from GELU(W); S5 memory = 0. deter₀ = GELU(W) is a placeholder
the S5 never reads; when ``deter_dim != model_dim`` it is truncated or zero-padded to
``deter_dim`` (at the paper's sizes, 256 = 256, it is exactly the authors' GELU(W)).

Action alignment: ``prev_action[t]`` is a_{t-1} in every method (see ``base.py``; the authors'
training pairs z_{t-1} with a_t, bug B1; the world model shifts actions before calling us).

Deterministic latent (``stochastic=False``, the ``no_stoch`` ablation of spec §8; the authors'
``dyn_stochasticity False``): z = the raw prior/posterior logits flattened to ``[.., G*C]`` (no
sampling, no unimix; ``sample`` is then ignored) and ``Latent.logits`` holds those raw logits;
z₀ = the raw prior logits from GELU(W). The world model reads the public ``stochastic``
attribute and swaps its KL terms for squared errors between the logits (spec §2.5). The RSSM has
no such option: the authors' RSSM ignores ``dyn_stochasticity`` (spec §8).

Deviation from the authors (B14): Re(Λ) is clamped to <= -1e-4 inside the S5 layers.

The latent wiring (input, heads, initial state, observe / obs_step / img_step) is shared with the
other scan-based models in :mod:`hieros_lab.sequence.scan_model`; this module supplies the S5
blocks, their memory and h_t.
"""

from __future__ import annotations

import torch
from torch import nn

from hieros_lab.nn.distributions import symlog
from hieros_lab.nn.init import init_hidden
from hieros_lab.nn.mlp import MLP
from hieros_lab.registry import register
from hieros_lab.sequence.latent import LatentHead
from hieros_lab.sequence.s5_layers import S5Block
from hieros_lab.sequence.scan_model import ScanSequence


@register("sequence", "s5")
class S5Sequence(ScanSequence):
    """S5WM latent dynamics (spec §2.3): parallel-scan training, step-mode acting/imagination.

    ``Latent.memory`` is complex ``[*lead, 2·num_blocks, state_dim]``: the state of every S5 layer
    (block-major, sublayer-minor) after consuming the step. Shapes: B batch, T time, N starts,
    E ``embed_dim``, A ``action_dim``, G*C stoch, D ``deter_dim``.

    ``stochastic`` (public attribute): False = deterministic latent z = raw logits (spec §8
    ``no_stoch``); the world model switches its KL terms to logit squared errors on it.
    """

    def __init__(self, embed_dim: int, action_dim: int, model_dim: int = 256,
                 state_dim: int = 128, num_blocks: int = 4, init_blocks: int = 4,
                 ff_layers: int = 0, dropout: float = 0.0, deter_dim: int = 256,
                 hidden: int = 256, stoch_groups: int = 32, stoch_classes: int = 32,
                 unimix: float = 0.01, state_as_deter: bool = True,
                 stochastic: bool = True) -> None:
        super().__init__()
        if not state_as_deter and deter_dim != model_dim:
            raise ValueError("state_as_deter=False makes h = symlog(m_t): deter_dim must equal "
                             f"model_dim, got {deter_dim} != {model_dim}")
        self.stoch_groups, self.stoch_classes = stoch_groups, stoch_classes
        self.deter_dim = deter_dim
        self.embed_dim, self.action_dim = embed_dim, action_dim
        self.num_layers, self.state_dim = 2 * num_blocks, state_dim
        self.unimix, self.state_as_deter = unimix, state_as_deter
        self.stochastic = stochastic
        stoch = stoch_groups * stoch_classes
        self.inp = MLP(stoch + action_dim, None, units=model_dim, layers=1)
        self.blocks = nn.ModuleList([S5Block(model_dim, state_dim, init_blocks, ff_layers, dropout)
                                     for _ in range(num_blocks)])
        self.seq_out = nn.Linear(model_dim, model_dim)
        self.state_out = nn.Linear(self.num_layers * state_dim, deter_dim)
        init_hidden(self.seq_out)
        init_hidden(self.state_out)
        self.prior_head = LatentHead(model_dim, hidden, stoch_groups, stoch_classes)
        self.post_head = LatentHead(embed_dim, hidden, stoch_groups, stoch_classes)
        self.init_token = nn.Parameter(torch.zeros(model_dim))

    # ----------------------------------------------------------------------------- hooks
    def _complex_dtype(self) -> torch.dtype:
        return torch.complex128 if self.init_token.dtype == torch.float64 else torch.complex64

    def _zero_memory(self, batch: int, device: torch.device) -> torch.Tensor:
        return torch.zeros(batch, self.num_layers, self.state_dim, dtype=self._complex_dtype(),
                           device=device)

    def _run_blocks(self, x: torch.Tensor, is_first: torch.Tensor, memory: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        states: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x0 = (memory[:, 2 * i], memory[:, 2 * i + 1])
            x, (s1, s2) = block(x, is_first, x0)
            states += [s1, s2]
        return x, torch.stack(states, 2)                                 # [B, T, 2nb, P]

    def _step_blocks(self, x: torch.Tensor, memory: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        states: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x, (s1, s2) = block.step(x, (memory[:, 2 * i], memory[:, 2 * i + 1]))
            states += [s1, s2]
        return x, torch.stack(states, 1)                                 # [N, 2nb, P]

    def _deter(self, m: torch.Tensor, out: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        if self.state_as_deter:  # h = symlog(Linear(Re of every S5 state after the step))
            return symlog(self.state_out(torch.view_as_real(memory)[..., 0].flatten(-2)))
        return symlog(m)
