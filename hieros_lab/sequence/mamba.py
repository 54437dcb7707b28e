"""Mamba-based sequence model (a selective SSM in the style of Mamba / Drama), registered as
``sequence/mamba``.

The latent wiring is that of every block-stack model (:mod:`hieros_lab.sequence.block_stack`):
u_t from [s_t ; a_t], a stack of ``num_layers`` Mamba blocks
(:class:`~hieros_lab.sequence.mamba_layers.MambaBlock`) with reset = is_first, m_t =
Linear(stack output), prior logits from m_t, posterior logits from the embedding alone (so
training is one parallel scan per layer), and h_t = symlog(Linear(stack output)) of width
``deter_dim``.

``Latent.memory`` is ``[*lead, num_layers, inner, state_dim + conv - 1]`` (float): every layer's
SSM state and conv window after the step (``mamba_layers`` has the layout).
"""

from __future__ import annotations

from hieros_lab.registry import register
from hieros_lab.sequence.block_stack import BlockStackSequence
from hieros_lab.sequence.mamba_layers import MambaBlock


@register("sequence", "mamba")
class MambaSequence(BlockStackSequence):
    """Selective-SSM latent dynamics: parallel-scan training, step-mode acting/imagination.

    Args: ``model_dim`` H, ``state_dim`` N per channel, ``expand`` (inner = expand * H),
    ``conv`` K (causal depthwise conv width), ``num_layers`` blocks, ``ff_layers`` per block,
    ``deter_dim`` D, ``hidden`` of the latent heads, ``stoch_groups`` x ``stoch_classes``,
    ``unimix``, ``stochastic`` (False: z = raw logits, as ``s5.stochastic``), ``scan``: the
    training scan, ``parallel`` (log-depth, associative), ``sequential`` (in place, T steps) or
    ``auto`` (sequential on a CPU; :mod:`hieros_lab.sequence.linear_scan`), equal to float
    rounding.
    """

    def __init__(self, embed_dim: int, action_dim: int, model_dim: int = 256,
                 state_dim: int = 16, expand: int = 2, conv: int = 4, num_layers: int = 4,
                 ff_layers: int = 0, deter_dim: int = 256, hidden: int = 256,
                 stoch_groups: int = 32, stoch_classes: int = 32, unimix: float = 0.01,
                 stochastic: bool = True, scan: str = "auto") -> None:
        super().__init__(embed_dim, action_dim, model_dim,
                         lambda: MambaBlock(model_dim, state_dim, expand, conv, ff_layers, scan),
                         num_layers, deter_dim, hidden, stoch_groups, stoch_classes, unimix,
                         stochastic)
