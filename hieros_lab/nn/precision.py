"""Training precision: float32, or bfloat16 autocast with float32 where precision matters.

``Trainer.precision`` picks it (``auto``: bf16 on a CUDA device that supports it, else fp32),
and the agent runs every level's training step (world-model update, imagination, rewards,
actor-critic and subgoal-autoencoder updates) under :func:`autocast`. Acting and evaluation stay
float32. Parameters, gradients and optimiser states are float32 in both modes.

Under bf16 autocast the matmuls and convolutions run in bfloat16. What stays float32, and why:

* **Losses and distributions.** Every distribution casts its logits to float32
  (:mod:`hieros_lab.nn.distributions`): the 255-bin two-hot softmax of reward and critic (its
  mean goes through symexp, which magnifies a bf16 error of 2^-8 into whole reward units at
  large returns), the KL between posterior and prior (a difference of nearly equal
  log-probabilities, which bf16's 8-bit mantissa would cancel away below the 1-nat free bits),
  the 1 %-unimix categoricals of latents and actions (log-probabilities of REINFORCE and the
  entropy bonus), and the Bernoulli continue head. The image and vector reconstruction losses
  sum 12,288 squared errors per frame and are computed in float32 for the same reason.
* **The return normalisation** (5th/95th percentiles, spec §4.4) works on float32 returns,
  since rewards and critic means come out of float32 distributions.
* **The S5 recurrence.** Autocast runs ``view_as_complex`` in float32, so the diagonal complex
  scan of S5 (Λ̄ and its powers) stays complex64; only its input and output projections are
  bf16 matmuls.
* **Reward sources** see float32 inputs (the decoded subgoal is cast): their norms and
  cosines would otherwise be taken in bf16.

Each of those casts is :func:`at_least_fp32`, which returns a float32 (or float64) tensor
itself, so in fp32 mode nothing here does anything: fp32 runs are bit-identical to runs made
before the switch existed.
"""

from __future__ import annotations

import contextlib

import torch

#: ``Trainer.precision`` values.
PRECISIONS = ("auto", "fp32", "bf16")


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 if it is a 16-bit float, else ``x`` itself (float64 stays float64)."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


def resolve(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for ``precision`` on ``device`` (``auto``: bf16 on a CUDA device
    with bf16 support, else fp32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"Trainer.precision must be one of {', '.join(PRECISIONS)}, got "
                         f"{precision!r}")
    if precision != "auto":
        return precision
    cuda = device.type == "cuda" and torch.cuda.is_available()
    return "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context a training step runs in: nothing for ``fp32``, bf16 autocast for ``bf16``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision != "bf16":
        raise ValueError(f"precision must be fp32 or bf16 once resolved, got {precision!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16)
