"""One training run from the command line: config -> tracker -> trainer, with a clean ending.

The MLflow run always ends FINISHED, FAILED (with the traceback as an artifact) or KILLED
(SIGINT/SIGTERM, after a checkpoint so the run can be resumed); it is never left RUNNING.
Signals are taken at safe points (:mod:`hieros_lab.trainer.stopping`): at once while the run is
being built (no run exists yet), before the next env step while it trains, at once during an
evaluation, and after the write while it checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from hieros_lab import config
from hieros_lab.tracking import keys
from hieros_lab.tracking.base import Tracker, flatten_gin_params
from hieros_lab.trainer import checkpoint as ckpt
from hieros_lab.trainer import config_record
from hieros_lab.trainer.host import host_tags
from hieros_lab.trainer.loop import Trainer
from hieros_lab.trainer.run_lock import run_dir_lock
from hieros_lab.trainer.stopping import StopRequest

RUN_FILE = "run.json"


class RunFinished(Exception):
    """``--resume`` of a run that already trained to ``Trainer.steps``: nothing to do, and the
    tracked run is left as it is (no new evaluation, no status change)."""


@dataclass
class RunSpec:
    """What a run directory remembers so ``--resume`` rebuilds the same configuration."""

    gin_files: list[str]
    bindings: list[str]
    command: str
    run_id: str | None = None
    extra_bindings: list[str] = field(default_factory=list)
    parent_run_id: str | None = None  # a sweep's parent run: this run is nested under it
    tags: dict[str, str] = field(default_factory=dict)  # e.g. ablation/arm/game/seed of a sweep
    #: Bindings of parts this run never built (e.g. ``rssm.*`` in an S5 run), recomputed by
    #: config.check_unused_bindings at every start and logged as ``config/inactive_bindings.txt``.
    inactive_bindings: list[str] = field(default_factory=list)
    #: The env step at which training last ended FINISHED; None while a part is under way or
    #: after it stopped early. Written after the tracker ended the run, so a run killed during
    #: its final evaluation (checkpoint at ``Trainer.steps``, no final score) is not "finished".
    completed_step: int | None = None
    #: Digest of the parsed config the run started with (``config.gin`` beside this file);
    #: a resume or a sweep re-run refuses when the same files and bindings now parse to
    #: another config (:mod:`hieros_lab.trainer.config_record`). None: recorded before it.
    config_digest: str | None = None

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / RUN_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, run_dir: Path) -> RunSpec:
        path = run_dir / RUN_FILE
        if not path.is_file():
            raise config.ConfigError(f"cannot resume: {path} not found (not a run directory)")
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as err:
            raise config.ConfigError(f"cannot resume: {path} is damaged: {err}") from None


def default_run_dir() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=config.GIN_DIR.parent, timeout=5, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def to_stderr(message: str) -> None:
    sys.stderr.write(message + "\n")


def run_training(spec: RunSpec, run_dir: Path, resume: bool, progress: bool = True,
                 say: Callable[[str], None] = to_stderr) -> dict:
    """Parse, check, build, train. Raises ConfigError/TrackerError before a run exists, and
    KeyboardInterrupt (after ending the run KILLED) on SIGTERM or SIGINT. ``say`` gets the
    one-line notes for the user (where the run is, what a resume continues from)."""
    stop = StopRequest()
    with stop.installed(), contextlib.ExitStack() as held:
        with stop.interruptible():  # nothing exists yet that a signal could leave half-made
            held.enter_context(run_dir_lock(run_dir, say=say))  # one process per run dir
            trainer, tracker = _build(spec, run_dir, resume)
        # From here a signal is taken at safe points: the run opened below always ends.
        run_id = tracker.start(describe_run(spec, trainer, tracker),
                               run_id=spec.run_id if resume else None,
                               parent_run_id=spec.parent_run_id)
        spec.run_id = run_id
        spec.completed_step = None  # until this part ends FINISHED, a resume trains (or evals)
        spec.save(run_dir)
        _announce(tracker, run_dir, say)
        result = _tracked(trainer, tracker, spec, run_dir, resume, progress, stop, say)
        spec.completed_step = trainer.step
        spec.save(run_dir)
    return result


def _announce(tracker: Tracker, run_dir: Path, say: Callable[[str], None]) -> None:
    """One line: the run directory and where to watch the run."""
    link = getattr(tracker, "ui_link", None)
    try:
        where = f"; MLflow: {link(tracker.run_id)}" if link is not None else ""
    except Exception:  # noqa: BLE001  (a link is a convenience: never fail a run over it)
        where = ""
    say(f"hieros-lab: run {tracker.run_id} in {run_dir}{where}")


def _build(spec: RunSpec, run_dir: Path, resume: bool) -> tuple[Trainer, Tracker]:
    """The checked config, the trainer (built) and its tracker (not started)."""
    recorded = _check_record(spec, run_dir, resume)
    bindings = [*spec.bindings, *spec.extra_bindings]
    paths = config.parse(spec.gin_files, bindings)
    try:
        trainer = Trainer()
        tracker = trainer.make_tracker()
    except (ValueError, TypeError) as err:
        raise config.ConfigError(_first_line(err)) from None
    check = getattr(tracker, "check", None)
    if check is not None:
        check()
    try:
        trainer.build()  # unknown game, bad sizes, ... fail here, before a run is opened
    except (ValueError, TypeError, KeyError) as err:
        raise config.ConfigError(_first_line(err)) from None
    # A binding the built graph ignored is an error too (inactive ones are kept for the record).
    spec.inactive_bindings = config.check_unused_bindings(paths, bindings)
    done = finished_step(spec, run_dir, trainer.steps) if resume else None
    if done is not None:  # before the tracker opens the run, so the run stays as it is
        raise RunFinished(f"run {run_dir} is finished: trained to step {done} (Trainer.steps = "
                          f"{trainer.steps}); nothing to do (raise Trainer.steps to train on)")
    if spec.config_digest is None or not (run_dir / config_record.CONFIG_FILE).exists():
        # A new run, or one started before runs kept this record: from now on it has one.
        spec.config_digest = config_record.digest(recorded)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / config_record.CONFIG_FILE).write_text(recorded)
    return trainer, tracker


def _check_record(spec: RunSpec, run_dir: Path, resume: bool) -> str:
    """The parsed config of the run's files and bindings (without ``--resume`` extras). A
    resume whose files now parse to another config than the run started with is refused: it
    would continue the run, and its record, under a config it did not start with."""
    if not resume:
        spec.config_digest = None  # a new run in this directory: record afresh
    text = config_record.parsed_text(spec.gin_files, spec.bindings)
    change = config_record.compare(run_dir, spec.config_digest, text) if resume else None
    if change is not None:
        raise config.ConfigError(
            f"cannot resume {run_dir}: its gin files and bindings now parse to another config "
            f"than the run started with ({change}). Restore them, start a new run directory, "
            "or pass a deliberate change with --gin_binding on the resume")
    return text


def describe_run(spec: RunSpec, trainer: Trainer, tracker: Tracker) -> str:
    """An MLflow run name that says what the run is: preset (the first ``presets/`` file, else
    the last gin file), sequence model(s), env (with its game or task), seed; e.g.
    ``quickstart-s5-control:CartPole-v1-seed0``. A sweep's child names itself by its
    ``mlflow.runName`` tag (arm/game/seed) instead."""
    files = [Path(f) for f in spec.gin_files]
    presets = [f for f in files if f.parent.name == "presets"]
    preset = (presets or files[-1:] or [Path("run")])[0].stem
    tags = trainer.tags(tracker)
    env = tags.get(keys.component_tag("env"), "env")
    task = config.query(f"{env}.game") or config.query(f"{env}.name")
    if task:
        env = f"{env}:{task}"
    sequence = tags.get(keys.component_tag("sequence"), "").replace(",", "+")
    return "-".join(p for p in (preset, sequence, env, f"seed{trainer.seed}") if p)


def finished_step(spec: RunSpec, run_dir: Path, steps: int) -> int | None:
    """The step a run finished at when it has nothing left to train, else None: its last part
    ended FINISHED at the step of its latest checkpoint, and that step reaches ``steps``."""
    done = spec.completed_step
    if done is None or done < steps:
        return None
    return done if ckpt.checkpoint_step(run_dir / "checkpoints") == done else None


def _tracked(trainer: Trainer, tracker: Tracker, spec: RunSpec, run_dir: Path, resume: bool,
             progress: bool, stop: StopRequest, say: Callable[[str], None]) -> dict:
    root = run_dir / "checkpoints"
    status = "FAILED"
    try:
        # A resume of a run stopped before its first checkpoint starts it over, in its run.
        restored = resume and trainer.restore(root, tracker)
        if resume:
            how = (f"on a fresh env ({trainer.fresh_reason}): the run is tagged "
                   f"{keys.RESUME_INEXACT}" if trainer.fresh_reason else
                   "with its envs and acting state" + (", as if it had never stopped"
                                                       if trainer.resumed_exactly else ""))
            say(f"hieros-lab: resumed from step {trainer.step} {how}" if restored else
                f"hieros-lab: no checkpoint under {root} yet: training from step 0 in the "
                "same run")
            for note in trainer.resume_notes if restored else ():
                say(f"hieros-lab: resumed {note}")
        stop.check()
        operative = config.operative_config()
        (run_dir / "operative_config.gin").write_text(operative)
        if not restored:  # (again, after such a restart: MLflow accepts identical params)
            tracker.log_params({**flatten_gin_params(operative),
                                **trainer.agent.derived_params()})
            tracker.log_text(operative, keys.OPERATIVE_CONFIG)
            tracker.log_text(spec.command + "\n", keys.COMMAND)
            tracker.log_text("".join(f"{b}\n" for b in spec.inactive_bindings),
                             keys.INACTIVE_BINDINGS)
        levels = str(trainer.agent.num_levels)
        tracker.set_tags({**trainer.tags(tracker), keys.HIERARCHY_LEVELS: levels,
                          keys.GIT_SHA: git_sha(), keys.SEED: str(trainer.seed),
                          **host_tags(), **spec.tags})
        if trainer.inexact_resumes:  # fresh env or other machine: not the uninterrupted run
            tracker.set_tags({keys.RESUME_INEXACT: str(trainer.inexact_resumes)})
        result = trainer.fit(tracker, root, progress=progress, stop=stop)
        status = "FINISHED"
        return result
    except KeyboardInterrupt:
        status = "KILLED"
        trainer.save_on_stop(root, tracker, stop)  # resumable from where it stopped
        raise
    except BaseException:
        tracker.log_text(traceback.format_exc(), keys.ERROR)
        _save_after_failure(trainer, root, tracker)
        raise
    finally:
        tracker.end(status)


def _save_after_failure(trainer: Trainer, root: Path, tracker: Tracker) -> None:
    """A failed run keeps the metrics that led to the failure (the last ones matter most when
    something diverged): checkpoint where it failed, which sends them. If even that fails, they
    are dropped rather than sent without a checkpoint, which a resume would then log twice."""
    if trainer.agent is None or trainer.step == 0:
        return
    try:
        trainer.save(root, tracker)
    except Exception:  # noqa: BLE001  (the original error is the one to report)
        with contextlib.suppress(Exception):  # the store itself may be what failed
            tracker.log_text(traceback.format_exc(), keys.ERROR_SAVE)


def _first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    context = next((ln for ln in lines if ln.startswith("In call to configurable")), "")
    head = lines[0] if lines else type(err).__name__
    return f"{head} ({context})" if context else head


def run_command(argv: Sequence[str]) -> str:
    return "hieros-lab " + " ".join(argv)
