"""Experiment files (``experiments/*.toml``): format, loading, validation, expansion to children.

An experiment is ``base`` gin files (a preset) plus named arms, each a small delta (gin files
and/or bindings), run on ``games`` (or ``[tasks.*]``) x ``seeds`` (spec §8). Format::

    name = "ablation_uniform"             # MLflow experiment, ablation tag, runs/<name>/
    base = ["presets/hieros.gin"]          # gin files every arm starts from
    bindings = []                          # optional: lines applied to every arm
    games = ["battle_zone", "breakout"]    # Atari names (checked against ALE); omit for a
                                           # non-Atari env (one game called "default")
    seeds = [42, 41020, 718920]
    baseline = "etbs"                      # optional: the arm reports compare the others with
    steps = 100000                         # optional budget override (Trainer.steps)
    wall_budget_min = 15                   # optional: the wall time one run should fit, in
                                           # minutes at --parallel 2 (reports flag runs over it)

    [arms.etbs]                            # arm = delta against base
    gin_files = ["replay/etbs.gin"]
    [arms.uniform]
    bindings = ["ReplayBuffer.sampler = @uniform"]
    seeds = [42, 41020]                    # optional: this arm runs only these of the file's
                                           # seeds (an expensive arm at fewer seeds)

    [tasks.breakout]                       # instead of games: a named non-Atari task (its env
    gin_files = ["envs/minatar.gin"]       # and budget; see :mod:`hieros_lab.sweep.tasks`)
    bindings = ["minatar.game = 'breakout'"]

    [scale.cpu]                            # `--scale cpu`: tiny budget and model
    steps = 1000
    gin_files = ["scale/tiny.gin"]         # the shared tiny model sizes
    bindings = ["Trainer.train_ratio = 16.0", ...]  # budget settings the sizes file leaves out

Gin order of one child: files = base + arm files + task files + scale files, then bindings =
common + task + scale + arm bindings + game + seed + steps + the MLflow experiment; the last
assignment wins. So the
scale's files (the tiny sizes) win over the base's and an arm's files (``sequence/rssm.gin``'s
full-size RSSM becomes tiny), while every binding, an arm's delta included, wins over any file
(an arm's ``s5.model_dim = 32`` survives ``scale/tiny.gin``), and an arm's bindings win over the
scale's. :func:`load` validates EVERY arm by parsing that full config (without finalizing), so
a bad line, unknown preset or component, duplicate arm or unknown game is one
:class:`~hieros_lab.config.ConfigError` naming the TOML file (and line) before anything runs.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hieros_lab import config
from hieros_lab.config import ConfigError
from hieros_lab.sweep.tasks import Task, check_env, parse_tasks

#: Game label used when an experiment lists no games (non-Atari env fixed by its gin files).
NO_GAME = "default"
_TOP_KEYS = {"name", "description", "base", "bindings", "games", "tasks", "seeds", "steps", "arms",
             "scale", "baseline", "wall_budget_min"}
_ARM_KEYS = {"gin_files", "bindings", "description", "seeds"}
_SCALE_KEYS = {"gin_files", "bindings", "steps", "description"}
_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*$")  # becomes a directory name and an MLflow tag


@dataclass(frozen=True)
class Arm:
    """One arm: the delta against the base."""

    name: str
    gin_files: tuple[str, ...] = ()
    bindings: tuple[str, ...] = ()
    description: str = ""
    seeds: tuple[int, ...] | None = None  # None: the file's seeds; else a subset of them


@dataclass(frozen=True)
class Child:
    """One training run of a sweep: arm x game x seed, with its full gin configuration."""

    arm: str
    game: str
    seed: int
    gin_files: tuple[str, ...]
    bindings: tuple[str, ...]

    @property
    def key(self) -> str:
        """``<arm>/<game>/seed<k>``: the run directory below ``runs/<experiment>/``."""
        return f"{self.arm}/{self.game}/seed{self.seed}"


@dataclass(frozen=True)
class Experiment:
    """A loaded and validated experiment file (``scale`` already applied)."""

    name: str
    path: Path
    base: tuple[str, ...]
    arms: tuple[Arm, ...]
    games: tuple[str, ...]
    seeds: tuple[int, ...]
    bindings: tuple[str, ...] = ()
    steps: int | None = None
    scale: str | None = None
    scale_files: tuple[str, ...] = ()
    scale_bindings: tuple[str, ...] = ()
    atari: bool = True
    game_names: dict[str, str] = field(default_factory=dict)  # label -> ALE CamelCase
    tasks: dict[str, Task] = field(default_factory=dict)  # label -> task (non-Atari files)
    description: str = ""
    baseline: str | None = None  # the arm reports compare every other arm with
    wall_budget_min: float | None = None  # minutes one run should take; None: no budget

    @property
    def run_name(self) -> str:
        """Name of the sweep's MLflow experiment, ablation tag and runs directory."""
        return self.name if self.scale is None else f"{self.name}-{self.scale}"

    def child(self, arm: Arm, game: str, seed: int) -> Child:
        task = self.tasks.get(game, Task(game))
        binds = [*self.bindings, *task.bindings, *self.scale_bindings, *arm.bindings]
        if self.atari:
            binds.append(f"atari.game = '{self.game_names[game]}'")
        binds.append(f"Trainer.seed = {seed}")
        if self.steps is not None:
            binds.append(f"Trainer.steps = {self.steps}")
        binds.append(f"mlflow.experiment = '{self.run_name}'")
        files = (*self.base, *arm.gin_files, *task.gin_files, *self.scale_files)
        return Child(arm.name, game, seed, files, tuple(binds))

    def seeds_of(self, arm: Arm) -> tuple[int, ...]:
        """The seeds ``arm`` runs: its own ``seeds`` (a subset of the file's) or the file's."""
        return self.seeds if arm.seeds is None else arm.seeds

    def seeds_line(self) -> str:
        """``5 seeds`` or ``5 seeds (hieros_2: 3, hieros_3: 3)`` where arms run fewer."""
        own = [f"{a.name}: {len(a.seeds)}" for a in self.arms if a.seeds is not None]
        return f"{len(self.seeds)} seeds" + (f" ({', '.join(own)})" if own else "")

    def expand(self) -> list[Child]:
        """Every child, arm-major then game then seed."""
        return [self.child(arm, game, seed)
                for arm in self.arms for game in self.games for seed in self.seeds_of(arm)]


# -- reading the TOML -------------------------------------------------------------------------
def _fail(path: Path, msg: str, line: int | None = None) -> ConfigError:
    where = f"{path}:{line}" if line else f"{path}"
    return ConfigError(f"{where}: {msg}")


def _line_of(text: str, needle: str) -> int | None:
    """First line of ``text`` containing ``needle`` (for file:line in messages)."""
    for num, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return num
    return None


def _str_list(path: Path, data: dict, key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"{where}{key} must be a list of strings, got {value!r}")
    return tuple(value)


def _steps(path: Path, data: dict, where: str) -> int | None:
    steps = data.get("steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
        raise _fail(path, f"{where}steps must be a positive integer, got {steps!r}")
    return steps


def _wall_budget(path: Path, data: dict, text: str) -> float | None:
    value = data.get("wall_budget_min")
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)
                              or value <= 0):
        raise _fail(path, f"wall_budget_min must be a positive number of minutes, got {value!r}",
                    _line_of(text, "wall_budget_min"))
    return None if value is None else float(value)


def _check_keys(path: Path, data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(path, f"{where}unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse the file; duplicate tables (e.g. two ``[arms.x]``) become a ConfigError."""
    if not path.is_file():
        raise ConfigError(f"experiment file not found: {path}")
    text = path.read_text()
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        hint = " (duplicate arm name?)" if "twice" in msg or "overwrite" in msg else ""
        raise _fail(path, f"invalid TOML: {msg}{hint}") from None


def _arm_seeds(path: Path, body: dict, name: str, seeds: tuple[int, ...],
               line: int | None) -> tuple[int, ...] | None:
    """An arm's own ``seeds``: a non-empty subset of the file's, so that every arm is compared
    with the random policy (measured on the file's seeds) on seeds it was measured on."""
    if "seeds" not in body:
        return None
    own = _seeds(path, body, f"arms.{name}.", line)
    extra = [s for s in own if s not in seeds]
    if extra:
        raise _fail(path, f"arms.{name}.seeds {list(own)} lists {extra}, which the file's seeds "
                    f"{list(seeds)} do not: an arm runs a subset of them", line)
    return own


def _arms(path: Path, data: dict, text: str, seeds: tuple[int, ...]) -> tuple[Arm, ...]:
    table = data.get("arms")
    if not isinstance(table, dict) or not table:
        raise _fail(path, "no arms: add at least one [arms.<name>] table")
    arms, seen = [], {}
    for name, body in table.items():
        line = _line_of(text, f"[arms.{name}]") or _line_of(text, name)
        if not _NAME.match(name):
            raise _fail(path, f"arm name {name!r} must be letters, digits, '_', '-', '.'", line)
        if name.lower() in seen:  # run directories must differ on case-insensitive disks too
            raise _fail(path, f"duplicate arm name {name!r} (also {seen[name.lower()]!r})", line)
        seen[name.lower()] = name
        if not isinstance(body, dict):
            raise _fail(path, f"arms.{name} must be a table", line)
        _check_keys(path, body, _ARM_KEYS, f"arms.{name}: ")
        arms.append(Arm(name, _str_list(path, body, "gin_files", f"arms.{name}."),
                        _str_list(path, body, "bindings", f"arms.{name}."),
                        str(body.get("description", "")),
                        _arm_seeds(path, body, name, seeds, line)))
    return tuple(arms)


def _games(path: Path, data: dict, text: str) -> tuple[tuple[str, ...], dict[str, str], bool]:
    games = _str_list(path, data, "games", "")
    if not games:
        return (NO_GAME,), {}, False
    from hieros_lab.envs.atari import resolve_game

    names = {}
    for game in games:
        if not _NAME.match(game):
            raise _fail(path, f"game {game!r} must be a plain name", _line_of(text, game))
        try:
            names[game] = resolve_game(game)
        except ValueError as err:
            raise _fail(path, str(err), _line_of(text, f'"{game}"')) from None
    if len(set(names.values())) != len(names):
        raise _fail(path, f"a game is listed twice: {list(games)}", _line_of(text, "games"))
    return games, names, True


def _seeds(path: Path, data: dict, where: str = "", line: int | None = None) -> tuple[int, ...]:
    seeds = data.get("seeds", [0])
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise _fail(path, f"{where}seeds must be a non-empty list of integers, got {seeds!r}",
                    line)
    if len(set(seeds)) != len(seeds):
        raise _fail(path, f"{where}seeds: a seed is listed twice: {seeds}", line)
    return tuple(seeds)


def _scale(path: Path, data: dict, scale: str | None) -> dict:
    scales = data.get("scale", {})
    if not isinstance(scales, dict):
        raise _fail(path, "scale must be a table of [scale.<name>] tables")
    for name, body in scales.items():
        if not isinstance(body, dict):
            raise _fail(path, f"scale.{name} must be a table")
        _check_keys(path, body, _SCALE_KEYS, f"scale.{name}: ")
    if scale is None:
        return {}
    if scale not in scales:
        raise _fail(path, f"no [scale.{scale}] table (has: {sorted(scales) or 'none'})")
    return scales[scale]


def parse_experiment(path: str | Path, scale: str | None = None) -> Experiment:
    """Read and check the file's structure (no gin parsing; see :func:`load`)."""
    path = Path(path)
    data, text = read_toml(path)
    _check_keys(path, data, _TOP_KEYS, "")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(path, f"name must be a plain name (letters, digits, '_-.'), got {name!r}")
    base = _str_list(path, data, "base", "")
    if not base:
        raise _fail(path, "base must list at least one gin file, e.g. ['presets/hieros.gin']")
    games, game_names, atari = _games(path, data, text)
    tasks = parse_tasks(path, data, text)
    if tasks and atari:
        raise _fail(path, "list either games (Atari) or [tasks.*] tables, not both",
                    _line_of(text, "games"))
    if tasks:
        games = tuple(t.name for t in tasks)
    chosen = _scale(path, data, scale)
    steps = _steps(path, chosen, f"scale.{scale}.") or _steps(path, data, "")
    seeds = _seeds(path, data)
    arms = _arms(path, data, text, seeds)
    baseline = data.get("baseline")
    if baseline is not None and baseline not in {a.name for a in arms}:
        raise _fail(path, f"baseline {baseline!r} is not an arm (arms: "
                    f"{', '.join(a.name for a in arms)})", _line_of(text, "baseline"))
    return Experiment(
        name=name, path=path, base=base, arms=arms, games=games,
        seeds=seeds, bindings=_str_list(path, data, "bindings", ""), steps=steps,
        scale=scale, scale_files=_str_list(path, chosen, "gin_files", f"scale.{scale}."),
        scale_bindings=_str_list(path, chosen, "bindings", f"scale.{scale}."), atari=atari,
        game_names=game_names, tasks={t.name: t for t in tasks},
        description=str(data.get("description", "")), baseline=baseline,
        wall_budget_min=_wall_budget(path, data, text))


# -- validation by parsing every arm ----------------------------------------------------------
def _locate(exp: Experiment, text: str, arm: Arm, err: ConfigError,
            task: str | None = None) -> ConfigError:
    """Re-word a gin error of ``arm`` so it names the TOML file and line of the culprit."""
    msg = str(err)
    who = f"arm {arm.name!r}" + (f", task {task!r}" if task else "")
    match = re.match(r"^--gin_binding '(.+?)': (.*)$", msg) or re.match(
        r"^--gin_binding \"(.+?)\": (.*)$", msg)
    if match:
        binding, reason = match.groups()
        line = _line_of(text, binding)
        return _fail(exp.path, f"{who}: {binding!r}: {reason}", line)
    found = re.search(r"gin file not found: (\S+)", msg)
    line = _line_of(text, found.group(1)) if found else _line_of(text, f"[arms.{arm.name}]")
    return _fail(exp.path, f"{who}: {msg}", line)


def validate(exp: Experiment) -> None:
    """Parse every arm's full config (base + arm + scale + first game + first seed).

    Games differ only in ``atari.game`` (already checked against ALE) and seeds only in
    ``Trainer.seed``, so one parse per arm covers every child. Tasks differ in files and
    bindings: every arm is parsed with every task, and each task's env is built once (with the
    first arm) so an env that cannot be made fails here. Leaves gin cleared.
    """
    import gin

    text = exp.path.read_text()
    games = tuple(exp.tasks) or exp.games[:1]
    try:
        for game in games:
            for i, arm in enumerate(exp.arms):
                child = exp.child(arm, game, exp.seeds[0])
                try:
                    config.parse(child.gin_files, child.bindings, finalize=False)
                except ConfigError as err:
                    raise _locate(exp, text, arm, err, game if exp.tasks else None) from None
                if exp.tasks and i == 0:
                    check_env(f"{exp.path}:{_line_of(text, f'[tasks.{game}]')}: task {game!r}")
    finally:
        gin.clear_config()


def load(path: str | Path, scale: str | None = None) -> Experiment:
    """Read, check and validate an experiment file; raises ConfigError naming file and line."""
    exp = parse_experiment(path, scale)
    validate(exp)
    return exp
