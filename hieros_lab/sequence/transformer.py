"""Transformer sequence model (a causal transformer over per-step latent tokens, in the style of
STORM / TWM), registered as ``sequence/transformer``.

The latent wiring is that of every block-stack model (:mod:`hieros_lab.sequence.block_stack`):
one token u_t per step from [s_t ; a_t], ``num_layers`` pre-LN transformer blocks
(:class:`~hieros_lab.sequence.transformer_layers.TransformerBlock`) and a final LayerNorm, m_t =
Linear(stack output), prior logits from m_t, posterior logits from the embedding alone (so
training attends over the whole replay window at once), and h_t = symlog(Linear(stack output))
of width ``deter_dim``.

Each token sees itself and the ``window`` tokens before it in its episode (``is_first`` masks
every earlier key; positions enter as ALiBi distance biases). Acting and imagination step with a
key/value cache: ``Latent.memory`` is ``[*lead, num_layers, window, 2 model_dim + 1]``, every
layer's keys, values and validity flags of the last ``window`` tokens
(``transformer_layers`` has the layout), so an imagination start carries its context window and
the protocol needs nothing else. ``window`` may not exceed the replay window
(``ReplayBuffer.length``): training would never show the model that much context (checked when
the agent is built).
"""

from __future__ import annotations

from hieros_lab.registry import register
from hieros_lab.sequence.block_stack import BlockStackSequence
from hieros_lab.sequence.transformer_layers import TransformerBlock


@register("sequence", "transformer")
class TransformerSequence(BlockStackSequence):
    """Causal-attention latent dynamics: parallel training over the window, cached steps.

    Args: ``model_dim`` H, ``heads`` (dividing H), ``window`` W (earlier tokens a token attends
    to), ``num_layers`` blocks, ``ff_mult`` (the blocks' MLP width over H), ``deter_dim`` D,
    ``hidden`` of the latent heads, ``stoch_groups`` x ``stoch_classes``, ``unimix``,
    ``stochastic`` (False: z = raw logits, as ``s5.stochastic``).
    """

    def __init__(self, embed_dim: int, action_dim: int, model_dim: int = 256, heads: int = 4,
                 window: int = 16, num_layers: int = 2, ff_mult: int = 2, deter_dim: int = 256,
                 hidden: int = 256, stoch_groups: int = 32, stoch_classes: int = 32,
                 unimix: float = 0.01, stochastic: bool = True) -> None:
        super().__init__(embed_dim, action_dim, model_dim,
                         lambda: TransformerBlock(model_dim, heads, window, ff_mult),
                         num_layers, deter_dim, hidden, stoch_groups, stoch_classes, unimix,
                         stochastic, final_norm=True)
        self.context = window  # the protocol's ``context``: the replay window must hold it
