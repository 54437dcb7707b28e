"""The registry: kinds, registration, lookup, and gin integration."""

from __future__ import annotations

import gin
import pytest

import hieros_lab.components  # noqa: F401
from hieros_lab import registry

REQUIRED = {"sequence": {"s5", "rssm"}, "sampler": {"uniform"}, "env": {"atari", "control", "fake"},
            "tracker": {"mlflow", "null"}}


@pytest.mark.parametrize("kind", sorted(REQUIRED))
def test_required_components_are_registered(kind):
    names = set(registry.entries(kind))
    assert REQUIRED[kind] <= names
    for entry in registry.entries(kind).values():
        assert entry.description, f"{kind}.{entry.name} has no docstring"


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown component kind"):
        registry.register("sequnce")
    with pytest.raises(KeyError):
        registry.entries("sequnce")


def test_duplicate_name_is_rejected():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("sequence", "s5")(type("Other", (), {}))


def test_component_of_and_configured_apply_gin_bindings():
    gin.parse_config("uniform.seed = 7")
    sampler = registry.configured("sampler", "uniform")()
    assert registry.component_of(sampler) == ("sampler", "uniform")
    plain = registry.entries("sampler")["uniform"].target()
    # direct construction ignores gin; the configured one received seed 7
    assert not (plain.sample(10**6, 10**6, 5) == sampler.sample(10**6, 10**6, 5)).all()


def test_a_name_used_by_two_kinds_is_rejected_naming_both():
    with pytest.raises(ValueError) as err:
        registry.register("sampler", "s5")(type("Other", (), {}))
    msg = str(err.value)
    assert "sequence" in msg and "sampler" in msg and "'s5'" in msg
    assert "s5" not in registry.entries("sampler")  # nothing half-registered


def test_shipped_component_names_are_unique_across_kinds():
    seen: dict[str, str] = {}
    for kind in registry.kinds():
        for name in registry.entries(kind):
            assert name not in seen, f"{name!r} is both a {seen[name]} and a {kind} component"
            seen[name] = kind
