"""Reward mixers: weighted reward sum, per-critic advantage mixing (spec §4.4, §5.6, §12.16)."""

from __future__ import annotations

import gin
import pytest
import torch

import hieros_lab.components  # noqa: F401  (registrations)
from hieros_lab import registry
from hieros_lab.rewards.mixers import ExtrinsicOnlyMixer, PerCriticMixer, WeightedSumMixer

H, N = 6, 5


def _rewards(*names, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(H, N, generator=gen) for k in names}


def test_weighted_sum_equals_the_hand_sum():
    r = _rewards("extrinsic", "subgoal", "novelty")
    mixer = WeightedSumMixer().bind(["extrinsic", "subgoal", "novelty"])
    assert mixer.heads() == ["total"]
    out = mixer.head_rewards(r)
    torch.testing.assert_close(out["total"],
                               r["extrinsic"] + 0.3 * r["subgoal"] + 0.1 * r["novelty"])
    custom = WeightedSumMixer({"subgoal": 2.0}).bind(["extrinsic", "subgoal"])
    two = {k: r[k] for k in ("extrinsic", "subgoal")}
    torch.testing.assert_close(custom.head_rewards(two)["total"],
                               r["extrinsic"] + 2.0 * r["subgoal"])
    adv = torch.randn(H - 1, N)
    assert torch.equal(mixer.mix({"total": adv}), adv)


def test_per_critic_mixing_formula():
    """spec §12.16: weights (1, 0.3) and unnormalised advantages give (A_e + 0.3 A_s) / 1.3."""
    mixer = PerCriticMixer({"extrinsic": 1.0, "subgoal": 0.3}).bind(["extrinsic", "subgoal"])
    assert mixer.heads() == ["extrinsic", "subgoal"]
    r = _rewards("extrinsic", "subgoal")
    assert all(torch.equal(mixer.head_rewards(r)[k], r[k]) for k in r)
    a_e, a_s = torch.randn(H - 1, N), torch.randn(H - 1, N)
    torch.testing.assert_close(mixer.mix({"extrinsic": a_e, "subgoal": a_s}),
                               (a_e + 0.3 * a_s) / 1.3)
    middle = PerCriticMixer().bind(["extrinsic", "subgoal", "novelty"])  # paper weights: / 1.4
    a_n = torch.randn(H - 1, N)
    torch.testing.assert_close(middle.mix({"extrinsic": a_e, "subgoal": a_s, "novelty": a_n}),
                               (a_e + 0.3 * a_s + 0.1 * a_n) / 1.4)


def test_extrinsic_only_ignores_other_sources():
    mixer = ExtrinsicOnlyMixer().bind(["extrinsic", "subgoal", "novelty"])
    r = _rewards("extrinsic", "subgoal", "novelty")
    out = mixer.head_rewards(r)
    assert list(out) == ["extrinsic"] and torch.equal(out["extrinsic"], r["extrinsic"])
    with pytest.raises(ValueError, match="extrinsic"):
        ExtrinsicOnlyMixer().bind(["subgoal"])


@pytest.mark.parametrize("cls, name", [(WeightedSumMixer, "weighted_sum"),
                                       (PerCriticMixer, "per_critic"),
                                       (ExtrinsicOnlyMixer, "extrinsic_only")])
def test_weight_errors_name_the_binding(cls, name):
    with pytest.raises(ValueError, match=rf"{name}\.weights.*'novelty'"):
        cls({"novelty": 0.1}).bind(["extrinsic", "subgoal"])
    with pytest.raises(ValueError, match=rf"{name}\.weights.*'curiosity'"):
        cls().bind(["extrinsic", "curiosity"])  # no default weight for an unknown source
    assert cls({"curiosity": 0.2}).bind(["extrinsic", "curiosity"]).heads()


def test_unbound_mixer_and_wrong_keys():
    with pytest.raises(RuntimeError, match="bind"):
        PerCriticMixer().heads()
    mixer = PerCriticMixer().bind(["extrinsic", "subgoal"])
    with pytest.raises(ValueError, match="bound"):
        mixer.head_rewards(_rewards("extrinsic"))
    with pytest.raises(ValueError, match="heads"):
        mixer.mix({"extrinsic": torch.zeros(H - 1, N)})
    with pytest.raises(ValueError, match="positive sum"):
        PerCriticMixer({"extrinsic": 0.0, "subgoal": 0.0}).bind(["extrinsic", "subgoal"])
    with pytest.raises(ValueError, match="distinct"):
        PerCriticMixer().bind(["extrinsic", "extrinsic"])


def test_gin_weights_apply():
    gin.parse_config("per_critic.weights = {'extrinsic': 1.0, 'subgoal': 3.0}")
    mixer = registry.configured("reward_mixer", "per_critic")().bind(["extrinsic", "subgoal"])
    a_e, a_s = torch.ones(H - 1, N), torch.zeros(H - 1, N)
    torch.testing.assert_close(mixer.mix({"extrinsic": a_e, "subgoal": a_s}), a_e / 4.0)


WEIGHTED = [WeightedSumMixer, PerCriticMixer, ExtrinsicOnlyMixer]


@pytest.mark.parametrize("cls", WEIGHTED)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mixing_identical_advantages_returns_them(cls, seed):
    """Each weighted mixer is a convex combination of its heads' advantages."""
    gen = torch.Generator().manual_seed(seed)
    keys = ["extrinsic", "subgoal", "novelty"]
    weights = {k: float(w) for k, w in zip(keys, torch.rand(3, generator=gen) * 5 + 0.01,
                                           strict=True)}
    mixer = cls(weights).bind(keys)
    adv = torch.randn(H - 1, N, generator=gen)
    torch.testing.assert_close(mixer.mix({h: adv.clone() for h in mixer.heads()}), adv)


@pytest.mark.parametrize("cls", WEIGHTED)
def test_unknown_source_weight_names_the_source_and_binding(cls):
    with pytest.raises(ValueError) as err:
        cls({"extrinsic": 1.0, "novelty": 0.1}).bind(["extrinsic", "subgoal"])
    name = registry.component_of(cls)[1]
    assert "'novelty'" in str(err.value) and f"{name}.weights" in str(err.value)


@pytest.mark.parametrize("cls", WEIGHTED)
def test_non_finite_weight_is_rejected(cls):
    with pytest.raises(ValueError, match="finite"):
        cls({"extrinsic": float("inf")})
