"""Mamba-based sequence model (a selective SSM in the style of Mamba / Drama), registered as
``sequence/mamba``.

The latent wiring is that of every scan-based model (:mod:`hieros_lab.sequence.scan_model`):
u_t from [s_t ; a_t], a stack of ``num_layers`` Mamba blocks
(:class:`~hieros_lab.sequence.mamba_layers.MambaBlock`) with reset = is_first, m_t =
Linear(stack output), prior logits from m_t, posterior logits from the embedding alone (so
training is one parallel scan per layer), and h_t = symlog(Linear(stack output)) of width
``deter_dim``.

``Latent.memory`` is ``[*lead, num_layers, inner, state_dim + conv - 1]`` (float): every layer's
SSM state and conv window after the step (``mamba_layers`` has the layout).
"""

from __future__ import annotations

import torch
from torch import nn

from hieros_lab.nn.distributions import symlog
from hieros_lab.nn.init import init_hidden
from hieros_lab.nn.mlp import MLP
from hieros_lab.registry import register
from hieros_lab.sequence.latent import LatentHead
from hieros_lab.sequence.mamba_layers import MambaBlock
from hieros_lab.sequence.scan_model import ScanSequence


@register("sequence", "mamba")
class MambaSequence(ScanSequence):
    """Selective-SSM latent dynamics: parallel-scan training, step-mode acting/imagination.

    Args: ``model_dim`` H, ``state_dim`` N per channel, ``expand`` (inner = expand * H),
    ``conv`` K (causal depthwise conv width), ``num_layers`` blocks, ``ff_layers`` per block,
    ``deter_dim`` D, ``hidden`` of the latent heads, ``stoch_groups`` x ``stoch_classes``,
    ``unimix``, ``stochastic`` (False: z = raw logits, as ``s5.stochastic``).
    """

    def __init__(self, embed_dim: int, action_dim: int, model_dim: int = 256,
                 state_dim: int = 16, expand: int = 2, conv: int = 4, num_layers: int = 4,
                 ff_layers: int = 0, deter_dim: int = 256, hidden: int = 256,
                 stoch_groups: int = 32, stoch_classes: int = 32, unimix: float = 0.01,
                 stochastic: bool = True) -> None:
        super().__init__()
        self.stoch_groups, self.stoch_classes = stoch_groups, stoch_classes
        self.deter_dim = deter_dim
        self.embed_dim, self.action_dim = embed_dim, action_dim
        self.unimix, self.stochastic = unimix, stochastic
        stoch = stoch_groups * stoch_classes
        self.inp = MLP(stoch + action_dim, None, units=model_dim, layers=1)
        self.blocks = nn.ModuleList([MambaBlock(model_dim, state_dim, expand, conv, ff_layers)
                                     for _ in range(num_layers)])
        self.seq_out = nn.Linear(model_dim, model_dim)
        self.deter_out = nn.Linear(model_dim, deter_dim)
        init_hidden(self.seq_out)
        init_hidden(self.deter_out)
        self.prior_head = LatentHead(model_dim, hidden, stoch_groups, stoch_classes)
        self.post_head = LatentHead(embed_dim, hidden, stoch_groups, stoch_classes)
        self.init_token = nn.Parameter(torch.zeros(model_dim))
        mixer = self.blocks[0].mixer
        self.memory_shape = (num_layers, mixer.inner, mixer.memory_width)

    # ----------------------------------------------------------------------------- hooks
    def _zero_memory(self, batch: int, device: torch.device) -> torch.Tensor:
        return torch.zeros(batch, *self.memory_shape, dtype=self.init_token.dtype, device=device)

    def _run_blocks(self, x: torch.Tensor, is_first: torch.Tensor, memory: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        states: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x, state = block(x, is_first, memory[:, i])
            states.append(state)
        return x, torch.stack(states, 2)                        # [B, T, L, inner, N + K - 1]

    def _step_blocks(self, x: torch.Tensor, memory: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        states: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x, state = block.step(x, memory[:, i])
            states.append(state)
        return x, torch.stack(states, 1)                        # [N, L, inner, N + K - 1]

    def _deter(self, m: torch.Tensor, out: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return symlog(self.deter_out(out))
