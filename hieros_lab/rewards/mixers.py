"""Reward mixers (kind ``reward_mixer``): how a level's reward sources reach its actor (spec §5.6).

* ``weighted_sum`` (paper): one critic on r = Σ_k w_k r_k = r_extr + w_g r_g + w_nov r_nov.
* ``per_critic`` (authors' code, spec §4.3-§4.4): one critic per source, actor advantage
  A = Σ_k w_k A_k / Σ_k w_k. With the authors' unnormalised REINFORCE advantages (B3) use it with
  ``ActorCritic.normalize_advantages = False``.
* ``extrinsic_only``: one critic on the extrinsic reward; every other source is ignored.

Weights are keyed by the level's source keys (``"extrinsic"``, ``"subgoal"``, ``"novelty"``).
``weights=None`` (or a partial dict) falls back to the paper's 1.0 / 0.3 / 0.1 (spec §4.4) for
the sources the level has. A weight given for a source the level does not have, or a source left
without any weight, is a ``ValueError`` naming the binding (``<mixer>.weights``) when the mixer
is bound to the level's sources. Mixers are not learned; a level builds its own instance.

Shapes: H horizon (states), N starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from hieros_lab.registry import component_of, register

#: The authors' weights (spec §4.4 / §5.6), also the paper's w_g and w_nov.
DEFAULT_WEIGHTS: dict[str, float] = {"extrinsic": 1.0, "subgoal": 0.3, "novelty": 0.1}


class _WeightedMixer:
    """Shared weight validation and binding; subclasses define the heads and the two maps."""

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.weights_given = dict(weights or {})
        for key, value in self.weights_given.items():
            if not math.isfinite(float(value)):
                raise ValueError(f"{self._binding()}[{key!r}] = {value} is not finite")
        self.sources: list[str] | None = None
        self.weights: dict[str, float] = {}

    def _binding(self) -> str:
        name = (component_of(self) or ("", type(self).__name__))[1]
        return f"{name}.weights"

    def bind(self, sources: Sequence[str]) -> _WeightedMixer:
        """Check the weights against the level's ``sources`` (keys) and attach; returns self."""
        sources = list(sources)
        if not sources or len(set(sources)) != len(sources):
            raise ValueError(f"a reward mixer needs distinct, non-empty sources, got {sources}")
        unknown = sorted(set(self.weights_given) - set(sources))
        if unknown:
            raise ValueError(f"{self._binding()} has a weight for source(s) {unknown} that this "
                             f"level does not have (its sources: {sources})")
        weights = {k: DEFAULT_WEIGHTS[k] for k in sources if k in DEFAULT_WEIGHTS}
        weights.update(self.weights_given)
        missing = [k for k in sources if k not in weights]
        if missing:
            raise ValueError(f"{self._binding()} gives no weight for source(s) {missing} "
                             f"(no default exists for them)")
        self.sources, self.weights = sources, {k: float(weights[k]) for k in sources}
        self._validate()
        return self

    def _validate(self) -> None:
        """Subclass hook: extra checks once bound."""

    def _bound_sources(self) -> list[str]:
        if self.sources is None:
            raise RuntimeError(f"{type(self).__name__} is not bound: call bind(sources) first")
        return self.sources

    def _check_rewards(self, rewards: Mapping[str, torch.Tensor]) -> None:
        sources = self._bound_sources()
        if set(rewards) != set(sources):
            raise ValueError(f"rewards for {sorted(rewards)}, but the mixer is bound to "
                             f"{sorted(sources)}")

    def _check_advantages(self, advantages: Mapping[str, torch.Tensor]) -> None:
        if set(advantages) != set(self.heads()):
            raise ValueError(f"advantages for {sorted(advantages)}, heads are {self.heads()}")

    def heads(self) -> list[str]:
        raise NotImplementedError

    def paid_weights(self) -> dict[str, float]:
        """The bound weights; a mixer that ignores sources overrides this (RewardMixer)."""
        return {k: self.weights[k] for k in self._bound_sources()}


@register("reward_mixer", "weighted_sum")
class WeightedSumMixer(_WeightedMixer):
    """Paper mixing: one critic on the weighted reward sum r = Σ_k w_k r_k (spec §5.6)."""

    HEAD = "total"

    def heads(self) -> list[str]:
        self._bound_sources()
        return [self.HEAD]

    def head_rewards(self, rewards: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self._check_rewards(rewards)
        total = sum(self.weights[k] * rewards[k] for k in self._bound_sources())
        return {self.HEAD: total}

    def mix(self, advantages: Mapping[str, torch.Tensor]) -> torch.Tensor:
        self._check_advantages(advantages)
        return advantages[self.HEAD]


@register("reward_mixer", "per_critic")
class PerCriticMixer(_WeightedMixer):
    """Authors' mixing: one critic per source, A = Σ_k w_k A_k / Σ_k w_k (spec §4.4)."""

    def _validate(self) -> None:
        if sum(self.weights.values()) <= 0.0:
            raise ValueError(f"{self._binding()}: the weights {self.weights} must have a "
                             f"positive sum (it normalises the advantage)")

    def heads(self) -> list[str]:
        return list(self._bound_sources())

    def head_rewards(self, rewards: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self._check_rewards(rewards)
        return {k: rewards[k] for k in self._bound_sources()}

    def mix(self, advantages: Mapping[str, torch.Tensor]) -> torch.Tensor:
        self._check_advantages(advantages)
        total = sum(self.weights[k] * advantages[k] for k in self.heads())
        return total / sum(self.weights.values())


@register("reward_mixer", "extrinsic_only")
class ExtrinsicOnlyMixer(_WeightedMixer):
    """One critic on w_extr · r_extr (w_extr = 1 by default); other sources are ignored."""

    HEAD = "extrinsic"

    def _validate(self) -> None:
        if self.HEAD not in self.weights:
            raise ValueError(f"extrinsic_only needs an 'extrinsic' source, the level has "
                             f"{self.sources}")

    def heads(self) -> list[str]:
        self._bound_sources()
        return [self.HEAD]

    def head_rewards(self, rewards: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self._check_rewards(rewards)
        return {self.HEAD: self.weights[self.HEAD] * rewards[self.HEAD]}

    def mix(self, advantages: Mapping[str, torch.Tensor]) -> torch.Tensor:
        self._check_advantages(advantages)
        return advantages[self.HEAD]

    def paid_weights(self) -> dict[str, float]:
        """Only the extrinsic reward is paid: every other source weighs 0."""
        return {k: self.weights[k] if k == self.HEAD else 0.0 for k in self._bound_sources()}
