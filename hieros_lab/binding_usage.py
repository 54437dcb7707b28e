"""Which parsed gin bindings the built object graph used: two dicts in, verdicts out (no gin state).

Inputs are gin's parsed bindings (``gin.config._CONFIG``: ``(scope, selector) -> {param: value}``)
and its operative config (``gin.config._OPERATIVE_CONFIG``: ``(scope at call time, selector) ->
{param: value the call used}``). gin resolves a call made inside scope ``a/b`` by merging the
bindings of the partial scopes ``''``, ``'a'``, ``'a/b'``, the most specific winning, and leaves a
parameter the caller passes explicitly out of the operative entry (the binding for it is then
silently ignored). Hence a binding ``(bscope, selector, param)`` is *used* iff some operative
entry ``(oscope, selector)`` contains ``param``, ``bscope`` is a prefix of ``oscope`` by
``/``-components, and no more specific partial scope of ``oscope`` binds ``param`` as well.
A macro (``NAME = value``, selector ``gin.macro``) is used iff gin recorded its evaluation.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: gin's selector of macro bindings (``NAME = value`` is stored as ``(NAME, MACRO).value``).
MACRO = "gin.macro"

Table = Mapping[tuple[str, str], Mapping[str, Any]]


class Reason(enum.Enum):
    """Why a binding had no effect."""

    NOT_BUILT = "its configurable is never called in this run"
    MACRO_UNUSED = "the macro is never evaluated in this run"
    WRONG_SCOPE = "its configurable is never called in the binding's scope"
    CALLER = "the caller passes the parameter explicitly, so the binding has no effect"
    SHADOWED = "a more specific scope's binding of the parameter wins wherever it is called"

    @property
    def inactive(self) -> bool:
        """A binding for a part this run does not build: legitimate (shared files, deltas).

        The other reasons mean the part WAS built and the binding still did not reach it.
        """
        return self in (Reason.NOT_BUILT, Reason.MACRO_UNUSED)


@dataclass(frozen=True)
class Unused:
    """One binding ``scope/selector.param`` that no call used, and why.

    ``scopes``: the call scopes that matter for the reason: where the configurable was called
    (WRONG_SCOPE), where the caller passed the parameter (CALLER), or the scopes whose bindings
    won instead (SHADOWED); empty otherwise.
    """

    scope: str
    selector: str
    param: str
    reason: Reason
    scopes: tuple[str, ...] = ()


def components(scope: str) -> list[str]:
    """``'a/b'`` -> ``['a', 'b']``; the root scope ``''`` -> ``[]``."""
    return scope.split("/") if scope else []


def is_prefix(outer: str, inner: str) -> bool:
    """Whether scope ``outer`` encloses scope ``inner`` ('a' encloses 'a/b', not 'ab')."""
    head = components(outer)
    return components(inner)[:len(head)] == head


def winning_scope(bindings: Table, call_scope: str, selector: str, param: str) -> str | None:
    """The partial scope of ``call_scope`` whose binding of ``param`` gin applies (None: none)."""
    parts = components(call_scope)
    for i in range(len(parts), -1, -1):
        scope = "/".join(parts[:i])
        if param in bindings.get((scope, selector), {}):
            return scope
    return None


def unused_bindings(bindings: Table, operative: Table) -> list[Unused]:
    """Every binding of ``bindings`` that no call in ``operative`` used, in parse order."""
    calls: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for (scope, selector), used in operative.items():
        calls.setdefault(selector, []).append((scope, used))
    out = []
    for (scope, selector), params in bindings.items():
        for param in params:
            reason = _verdict(bindings, calls.get(selector, []), scope, selector, param)
            if reason is not None:
                out.append(Unused(scope, selector, param, *reason))
    return out


def _verdict(bindings: Table, calls: list[tuple[str, Mapping[str, Any]]], scope: str,
             selector: str, param: str) -> tuple[Reason, tuple[str, ...]] | None:
    """None when used, else (reason, the scopes behind it)."""
    if selector == MACRO:  # recorded under the macro's own name, as (NAME, MACRO)
        return None if any(s == scope for s, _ in calls) else (Reason.MACRO_UNUSED, ())
    if not calls:
        return Reason.NOT_BUILT, ()
    inside = [(s, used) for s, used in calls if is_prefix(scope, s)]
    if not inside:
        return Reason.WRONG_SCOPE, tuple(sorted({s for s, _ in calls}))
    winners = [(s, winning_scope(bindings, s, selector, param)) for s, used in inside
               if param in used]
    if any(w == scope for _, w in winners):
        return None
    passed = tuple(sorted({s for s, used in inside if param not in used}))
    if passed:
        return Reason.CALLER, passed
    return Reason.SHADOWED, tuple(sorted({w for _, w in winners if w is not None}))
