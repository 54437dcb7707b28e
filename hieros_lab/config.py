"""Parse gin files and bindings into the one operative configuration, with one-line errors.

Every user mistake (missing file, unknown configurable or parameter, syntax error, a value of the
wrong type) becomes a :class:`ConfigError` whose message names the file and line (or the
command-line binding) before anything is built or any run is opened.
"""

from __future__ import annotations

import importlib.util  # noqa: F401  (gin 0.5 needs importlib.util imported for search paths)
import logging
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gin
import gin.config as gin_config

from hieros_lab import registry
from hieros_lab.binding_usage import Reason, Unused, unused_bindings

#: The repository's gin directory; file names are also looked up relative to it.
GIN_DIR = Path(__file__).resolve().parent.parent / "gin"


class ConfigError(ValueError):
    """A configuration problem, with a one-line message naming the culprit."""


def resolve_gin_file(name: str | Path) -> Path:
    """Find ``name`` as given, else relative to the repository's ``gin/`` directory."""
    path = Path(name)
    for candidate in (path, GIN_DIR / path):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"gin file not found: {name} (looked in . and {GIN_DIR})")


def _one_line(err: BaseException, bindings: Sequence[str]) -> str:
    """Turn gin's multi-line message into 'file:line: message (source line)'."""
    text = str(err).strip() or type(err).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    msg, where, src = lines[0], "", ""
    for i, ln in enumerate(lines[1:], 1):
        m = re.match(r'In file "(.+)", line (\d+)', ln)
        if m:
            where = f"{m.group(1)}:{m.group(2)}"
            src = lines[i + 1] if i + 1 < len(lines) and lines[i + 1] != "^" else ""
        elif ln.startswith("In bindings string line"):
            num = int(ln.rsplit(" ", 1)[-1])
            known = 0 < num <= len(bindings)
            where = f"--gin_binding {bindings[num - 1]!r}" if known else "bindings"
    out = f"{where}: {msg}" if where else msg
    return f"{out}  [{src}]" if src and src not in out else out


def _drop_search_misses(record: logging.LogRecord) -> bool:
    """gin logs 'Path not found' at ERROR for every search-path miss of an include."""
    return not str(record.msg).startswith("Path not found")


def _use_plain_file_reader_only() -> None:
    """Drop gin's 'config on the Python path' reader.

    It turns ``include 'sequence/s5.gin'`` into a package lookup and crashes when any package
    named ``sequence`` (or ``envs``, ...) without ``__file__`` is importable. Our includes are
    plain files relative to ``gin/``.
    """
    from gin import resource_reader

    gin_config._FILE_READERS[:] = [
        entry for entry in gin_config._FILE_READERS
        if entry[1] is not resource_reader.system_path_file_exists]


def parse(gin_files: Sequence[str | Path], bindings: Sequence[str] = (),
          finalize: bool = True) -> list[Path]:
    """Clear gin, parse ``gin_files`` then ``bindings``, validate value types.

    Returns the resolved file paths. Raises :class:`ConfigError` on any problem.
    """
    import hieros_lab.components  # noqa: F401  (registers every component before parsing)
    import hieros_lab.trainer.loop  # noqa: F401  (and every configurable of the object graph)

    paths = [resolve_gin_file(f) for f in gin_files]
    gin.clear_config()
    _use_plain_file_reader_only()
    if str(GIN_DIR) not in gin_config._LOCATION_PREFIXES:
        gin.add_config_file_search_path(str(GIN_DIR))
    root_logger = logging.getLogger()
    root_logger.addFilter(_drop_search_misses)
    try:
        for path in paths:
            _parse_one(lambda p=path: gin.parse_config_file(str(p)), bindings)
        for binding in bindings:
            _parse_one(lambda b=binding: gin.parse_config(b), bindings, binding)
    finally:
        root_logger.removeFilter(_drop_search_misses)
    validate_types(paths, bindings)
    if finalize:
        gin.finalize()
    return paths


def _parse_one(parse_fn, bindings: Sequence[str], binding: str | None = None) -> None:
    """Run one gin parse; turn any error into a one-line ConfigError naming its source."""
    try:
        parse_fn()
    except Exception as err:  # gin raises ValueError, SyntaxError, OSError, TokenError, ...
        gin.clear_config()
        message = _one_line(err, bindings)
        if binding is not None and "--gin_binding" not in message:
            message = f"--gin_binding {binding!r}: {message}"
        raise ConfigError(message) from err


def _accepts(hint: Any, value: Any) -> bool | None:
    """Whether ``value`` fits the simple type ``hint``; None when the hint is not checkable."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        results = [_accepts(h, value) for h in typing.get_args(hint)]
        if any(r is True for r in results):
            return True
        # A member we cannot check (e.g. dict[str, float] in `dict[str, float] | None`) may
        # accept the value: unverifiable, not wrong.
        return None if any(r is None for r in results) else False
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list) or hint in (tuple, list):
        return isinstance(value, tuple | list)
    return None


def _written_lines(paths: Sequence[Path]) -> list[tuple[Path, int, str]]:
    """Every line of ``paths`` in gin's parse order, each ``include`` expanded in place."""
    out: list[tuple[Path, int, str]] = []
    seen: set[Path] = set()

    def read(path: Path) -> None:
        if path in seen or not path.is_file():
            return
        seen.add(path)
        for num, line in enumerate(path.read_text().splitlines(), 1):
            out.append((path, num, line))
            included = _INCLUDE.match(line)
            if included:
                name = included.group(1)
                found = [c for c in (Path(name), GIN_DIR / name) if c.is_file()]
                if found:
                    read(found[0].resolve())

    for path in paths:
        read(Path(path))
    return out


_INCLUDE = re.compile(r"""^\s*include\s+['"](.+?)['"]""")


def _find_location(selector: str, param: str, paths: Sequence[Path],
                   bindings: Sequence[str], scope: str = "") -> str:
    """Where ``scope/selector.param`` was last assigned: ``--gin_binding '...'`` or file:line.

    Bindings are searched first (gin applies them after the files), then the files with their
    includes, last line first: the last assignment is the one gin keeps. ``selector`` may be a
    full gin selector (the file may spell it shorter or longer); a macro is ``(NAME, gin.macro)``.
    """
    if selector == "gin.macro":
        target = re.escape(scope)
    else:
        name = re.escape(selector.rsplit(".", 1)[-1])
        scoped = f"{re.escape(scope)}/" if scope else ""
        target = rf"{scoped}(?:[\w.]+\.)?{name}\.{re.escape(param)}"
    pattern = re.compile(rf"^\s*{target}\s*=", re.MULTILINE)
    for binding in reversed(bindings):
        if pattern.search(binding):
            return f"--gin_binding {binding!r}"
    for path, num, line in reversed(_written_lines(paths)):
        if pattern.search(line):
            return f"{path}:{num}"
    return "config"


def validate_types(paths: Sequence[Path] = (), bindings: Sequence[str] = ()) -> None:
    """Check every literal binding against the annotated type of its parameter."""
    for (scope, selector), params in gin_config._CONFIG.items():
        configurable = gin_config._REGISTRY.get(selector)
        if configurable is None:
            continue
        target = configurable.wrapped
        fn = target.__init__ if isinstance(target, type) else target
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable annotations: nothing to check
            continue
        for param, value in params.items():
            if param not in hints or type(value).__module__.startswith("gin"):
                continue  # references and macros are resolved later
            ok = _accepts(hints[param], value)
            if ok is False:
                where = _find_location(selector, param, paths, bindings, scope)
                prefix = f"{scope}/" if scope else ""
                raise ConfigError(
                    f"{where}: {prefix}{selector.rsplit('.', 1)[-1]}.{param} = {value!r}: "
                    f"expected {_hint_name(hints[param])}, got {type(value).__name__}")


def check_unused_bindings(paths: Sequence[Path] = (), bindings: Sequence[str] = ()) -> list[str]:
    """After the object graph is built: a binding that had no effect is a :class:`ConfigError`.

    Compares gin's parsed bindings with its operative config (the rules are in
    :mod:`hieros_lab.binding_usage`). Two cases are errors, because the configurable WAS built
    and the binding still did not reach it, which is always a mistake (a typo'd or wrong scope, a
    value the code hard-wires):

    * the selector is called somewhere, but never inside the binding's scope
      (``level5/WorldModel.lr`` in a 3-level agent), or only more specific scopes' bindings of
      the parameter ever apply (``WorldModel.lr`` next to ``level0/WorldModel.lr``, one level);
    * every call in the binding's scope passes the parameter explicitly (``uniform.seed``: the
      replay buffer passes the seed), so gin drops the binding.

    Bindings of a selector that is never called at all are INACTIVE, not errors: the graph is
    conditional (RSSM or S5, 1..N levels, novelty from level k) and shared files legitimately
    bind parts a given run does not build (``rssm.deter_dim`` of scale/tiny.gin in an S5 run,
    ``SubgoalAutoencoder.*`` of presets/hieros.gin plus hierarchy/levels_1.gin). Since nothing
    tells such a line apart from a binding of a part the user forgot to enable, this is the one
    kind of unused binding that passes, and it is recorded in the run
    (``config/inactive_bindings.txt``). Likewise a macro that is never evaluated. Every part is
    built before this check runs (the agent builds its abstractions with its levels), so nothing
    is mistaken for unbuilt because it is built later. Limitation: a level-scoped binding
    (``level2/...``) in a file shared by runs with fewer levels is a wrong-scope error.

    Returns the inactive bindings as one-line ``where: binding: why`` strings (for the record);
    raises ConfigError naming the first error's binding, where it was written, and why.
    """
    kinds = {f"{kind}.{name}": kind for kind in registry.kinds() for name in registry.entries(kind)}
    inactive, errors = [], []
    for item in unused_bindings(gin_config._CONFIG, gin_config._OPERATIVE_CONFIG):
        where = _find_location(item.selector, item.param, paths, bindings, item.scope)
        line = f"{where}: {_unused_label(item)}: {_unused_reason(item, kinds)}"
        (inactive if item.reason.inactive else errors).append(line)
    if errors:
        more = f" (and {len(errors) - 1} more unused binding(s))" if len(errors) > 1 else ""
        raise ConfigError(errors[0] + more)
    return inactive


def _short(selector: str) -> str:
    """The shortest unambiguous spelling of a registered selector ('WorldModel', 's5')."""
    try:
        return gin_config._REGISTRY.minimal_selector(selector)
    except KeyError:
        return selector


def _unused_label(item: Unused) -> str:
    if item.selector == "gin.macro":
        return f"macro {item.scope}"
    scope = f"{item.scope}/" if item.scope else ""
    return f"{scope}{_short(item.selector)}.{item.param}"


def _scope_list(scopes: Sequence[str]) -> str:
    return ", ".join(repr(s) if s else "the top level" for s in scopes)


def _unused_reason(item: Unused, kinds: dict[str, str]) -> str:
    """Why ``item`` had no effect, in words, naming the scopes involved."""
    short = _short(item.selector)
    if item.reason is Reason.NOT_BUILT and item.selector in kinds:
        return f"inactive: component {kinds[item.selector]} {short!r} is not used in this run"
    if item.reason is Reason.NOT_BUILT:
        return f"inactive: {short} is not built in this run (checked once the graph is built)"
    if item.reason is Reason.MACRO_UNUSED:
        return "inactive: the macro is never evaluated in this run"
    if item.reason is Reason.WRONG_SCOPE:
        return (f"{short} is never called in scope {item.scope!r} (only in "
                f"{_scope_list(item.scopes)}), so the binding has no effect")
    if item.reason is Reason.CALLER:
        return (f"the caller of {short} passes {item.param} explicitly (in "
                f"{_scope_list(item.scopes)}), so the binding has no effect")
    winners = ", ".join(f"{s}/{short}.{item.param}" if s else f"{short}.{item.param}"
                        for s in item.scopes)
    return f"{winners} overrides it wherever {short} is called, so the binding has no effect"


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def operative_config() -> str:
    """The operative gin config of everything built so far (after construction)."""
    return gin.operative_config_str()


def query(binding: str, default: Any = None) -> Any:
    """Value of ``Selector.param`` in the parsed config, or ``default``."""
    try:
        return gin.query_parameter(binding)
    except ValueError:
        return default


def configurable(name: str) -> Any:
    """The gin-configured callable registered as ``name`` (e.g. ``"Level"``, ``"Agent"``).

    Parts of the object graph are registered with gin but not replaced by it, so calling the
    plain class ignores every binding; library code and tests that build a part outside the
    trainer (benchmarks, unit tests after :func:`parse`) call this instead.
    """
    try:
        return gin_config._REGISTRY.get_match(name).wrapper
    except (KeyError, AttributeError):
        raise ConfigError(f"no gin configurable or registered component named {name!r}") from None
