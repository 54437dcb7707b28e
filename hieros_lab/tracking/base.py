"""The ``tracker`` swap point: the Tracker protocol, the in-memory NullTracker, shared helpers.

Only the trainer (and the sweep) talk to a tracker; components return metric dicts (DESIGN.md
§1). The helpers here turn what the trainer has into what MLflow accepts -- valid key names,
clipped values, finite metrics, the operative gin config as flat params -- and are shared by
every implementation, so the NullTracker records exactly what the MLflow one would send.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from gin import config_parser

from hieros_lab.registry import register

#: MLflow's limits (mlflow.utils.validation): key length, param and tag value lengths.
MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
TRUNCATION_MARKER = "...[truncated]"
STATUSES = ("FINISHED", "FAILED", "KILLED")

# MLflow's allowed key characters on every platform (it also allows ':' except on Windows, where
# a team server may run, so ':' is replaced too).
_BAD_KEY_CHARS = re.compile(r"[^/\w.\- ]")


class TrackerError(RuntimeError):
    """The tracking store is unusable or refused a request; the message names the store."""


@runtime_checkable
class Tracker(Protocol):
    """Receives one run's params, tags, metrics and artifacts."""

    def check(self) -> None:
        """Raise TrackerError (one line, naming the store) unless the store is usable."""

    def start(self, run_name: str, run_id: str | None = None,
              parent_run_id: str | None = None) -> str:
        """Create a run (nested under ``parent_run_id`` if given), or resume ``run_id`` (status
        RUNNING again, same id). Returns the run id."""

    def log_params(self, params: dict[str, Any]) -> None:
        """Log params (values str()-ed and clipped to the store's limit)."""

    def set_tags(self, tags: dict[str, str]) -> None:
        """Set tags (values clipped to the store's limit)."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Log metrics at ``step`` (env steps); non-finite values are skipped and counted."""

    def last_steps(self, keys: list[str]) -> dict[str, int]:
        """The largest step logged so far for each of ``keys`` that has a value (resume)."""

    def log_text(self, text: str, artifact_file: str) -> None:
        """Store ``text`` as the artifact ``artifact_file`` (e.g. ``config/command.txt``)."""

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None:
        """Copy a local file (or directory) into the run's artifacts under ``artifact_dir``."""

    def log_image(self, image: np.ndarray, artifact_file: str) -> None:
        """Store a uint8 ``[H, W, 3]`` image as the PNG artifact ``artifact_file``."""

    def end(self, status: str) -> None:
        """Terminate the run with FINISHED, FAILED or KILLED; later calls do nothing."""

    @property
    def run_id(self) -> str | None:
        """Id of the current (or last) run; None before :meth:`start`."""

    @property
    def skipped_nonfinite(self) -> dict[str, int]:
        """Metric key -> how many non-finite values were dropped so far."""


# -- shared helpers -------------------------------------------------------------------------------
def sanitize_key(key: str) -> str:
    """A valid MLflow key for ``key``: bad characters -> ``_``, no empty/``.``/``..`` path parts
    (MLflow rejects names that normalise to another path), at most 250 characters."""
    parts = [p for p in _BAD_KEY_CHARS.sub("_", str(key)).split("/") if p]
    parts = ["_" * len(p) if p in (".", "..") else p for p in parts]
    return ("/".join(parts) or "_")[:MAX_KEY_LENGTH]


def clip_value(value: Any, limit: int) -> str:
    """``str(value)``, cut to ``limit`` characters with :data:`TRUNCATION_MARKER` at the end."""
    text = str(value)
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def prepare_params(params: Mapping[str, Any]) -> dict[str, str]:
    return {sanitize_key(k): clip_value(v, MAX_PARAM_LENGTH) for k, v in params.items()}


def prepare_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    return {sanitize_key(k): clip_value(v, MAX_TAG_LENGTH) for k, v in tags.items()}


def split_finite(metrics: Mapping[str, Any]) -> tuple[dict[str, float], list[str]]:
    """(sanitised key -> float for finite values, original keys of non-finite values)."""
    finite: dict[str, float] = {}
    skipped: list[str] = []
    for key, value in metrics.items():
        number = float(value)
        if math.isfinite(number):
            finite[sanitize_key(key)] = number
        else:
            skipped.append(key)
    return finite, skipped


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"run status must be one of {STATUSES}, got {status!r}")


def check_image(image: np.ndarray) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[-1] == 3):
        shape = getattr(image, "shape", None)
        raise ValueError(f"image must be a uint8 [H, W, 3] array, got {type(image).__name__} "
                         f"{getattr(image, 'dtype', '')} {shape}")


# -- gin operative config -> params ---------------------------------------------------------------
class _Reference(NamedTuple):
    name: str
    evaluate: bool


class _Macro(NamedTuple):
    name: str


class _Delegate(config_parser.ParserDelegate):
    """Keeps references and macros symbolic: flattening must not need the configurables."""

    def configurable_reference(self, scoped_configurable_name: str, evaluate: bool) -> _Reference:
        return _Reference(scoped_configurable_name, evaluate)

    def macro(self, macro_name: str) -> _Macro:
        return _Macro(macro_name)


def _format(value: Any, macros: Mapping[str, Any], depth: int = 0) -> str:
    """Gin-like text of a parsed value; macros defined in the same config are substituted so a
    param shows the value in effect (``WorldModel.lr = %LR`` -> ``0.0001``)."""
    if isinstance(value, _Reference):
        return f"@{value.name}" + ("()" if value.evaluate else "")
    if isinstance(value, _Macro):
        if value.name in macros and depth < 16:  # depth guards macro cycles
            return _format(macros[value.name], macros, depth + 1)
        return f"%{value.name}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v, macros, depth) for v in value) + "]"
    if isinstance(value, tuple):
        items = [_format(v, macros, depth) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_format(k, macros, depth)}: {_format(v, macros, depth)}"
                               for k, v in value.items()) + "}"
    return repr(value)


def flatten_gin_params(operative_config: str) -> dict[str, str]:
    """Gin config text -> ``{"scope/Selector.param": value}`` strings for MLflow params.

    Uses gin's own parser, so comments, multi-line values, ``\\`` continuations, binding blocks,
    ``import`` and ``include`` lines (skipped) behave exactly as in gin. Macros (``LR = 1e-4``)
    appear under their own name and are substituted where used; references stay symbolic
    (``@s5()``); top-level strings lose their quotes; values are clipped to MLflow's 6000
    characters. Later bindings override earlier ones, as in gin. Raises ValueError on bad syntax.
    """
    try:
        statements = list(config_parser.ConfigParser(operative_config, _Delegate()))
    except SyntaxError as err:
        raise ValueError(f"cannot parse gin config: {err}") from None
    bindings: dict[str, Any] = {}
    macros: dict[str, Any] = {}
    for stmt in statements:
        if not isinstance(stmt, config_parser.BindingStatement):
            continue  # import / include lines / block headers carry no value
        name = f"{stmt.scope}/{stmt.selector}" if stmt.scope else stmt.selector
        if stmt.arg_name:
            bindings[f"{name}.{stmt.arg_name}"] = stmt.value
        else:  # a binding without a parameter name is a macro definition
            macros[name] = stmt.value
            bindings[name] = stmt.value
    flat = {key: value if isinstance(value, str) else _format(value, macros)
            for key, value in bindings.items()}
    return {key: clip_value(text, MAX_PARAM_LENGTH) for key, text in flat.items()}


# -- the in-memory tracker ------------------------------------------------------------------------
@register("tracker", "null")
class NullTracker:
    """Records everything in memory (no disk, no MLflow): for tests and library use.

    What it stores is what MlflowTracker would send (same key sanitising, clipping, finite
    filter, param-change refusal). Inspect ``params``, ``tags``, ``metrics`` (key -> [(step,
    value)]), :meth:`metrics_log`, ``texts``, ``files``, ``images``, ``status``.
    """

    def __init__(self) -> None:
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.metrics: dict[str, list[tuple[int, float]]] = {}
        self.texts: dict[str, str] = {}
        self.files: list[tuple[str, str | None]] = []
        self.images: dict[str, np.ndarray] = {}
        self.status: str | None = None
        self.run_name: str | None = None
        self.parent_run_id: str | None = None
        self._log: list[tuple[int, dict[str, float]]] = []
        self._skipped: dict[str, int] = {}
        self._run_id: str | None = None
        self._runs = 0

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def skipped_nonfinite(self) -> dict[str, int]:
        return dict(self._skipped)

    def check(self) -> None:
        """Memory is always usable."""

    def start(self, run_name: str, run_id: str | None = None,
              parent_run_id: str | None = None) -> str:
        if self.status == "RUNNING":
            raise TrackerError(f"null tracker: run {self._run_id} is still running")
        if run_id is None:
            self._runs += 1
            run_id = f"null-{self._runs}"
        self._run_id, self.run_name, self.parent_run_id = run_id, run_name, parent_run_id
        self.status = "RUNNING"
        return run_id

    def _require_run(self) -> None:
        if self.status != "RUNNING":
            raise TrackerError("null tracker: no running run; call start() first")

    def log_params(self, params: dict[str, Any]) -> None:
        self._require_run()
        new = prepare_params(params)
        changed = {k for k, v in new.items() if self.params.get(k, v) != v}
        if changed:  # MLflow refuses to change a logged param; fail the same way
            raise TrackerError(f"null tracker: changing logged params {sorted(changed)}")
        self.params.update(new)

    def set_tags(self, tags: dict[str, str]) -> None:
        self._require_run()
        self.tags.update(prepare_tags(tags))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._require_run()
        finite, skipped = split_finite(metrics)
        for key in skipped:
            self._skipped[key] = self._skipped.get(key, 0) + 1
        for key, value in finite.items():
            self.metrics.setdefault(key, []).append((int(step), value))
        self._log.append((int(step), finite))

    def last_steps(self, keys: list[str]) -> dict[str, int]:
        out = {}
        for key in keys:
            history = self.metrics.get(sanitize_key(key))
            if history:
                out[key] = max(step for step, _ in history)
        return out

    def metrics_log(self) -> list[tuple[int, dict[str, float]]]:
        """One ``(step, metrics)`` entry per :meth:`log_metrics` call, in call order."""
        return [(step, dict(m)) for step, m in self._log]

    def log_text(self, text: str, artifact_file: str) -> None:
        self._require_run()
        self.texts[artifact_file] = text

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None:
        self._require_run()
        self.files.append((str(local_path), artifact_dir))

    def log_image(self, image: np.ndarray, artifact_file: str) -> None:
        self._require_run()
        check_image(image)
        self.images[artifact_file] = image.copy()

    def end(self, status: str) -> None:
        check_status(status)
        if self.status == "RUNNING":
            self.status = status
