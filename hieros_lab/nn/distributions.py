"""Distributions used by world models and actor-critics (spec §2.3-§2.5, §4).

* ``symlog``/``symexp`` squashing,
* ``TwoHotSymlog``: 255-bin categorical over symlog space with two-hot targets (reward, value),
* ``UnimixCategorical``: independent one-hot categoricals with 1 % uniform mix and
  straight-through samples (stochastic latents, discrete actions),
* ``categorical_kl``: KL between two such distributions, summed over the groups.

Shapes: ``G`` = number of categoricals (groups), ``C`` = classes per group.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hieros_lab.nn.precision import at_least_fp32


def symlog(x: torch.Tensor) -> torch.Tensor:
    """sign(x) * log(1 + |x|)."""
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    """Inverse of symlog: sign(x) * (exp|x| - 1)."""
    return torch.sign(x) * torch.expm1(x.abs())


class TwoHotSymlog:
    """Categorical over ``bins`` equally spaced points of symlog space (DreamerV3 ``DiscDist``).

    ``logits``: ``[..., K]``. ``mean()`` -> ``[...]`` in raw space (symexp of the expected bin).
    ``log_prob(y)`` with raw ``y: [...]`` is the cross-entropy against the two-hot encoding of
    symlog(y) (negated).
    """

    def __init__(self, logits: torch.Tensor, low: float = -20.0, high: float = 20.0) -> None:
        self.logits = at_least_fp32(logits)  # float32 under bf16 autocast (nn/precision.py)
        self.bins = torch.linspace(low, high, logits.shape[-1], device=logits.device,
                                   dtype=logits.dtype)

    @property
    def probs(self) -> torch.Tensor:
        return torch.softmax(self.logits, -1)

    def mean(self) -> torch.Tensor:
        return symexp((self.probs * self.bins).sum(-1))

    def mode(self) -> torch.Tensor:
        return self.mean()

    def log_prob(self, target: torch.Tensor) -> torch.Tensor:
        weights = two_hot(symlog(target), self.bins)
        return (weights * torch.log_softmax(self.logits, -1)).sum(-1)


def two_hot(y: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Two-hot encoding of ``y: [...]`` over sorted ``bins: [K]`` -> ``[..., K]``.

    At most two adjacent non-zeros summing to 1 whose expectation over ``bins`` equals ``y``
    (clamped to the bin range).
    """
    y = y.detach().clamp(bins[0], bins[-1])
    k = bins.shape[0]
    above = torch.searchsorted(bins, y.contiguous(), right=False).clamp(1, k - 1)
    below = above - 1
    lo, hi = bins[below], bins[above]
    w_hi = ((y - lo) / (hi - lo)).clamp(0.0, 1.0)
    out = torch.zeros(*y.shape, k, device=y.device, dtype=y.dtype)
    out.scatter_(-1, below.unsqueeze(-1), (1.0 - w_hi).unsqueeze(-1))
    out.scatter_add_(-1, above.unsqueeze(-1), w_hi.unsqueeze(-1))
    return out


class UnimixCategorical:
    """``G`` independent one-hot categoricals of ``C`` classes with a uniform mix (spec §2.3).

    probs = (1 - unimix) * softmax(logits) + unimix / C, so every probability >= unimix / C.

    ``logits``: ``[..., G, C]``. ``rsample()``/``mode()`` -> ``[..., G, C]`` one-hot with
    straight-through gradients (sample + p - sg(p)). ``log_prob``/``entropy`` sum over ``G``.
    """

    def __init__(self, logits: torch.Tensor, unimix: float = 0.01) -> None:
        logits = at_least_fp32(logits)  # float32 under bf16 autocast (nn/precision.py)
        probs = torch.softmax(logits, -1)
        if unimix > 0.0:
            probs = (1.0 - unimix) * probs + unimix / logits.shape[-1]
        self.probs = probs
        self.log_probs = torch.log(probs)

    @property
    def logits(self) -> torch.Tensor:
        """Log-probabilities after the uniform mix (valid logits of the same distribution)."""
        return self.log_probs

    def rsample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample(generator) + self.probs - self.probs.detach()

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact one-hot sample, no gradient (``rsample().detach()`` is off by rounding)."""
        # Inverse-CDF sampling: one uniform per group; ~2x faster than torch.multinomial on the
        # [N*G, C] rows of imagination (measured on CPU), same distribution.
        probs = self.probs.detach()
        cdf = probs.cumsum(-1)
        u = torch.rand(*probs.shape[:-1], 1, generator=generator, device=probs.device,
                       dtype=probs.dtype) * cdf[..., -1:]
        idx = (cdf < u).sum(-1).clamp(max=probs.shape[-1] - 1)
        return F.one_hot(idx, probs.shape[-1]).to(probs.dtype)

    def mode(self) -> torch.Tensor:
        idx = self.probs.argmax(-1)
        hard = F.one_hot(idx, self.probs.shape[-1]).to(self.probs.dtype)
        return hard + self.probs - self.probs.detach()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``value``: one-hot ``[..., G, C]`` -> ``[...]``."""
        return (value * self.log_probs).sum((-2, -1))

    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.log_probs).sum((-2, -1))


def categorical_kl(lhs_logits: torch.Tensor, rhs_logits: torch.Tensor) -> torch.Tensor:
    """KL[lhs || rhs] for ``[..., G, C]`` logits, summed over the groups ``G`` -> ``[...]``."""
    lp = torch.log_softmax(at_least_fp32(lhs_logits), -1)  # float32 under bf16 autocast
    rp = torch.log_softmax(at_least_fp32(rhs_logits), -1)
    return (lp.exp() * (lp - rp)).sum((-2, -1))


def bernoulli_log_prob(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """log p(target) of a Bernoulli with ``logits`` (continue head)."""
    logits = at_least_fp32(logits)  # float32 under bf16 autocast (nn/precision.py)
    return -F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none")


def max_entropy(num_classes: int, groups: int = 1) -> float:
    """Entropy of the uniform distribution over ``groups`` x ``num_classes``."""
    return groups * math.log(num_classes)
