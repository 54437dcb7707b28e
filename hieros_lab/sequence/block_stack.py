"""A scan-based sequence model over a stack of residual blocks that each carry their own memory
(Mamba, the transformer): the wiring both share, so that a new block type is one class.

u_t = Linear-LN-SiLU([s_t ; a_t]) (:class:`~hieros_lab.sequence.scan_model.ScanSequence`), the
``num_layers`` blocks with reset = is_first, an optional final LayerNorm (pre-LN transformers),
m_t = Linear(stack output), prior logits from m_t, posterior logits from the embedding alone, and
h_t = symlog(Linear(stack output)) of width ``deter_dim``.

A block is a module with ``forward(x [B, T, H], reset [B, T], memory [B, *shape]) -> (y [B, T,
H], memory [B, T, *shape])``, ``step(x [N, H], memory [N, *shape]) -> (y [N, H], memory)`` and
``memory_shape`` (= ``shape``); its memory must be zero for a fresh episode. ``Latent.memory`` is
``[*lead, num_layers, *shape]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from hieros_lab.nn.distributions import symlog
from hieros_lab.nn.init import init_hidden
from hieros_lab.nn.mlp import MLP
from hieros_lab.sequence.latent import LatentHead
from hieros_lab.sequence.scan_model import ScanSequence


class BlockStackSequence(ScanSequence):
    """Latent dynamics around ``num_layers`` blocks made by ``block()`` (see the module doc).

    Parameters are created in a fixed order (input, blocks, outputs, heads, initial token): the
    order fixes the random init, so a subclass's runs stay reproducible across refactors.
    """

    def __init__(self, embed_dim: int, action_dim: int, model_dim: int,
                 block: Callable[[], nn.Module], num_layers: int, deter_dim: int, hidden: int,
                 stoch_groups: int, stoch_classes: int, unimix: float, stochastic: bool,
                 final_norm: bool = False) -> None:
        super().__init__()
        self.stoch_groups, self.stoch_classes = stoch_groups, stoch_classes
        self.deter_dim = deter_dim
        self.embed_dim, self.action_dim = embed_dim, action_dim
        self.unimix, self.stochastic = unimix, stochastic
        stoch = stoch_groups * stoch_classes
        self.inp = MLP(stoch + action_dim, None, units=model_dim, layers=1)
        self.blocks = nn.ModuleList([block() for _ in range(num_layers)])
        # LayerNorm draws no random numbers: adding it leaves every other init unchanged
        self.final_norm = nn.LayerNorm(model_dim) if final_norm else nn.Identity()
        self.seq_out = nn.Linear(model_dim, model_dim)
        self.deter_out = nn.Linear(model_dim, deter_dim)
        init_hidden(self.seq_out)
        init_hidden(self.deter_out)
        self.prior_head = LatentHead(model_dim, hidden, stoch_groups, stoch_classes)
        self.post_head = LatentHead(embed_dim, hidden, stoch_groups, stoch_classes)
        self.init_token = nn.Parameter(torch.zeros(model_dim))
        self.memory_shape = (num_layers, *self.blocks[0].memory_shape)

    # ----------------------------------------------------------------------------- hooks
    def _zero_memory(self, batch: int, device: torch.device) -> torch.Tensor:
        return torch.zeros(batch, *self.memory_shape, dtype=self.init_token.dtype, device=device)

    def _run_blocks(self, x: torch.Tensor, is_first: torch.Tensor, memory: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        states: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x, state = block(x, is_first, memory[:, i])
            states.append(state)
        return self.final_norm(x), torch.stack(states, 2)          # memory [B, T, L, *shape]

    def _step_blocks(self, x: torch.Tensor, memory: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        states: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x, state = block.step(x, memory[:, i])
            states.append(state)
        return self.final_norm(x), torch.stack(states, 1)          # memory [N, L, *shape]

    def _deter(self, m: torch.Tensor, out: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return symlog(self.deter_out(out))


def parallel_vs_steps_max_abs_err(make_layer: Callable[[], nn.Module],
                                  memory_shape: Sequence[int], dim: int, seed: int = 0,
                                  batch: int = 4, length: int = 64) -> float:
    """Max |parallel form - step form| over a fresh float32 layer's outputs and memory (the
    layer made by ``make_layer()`` under torch seed ``seed``; ``forward(x, reset, memory)`` and
    ``step(x, memory)`` as a block's mixer), for random inputs ``[batch, length, dim]`` and
    Bernoulli(0.1) resets (index 0 always one), the step form's memory zeroed at each reset.
    The global RNG is left untouched (the bench calls it between measurements)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = make_layer()
    x = torch.randn(batch, length, dim, generator=gen)
    reset = torch.rand(batch, length, generator=gen) < 0.1
    reset[:, 0] = True
    memory = torch.zeros(batch, *memory_shape)
    flags = (batch, *[1] * len(memory_shape))
    with torch.no_grad():
        y_par, m_par = layer(x, reset, memory)
        ys, ms = [], []
        for t in range(length):
            memory = torch.where(reset[:, t].view(flags), torch.zeros_like(memory), memory)
            y, memory = layer.step(x[:, t], memory)
            ys.append(y)
            ms.append(memory)
    return max(float((y_par - torch.stack(ys, 1)).abs().max()),
               float((m_par - torch.stack(ms, 1)).abs().max()))
