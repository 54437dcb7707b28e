"""Subgoal autoencoder of one level (spec §5.3, fix of bug B13): deter h <-> discrete code.

A level's manager (level i+1) acts in the code space of level i's autoencoder: it emits a code of
G one-hot groups of C classes, which level i decodes into a target state g in the space of its
own deter h. The novelty reward measures how badly h is reconstructed.

Differences from the authors' ``SubgoalAutoencoder`` (spec §5.3, §9 B13), all deliberate:

* encoder and decoder end in a Linear output layer (the authors' end in LayerNorm+GELU, so
  their "logits" are squashed and their reconstruction cannot go below ≈ −0.17);
* the training code is a straight-through *sample* of the categorical (a β-VAE as in the
  paper); the argmax mode is used at evaluation (``sample=False``), e.g. by the novelty reward;
* the reconstruction target is h itself, in the space the decoder outputs and the subgoal reward
  compares against (the S5 deter is already symlog'd, spec §2.1). The authors reconstruct
  symlog(h); the official reward variants map our reconstructions into that space instead
  (:mod:`hieros_lab.rewards.sources`).

Shapes: N vectors (any leading dims ``*lead`` where noted), D deter width, G groups, C classes.
"""

from __future__ import annotations

import gin
import torch
import torch.nn.functional as F
from torch import nn

from hieros_lab.nn.distributions import UnimixCategorical
from hieros_lab.nn.mlp import MLP
from hieros_lab.nn.modes import training
from hieros_lab.nn.optim import Optimizer


def kl_to_uniform(probs: torch.Tensor) -> torch.Tensor:
    """KL[q ‖ uniform] per group: ``probs [..., G, C]`` -> ``[..., G]``.

    Σ_c q_c log q_c + log C: ≥ 0, and 0 exactly when q is uniform (Gibbs' inequality).
    """
    classes = probs.shape[-1]
    logq = torch.log(probs.clamp_min(1e-30))
    return (probs * logq).sum(-1) + torch.log(torch.tensor(float(classes), dtype=probs.dtype))


@gin.register
class SubgoalAutoencoder(nn.Module):
    """β-VAE with a categorical code: ``h [*lead, D]`` -> code ``[*lead, G*C]`` -> ``[*lead, D]``.

    Args:
        deter_dim: D, width of the level's deter h.
        code_groups, code_classes: the code shape G x C (8 x 8 in the paper; the manager's action
            space of a level with a parent has G*C actions).
        units, layers: encoder width and depth (64, 3; spec §5.3).
        decoder_units: decoder width; ``None`` = D (spec §5.3: 256 = the deter width).
        decoder_layers: decoder depth (3).
        unimix: uniform mix of the code distribution (1 %).
        kl_scale: β, the weight of KL[q ‖ uniform] (0.5).
        lr, eps, clip, weight_decay: the autoencoder's own AdamW (spec §7.1: 1e-4, 1e-6, 100).

    Loss = mean-squared reconstruction error of h (mean over the N·D elements) + β · KL, where
    the KL is averaged over the batch *and over the G groups* (the authors' reduction, so β has
    the same meaning as in their code).
    """

    def __init__(self, deter_dim: int, code_groups: int = 8, code_classes: int = 8,
                 units: int = 64, layers: int = 3, decoder_units: int | None = None,
                 decoder_layers: int = 3, unimix: float = 0.01, kl_scale: float = 0.5,
                 lr: float = 1e-4, eps: float = 1e-6, clip: float = 100.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__()
        _check_positive("deter_dim", deter_dim)
        _check_positive("code_groups", code_groups)
        if code_classes < 2:
            raise ValueError(f"SubgoalAutoencoder.code_classes must be >= 2 (a 1-class group "
                             f"carries no information), got {code_classes}")
        _check_positive("units", units)
        _check_positive("layers", layers)
        self.deter_dim, self.groups, self.classes = deter_dim, code_groups, code_classes
        self.unimix, self.kl_scale = unimix, kl_scale
        # symlog inputs as in the authors' encoder (spec §5.3); GELU (`subgoal_compression.act`).
        self.encoder = MLP(deter_dim, code_groups * code_classes, units=units, layers=layers,
                           act=nn.GELU, symlog_inputs=True)
        dec_units = decoder_units or deter_dim
        self.decoder = MLP(code_groups * code_classes, deter_dim, units=dec_units,
                           layers=decoder_layers, act=nn.GELU)
        self._opt = Optimizer(self.parameters(), lr, eps, clip, weight_decay=weight_decay)
        self.eval()  # train mode only inside its own loss (DESIGN §8)

    @property
    def code_dim(self) -> int:
        """G*C, the width of a flattened code (= the manager's number of actions)."""
        return self.groups * self.classes

    def optimizers(self) -> dict[str, Optimizer]:
        """``{"subgoal_autoencoder": ...}`` for checkpointing."""
        return {"subgoal_autoencoder": self._opt}

    def dist(self, h: torch.Tensor) -> UnimixCategorical:
        """Code distribution q(code | h): ``h [*lead, D]`` -> categorical over ``[*lead, G, C]``."""
        if h.shape[-1] != self.deter_dim:
            raise ValueError(f"subgoal autoencoder input width {h.shape[-1]} != {self.deter_dim}")
        logits = self.encoder(h).unflatten(-1, (self.groups, self.classes))
        return UnimixCategorical(logits, self.unimix)

    def encode(self, h: torch.Tensor, sample: bool) -> torch.Tensor:
        """``h [*lead, D]`` -> one-hot code ``[*lead, G*C]`` (exactly one 1 per group).

        ``sample=True``: straight-through sample (training); ``False``: straight-through argmax.
        """
        return _straight_through(self.dist(h), sample).flatten(-2)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """``code [*lead, G*C]`` -> subgoal / reconstruction ``[*lead, D]`` in the space of h."""
        if code.shape[-1] != self.code_dim:
            raise ValueError(f"code width {code.shape[-1]} != G*C = {self.code_dim} "
                             f"({self.groups} x {self.classes})")
        return self.decoder(code)

    def reconstruct(self, h: torch.Tensor) -> torch.Tensor:
        """AE(h) = decode(encode(h, mode)), ``[*lead, D]`` -> ``[*lead, D]`` (spec §5.5)."""
        return self.decode(self.encode(h, sample=False))

    def loss(self, h: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """β-VAE loss on ``h [N, D]`` (detached): ``(loss, metrics)``."""
        h = h.detach()
        dist = self.dist(h)
        recon = self.decode(_straight_through(dist, sample=True).flatten(-2))
        recon_loss = (recon - h).pow(2).mean()
        kl = kl_to_uniform(dist.probs).mean()  # mean over batch and groups
        loss = recon_loss + self.kl_scale * kl
        return loss, {"recon_loss": float(recon_loss.detach()), "kl": float(kl.detach())}

    def train_step(self, h: torch.Tensor) -> dict[str, float]:
        """One optimiser step on ``h [*lead, D]`` (flattened to ``[N, D]``); returns metrics.

        Spec §5.3: the level feeds the detached deter states of its imagination (H·N vectors).
        """
        with training(self):
            loss, metrics = self.loss(h.reshape(-1, h.shape[-1]))
        out = self._opt.step(loss)
        return {"loss": out["loss"], "grad_norm": out["grad_norm"], **metrics}


def _straight_through(dist: UnimixCategorical, sample: bool) -> torch.Tensor:
    """One-hot ``[..., G, C]`` sample (or argmax) with the gradient of the probabilities.

    ``hard + (p - sg(p))``: the bracket is exactly 0 in the forward pass, so the code is exactly
    one-hot (``hard + p - sg(p)`` is off by rounding).
    """
    if sample:
        hard = dist.sample()
    else:
        hard = F.one_hot(dist.probs.argmax(-1), dist.probs.shape[-1]).to(dist.probs.dtype)
    return hard + (dist.probs - dist.probs.detach())


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"SubgoalAutoencoder.{name} must be >= 1, got {value}")
