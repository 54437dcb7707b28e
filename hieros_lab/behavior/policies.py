"""The ``policy`` swap point: the actor's action distribution, one per kind of action space.

A policy is a registered class whose instances turn the actor network's raw output into a
distribution over ``[..., A]`` action vectors and an executed action into what the env takes:

* ``categorical`` (discrete actions, and every HIEROS subgoal code): G independent one-hot
  categoricals with a uniform mix (spec §4.5); the env gets the argmax index.
* ``bounded_normal`` (``Box`` actions scaled to [-1, 1]): DreamerV3's bounded normal, an
  independent normal per dimension with mean tanh(m) and a standard deviation squashed into
  [min_std, max_std]; samples are clipped to [-1, 1] (straight through for gradients), and the
  env gets that vector.

``continuous`` says which action spaces a policy serves; the level refuses a mismatch at build
time. Shapes: A action width, G groups (categorical only).
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from hieros_lab.nn.distributions import UnimixCategorical
from hieros_lab.nn.precision import at_least_fp32
from hieros_lab.registry import register


@runtime_checkable
class ActionDist(Protocol):
    """A distribution over action vectors ``[..., A]``."""

    def sample(self) -> torch.Tensor:
        """An executable action ``[..., A]``, no gradient."""

    def rsample(self) -> torch.Tensor:
        """A sample that carries a gradient to the distribution's parameters (straight-through
        or reparameterised), for learners that backpropagate through the dynamics."""

    def mode(self) -> torch.Tensor:
        """The greedy action ``[..., A]`` (evaluation), no gradient."""

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        """``[..., A]`` -> ``[...]``."""

    def entropy(self) -> torch.Tensor:
        """``[...]``."""


@runtime_checkable
class Policy(Protocol):
    """Builds :class:`ActionDist` s from raw actor outputs (see the module doc)."""

    #: True: serves ``Box`` action spaces; False: ``Discrete`` ones (and subgoal codes).
    continuous: bool

    def out_dim(self, num_actions: int, groups: int) -> int:
        """Width of the raw actor output for ``num_actions`` (in ``groups``)."""

    def dist(self, raw: torch.Tensor, groups: int) -> ActionDist:
        """``raw [..., out_dim]`` -> a distribution over ``[..., A]``."""

    def env_action(self, action: torch.Tensor) -> int | np.ndarray:
        """One executed action ``[A]`` -> what ``env.step`` takes."""


class CategoricalActions:
    """:class:`UnimixCategorical` over ``G`` groups, seen as flattened one-hot ``[..., A]``."""

    def __init__(self, logits: torch.Tensor, groups: int, unimix: float) -> None:
        self.base = UnimixCategorical(logits.unflatten(-1, (groups, -1)), unimix)

    def sample(self) -> torch.Tensor:
        return self.base.sample().flatten(-2)

    def rsample(self) -> torch.Tensor:
        return self.base.rsample().flatten(-2)

    def mode(self) -> torch.Tensor:
        # Exact one-hot argmax (the straight-through mode is off by rounding once detached).
        probs = self.base.probs.detach()
        return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype).flatten(-2)

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        return self.base.log_prob(action.unflatten(-1, self.base.probs.shape[-2:]))

    def entropy(self) -> torch.Tensor:
        return self.base.entropy()

    @property
    def probs(self) -> torch.Tensor:
        """``[..., G, C]`` probabilities after the mix."""
        return self.base.probs

    @property
    def log_probs(self) -> torch.Tensor:
        """``[..., G, C]`` log-probabilities after the mix."""
        return self.base.log_probs


@register("policy", "categorical")
class Categorical:
    """One-hot actions from G categoricals with a ``unimix`` uniform mix (spec §4.5)."""

    continuous = False

    def __init__(self, unimix: float = 0.01) -> None:
        if not 0.0 <= unimix < 1.0:
            raise ValueError(f"categorical.unimix must be in [0, 1), got {unimix}")
        self.unimix = unimix

    def out_dim(self, num_actions: int, groups: int) -> int:
        if groups < 1 or num_actions % groups:
            raise ValueError(f"{num_actions} actions cannot form {groups} equal groups")
        return num_actions

    def dist(self, raw: torch.Tensor, groups: int) -> CategoricalActions:
        return CategoricalActions(raw, groups, self.unimix)

    def env_action(self, action: torch.Tensor) -> int:
        return int(action.argmax())


class BoundedNormalActions:
    """Independent normals per action dimension, samples clipped to [-1, 1] (see module doc)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean, self.std = mean, std

    def rsample(self) -> torch.Tensor:
        raw = self.mean + self.std * torch.randn_like(self.mean)
        return raw + (raw.clamp(-1.0, 1.0) - raw).detach()  # clipped, straight through

    def sample(self) -> torch.Tensor:
        with torch.no_grad():
            return (self.mean + self.std * torch.randn_like(self.mean)).clamp(-1.0, 1.0)

    def mode(self) -> torch.Tensor:
        return self.mean.detach()  # tanh keeps it inside [-1, 1]

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        z = (action - self.mean) / self.std
        return (-0.5 * z.square() - self.std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (0.5 + 0.5 * math.log(2 * math.pi) + self.std.log()).sum(-1)


@register("policy", "bounded_normal")
class BoundedNormal:
    """Continuous actions in [-1, 1] from DreamerV3's bounded normal (one per dimension).

    Mean tanh(m), std (max_std - min_std) sigmoid(s + 2) + min_std, DreamerV3's defaults 0.1
    and 1.0; samples clipped to [-1, 1]."""

    continuous = True

    def __init__(self, min_std: float = 0.1, max_std: float = 1.0) -> None:
        if not 0.0 < min_std <= max_std:
            raise ValueError(f"bounded_normal needs 0 < min_std <= max_std, got {min_std}, "
                             f"{max_std}")
        self.min_std, self.max_std = min_std, max_std

    def out_dim(self, num_actions: int, groups: int) -> int:
        if groups != 1:
            raise ValueError(f"bounded_normal has no action groups (got {groups})")
        return 2 * num_actions  # a mean and a spread per dimension

    def dist(self, raw: torch.Tensor, groups: int) -> BoundedNormalActions:
        mean, spread = at_least_fp32(raw).chunk(2, -1)  # float32 under bf16 autocast
        std = (self.max_std - self.min_std) * torch.sigmoid(spread + 2.0) + self.min_std
        return BoundedNormalActions(torch.tanh(mean), std)

    def env_action(self, action: torch.Tensor) -> np.ndarray:
        return action.detach().clamp(-1.0, 1.0).cpu().numpy().astype(np.float32)


def kind_of(continuous: bool) -> str:
    """How errors name an action space's kind."""
    return "continuous (Box)" if continuous else "discrete"
