"""The component registry: `register(kind)` = gin registration + an enumerable kind table.

A component is a plain class (or factory function). Registering it

* makes it referable from gin files as ``@name`` or ``@kind.name`` (gin module = kind), and
* records it under ``kind -> name`` so that the CLI can list it, the contract tests can be
  parametrized over it, and the trainer can tag MLflow runs with the registered name.

A name is unique across all kinds, so ``@name`` and ``name.param`` are never ambiguous.

Registration does not change the class: direct Python construction ignores gin bindings, which
keeps unit tests independent of any parsed config. Only objects built through gin references
receive bindings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import gin

T = TypeVar("T")

#: Every swap point, with a one-line description. A kind must be declared here before use so a
#: typo in ``register("sequnce")`` fails at import time instead of creating a new, empty kind.
KINDS: dict[str, str] = {
    "sequence": "sequence model of the world model (prior/posterior latent dynamics)",
    "sampler": "replay sampler choosing which [B, T] windows to train on",
    "env": "environment factory returning a gymnasium.Env",
    "tracker": "experiment tracker receiving params, tags, metrics and artifacts",
    "reward_source": "reward of a level's imagined states (extrinsic, subgoal, novelty)",
    "reward_mixer": "how a level's reward sources become critics and the actor's advantage",
    "entropy_input": "which latent distribution's entropy the actor sees at real states",
    "policy": "the actor's action distribution (categorical: discrete; bounded normal: Box)",
    "actor_grad": "how the actor's gradient is estimated (REINFORCE, or through the dynamics)",
}


@dataclass(frozen=True)
class Entry:
    """One registered component."""

    kind: str
    name: str
    target: Any
    description: str


_TABLE: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}

#: Attribute set on registered classes so the trainer can recover ``(kind, name)`` from instances.
COMPONENT_ATTR = "__hieros_component__"


def _first_doc_line(obj: Any) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def register(kind: str, name: str | None = None) -> Callable[[T], T]:
    """Class/function decorator registering a component under ``kind`` with gin name ``name``.

    Example::

        @register("sequence", "s5")
        class S5Sequence(nn.Module): ...

    then in gin: ``WorldModel.sequence = @s5`` and ``s5.num_blocks = 4``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; declared kinds: {sorted(KINDS)}")

    def decorate(target: T) -> T:
        reg_name = name or getattr(target, "__name__", None)
        if not reg_name:
            raise ValueError(f"cannot infer a registry name for {target!r}")
        if reg_name in _TABLE[kind]:
            raise ValueError(f"{kind} component {reg_name!r} is already registered")
        # One name, one component: `@name` in gin (and the CLI's listing) must not depend on
        # which kind's module happened to be imported last.
        other = next((k for k, table in _TABLE.items() if reg_name in table), None)
        if other is not None:
            raise ValueError(f"{kind} component {reg_name!r}: the name is already registered "
                             f"as a {other} component (names are unique across kinds: "
                             f"{other}, {kind})")
        # Functions keep the attribute through gin's functools.wraps (it copies __dict__).
        setattr(target, COMPONENT_ATTR, (kind, reg_name))
        gin.register(reg_name, module=kind)(target)
        _TABLE[kind][reg_name] = Entry(kind, reg_name, target, _first_doc_line(target))
        return target

    return decorate


def kinds() -> dict[str, str]:
    """Kind name -> description, for every declared kind."""
    return dict(KINDS)


def entries(kind: str) -> dict[str, Entry]:
    """Registered components of ``kind`` (name -> Entry). Import ``hieros_lab.components`` first."""
    if kind not in _TABLE:
        raise KeyError(f"unknown component kind {kind!r}; declared kinds: {sorted(KINDS)}")
    return dict(_TABLE[kind])


def component_of(obj: Any) -> tuple[str, str] | None:
    """(kind, name) of a registered component instance or class, else None."""
    return getattr(obj, COMPONENT_ATTR, None)


def configured(kind: str, name: str) -> Callable[..., Any]:
    """The component ``kind.name`` as gin builds it: calling it applies the parsed bindings.

    (Registration leaves the class itself untouched; this returns gin's configured wrapper.)
    """
    import gin.config as gin_config

    entries(kind)[name]  # KeyError with the kind's names if unknown
    return gin_config._REGISTRY.get_match(f"{kind}.{name}").wrapper
