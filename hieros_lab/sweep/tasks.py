"""Named non-Atari tasks of an experiment file: ``[tasks.<name>]`` tables.

An Atari experiment lists ``games`` (checked against ALE). Any other env is a *task*: gin files
and bindings that pick and size the env and the budget, e.g.::

    [tasks.breakout]
    description = "MinAtar Breakout, 32x32 pixels"
    gin_files = ["envs/minatar.gin", "validation/minatar.gin"]
    bindings = ["minatar.game = 'breakout'"]

The task's files come after the arm's (an arm's preset includes ``envs/atari100k.gin``; the
task's env file must win) and its bindings before the arm's (an arm's delta wins over the task's
budget). A task's name is the ``game`` label of its runs (tag, run directory, report column).
:func:`check_envs` builds each task's env once, so a task whose env cannot be made (an unknown
MinAtar game, a bad size) fails when the file is loaded, before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hieros_lab.config import ConfigError

_KEYS = {"gin_files", "bindings", "description"}
_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*$")


@dataclass(frozen=True)
class Task:
    """One named task: the gin delta that selects and sizes its env and budget."""

    name: str
    gin_files: tuple[str, ...] = ()
    bindings: tuple[str, ...] = ()
    description: str = ""  # shown under the task's heading in reports


def _where(path: Path, text: str, name: str) -> str:
    for num, line in enumerate(text.splitlines(), 1):
        if f"[tasks.{name}]" in line:
            return f"{path}:{num}"
    return str(path)


def _strings(path: Path, body: dict, key: str, name: str) -> tuple[str, ...]:
    value = body.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: tasks.{name}.{key} must be a list of strings, got {value!r}")
    return tuple(value)


def parse_tasks(path: Path, data: dict, text: str) -> tuple[Task, ...]:
    """The file's ``[tasks.*]`` tables in file order (empty if it has none)."""
    table = data.get("tasks", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: tasks must be a table of [tasks.<name>] tables")
    tasks, seen = [], {}
    for name, body in table.items():
        where = _where(path, text, name)
        if not _NAME.match(name):
            raise ConfigError(f"{where}: task name {name!r} must be letters, digits, '_-.'")
        if name.lower() in seen:
            raise ConfigError(f"{where}: duplicate task name {name!r} "
                              f"(also {seen[name.lower()]!r})")
        seen[name.lower()] = name
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: tasks.{name} must be a table")
        unknown = sorted(set(body) - _KEYS)
        if unknown:
            raise ConfigError(f"{where}: tasks.{name}: unknown key(s) {unknown}; "
                              f"allowed: {sorted(_KEYS)}")
        files = _strings(path, body, "gin_files", name)
        if not files:
            raise ConfigError(f"{where}: tasks.{name} must list its env's gin file in gin_files, "
                              "e.g. ['envs/minatar.gin']")
        description = body.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{where}: tasks.{name}.description must be a string, "
                              f"got {description!r}")
        tasks.append(Task(name, files, _strings(path, body, "bindings", name), description))
    return tuple(tasks)


def check_env(where: str) -> None:
    """Build the env of the config gin currently holds once (seed 0), then close it.

    Raises ConfigError prefixed with ``where`` when the env cannot be made: the factory's own
    message (e.g. "unknown MinAtar game 'brekout'") names the bad value.
    """
    from hieros_lab.trainer.loop import Trainer

    try:
        env = Trainer().env_factory(seed=0)
    except Exception as err:  # noqa: BLE001 - any failure to make the env is the task's fault
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""  # gin appends lines
        raise ConfigError(f"{where}: its env cannot be made: {type(err).__name__}: {first}"
                          ) from None
    env.close()
