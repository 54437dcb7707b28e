"""``hieros-lab sweep``: one experiment file -> ``hieros-lab train`` children under a parent run.

Layout: ``runs/<experiment>/sweep.json`` (parent run id, last status of each child) and one run
directory per child, ``runs/<experiment>/<arm>/<game>/seed<k>`` with its ``run.json``, checkpoints
and ``train.log``. A re-run reuses the parent run, skips children whose MLflow run is FINISHED,
resumes the others from their checkpoints (``--resume``) and starts the rest. The parent ends
FINISHED when every child finished, FAILED if any failed, KILLED on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import fnmatch
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from hieros_lab.config import ConfigError
from hieros_lab.sweep.experiment import Child, Experiment, load
from hieros_lab.sweep.runner import STOPPED, Job, run_local
from hieros_lab.tracking import keys
from hieros_lab.tracking.mlflow_tracker import MlflowTracker
from hieros_lab.trainer.run_lock import LOCK_FILE, dir_lock
from hieros_lab.trainer.session import RUN_FILE
from hieros_lab.trainer.stopping import StopRequest

SWEEP_FILE = "sweep.json"
LOG_FILE = "train.log"
LOG_TAIL_CHARS = 4000
EXIT_FAILED, EXIT_INTERRUPTED = 1, 130


@dataclass
class SweepOptions:
    parallel: int = 1
    ray_address: str | None = None
    dry_run: bool = False
    scale: str | None = None
    runs_dir: Path = Path("runs")
    only: tuple[str, ...] = ()  # run only the children whose key matches one of these globs


def select_children(exp: Experiment, only: Sequence[str]) -> list[Child]:
    """The children of ``exp`` whose key (``arm/game/seed<k>``) matches a glob of ``only``
    (every child when empty). A glob that matches nothing is a ConfigError naming it."""
    children = exp.expand()
    if not only:
        return children
    for pattern in only:
        if not any(fnmatch.fnmatchcase(c.key, pattern) for c in children):
            raise ConfigError(f"--only {pattern!r} matches no child of {exp.path} (children: "
                              f"{', '.join(c.key for c in children[:6])}"
                              f"{', ...' if len(children) > 6 else ''})")
    return [c for c in children if any(fnmatch.fnmatchcase(c.key, p) for p in only)]


def child_tags(exp: Experiment, child: Child) -> dict[str, str]:
    return {keys.ABLATION: exp.run_name, keys.ARM: child.arm, keys.GAME: child.game,
            keys.SEED: str(child.seed), "mlflow.runName": child.key}


def train_command(exp: Experiment, child: Child, run_dir: Path, parent_run_id: str | None,
                  resume: bool) -> list[str]:
    """The exact ``hieros-lab train`` argv of a child (``python -m hieros_lab train ...``)."""
    cmd = ["python", "-m", "hieros_lab", "train", "--no_progress"]
    if resume:  # run.json holds the files and bindings: only tags and parent are repeated
        cmd += ["--resume", str(run_dir)]
    else:
        cmd += ["--run_dir", str(run_dir)]
        cmd += [a for f in child.gin_files for a in ("--gin_file", f)]
        cmd += [a for b in child.bindings for a in ("--gin_binding", b)]
    if parent_run_id:
        cmd += ["--parent_run_id", parent_run_id]
    cmd += [a for k, v in child_tags(exp, child).items() for a in ("--tag", f"{k}={v}")]
    return cmd


def shell_line(cmd: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in ["hieros-lab", *cmd[3:]])


def child_run_id(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / RUN_FILE).read_text()).get("run_id")
    except (OSError, ValueError):
        return None


def decide(run_dir: Path, status_of: Callable[[str], str | None]) -> str:
    """``skip`` (its MLflow run FINISHED), ``resume`` (it opened a run in this store) or
    ``new``. A child stopped before its first checkpoint is resumed too: it starts over in its
    own run, so that the sweep never holds two runs of one child."""
    run_id = child_run_id(run_dir)
    status = status_of(run_id) if run_id is not None else None
    if status == "FINISHED":
        return "skip"
    checkpointed = (run_dir / "checkpoints" / "latest").exists()
    return "resume" if run_id is not None and (status is not None or checkpointed) else "new"


def recorded_digest(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / RUN_FILE).read_text()).get("config_digest")
    except (OSError, ValueError):
        return None


def check_records(exp: Experiment, root: Path, children: Sequence[Child]) -> None:
    """Refuse, before anything runs, a re-run in which a child that already ran (finished or
    resumable) would now get another config: skipping it would report a result of the old
    config as one of the new, resuming it would mix the two in one run. Raises ConfigError
    naming each such child and its first changed binding. Leaves gin cleared."""
    import gin

    from hieros_lab.trainer import config_record

    changed = []
    try:
        for child in children:
            run_dir = root / child.key
            diff = config_record.stale(run_dir, recorded_digest(run_dir), child.gin_files,
                                       child.bindings)
            if diff is not None:
                changed.append(f"{child.key} ({diff})")
    finally:
        gin.clear_config()
    if changed:
        shown = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5
                                          else "")
        raise ConfigError(
            f"{exp.path}: {len(changed)} child run(s) under {root} ran with another config than "
            f"the files give now: {shown}. Their results would mix two configs: move or delete "
            "their run directories (and their MLflow runs) to rerun them, or restore the files")


def sweep_lock(root: Path, experiment_file: Path | str) -> AbstractContextManager[None]:
    """One sweep of an experiment at a time: ``root``'s lock, refused at once if held.

    Two sweeps of one file (say, two ``--only`` subsets side by side) would both resume the
    same parent run, the first to end marking it FINISHED while the other still runs, and each
    would rewrite ``sweep.json`` from its own view. The lock is released by the kernel when its
    holder dies (:func:`~hieros_lab.trainer.run_lock.dir_lock`)."""
    return dir_lock(root, wait_s=0.0, busy=lambda pid: (
        f"{experiment_file}: another sweep of this experiment is running (pid {pid}, lock "
        f"{root / LOCK_FILE}). Wait for it to end or stop it (Ctrl-C), then re-run: it skips "
        "finished children and resumes the rest. To run more children at once, use one sweep "
        "with --parallel N"))


def dry_run(exp: Experiment, root: Path, say: Callable[[str], None],
            only: Sequence[str] = ()) -> int:
    children = select_children(exp, only)
    say(f"experiment {exp.run_name} ({exp.path}): {len(exp.arms)} arms x {len(exp.games)} "
        f"{'tasks' if exp.tasks else 'games'} x {exp.seeds_line()} = {len(children)} runs "
        f"under {root}")
    for child in children:
        command = train_command(exp, child, root / child.key, None, False)
        say(f"{child.key}\n  {shell_line(command)}")
    return 0


class Sweep:
    """One execution of a sweep: parent run, child bookkeeping, the final status."""

    def __init__(self, exp: Experiment, root: Path, say: Callable[[str], None],
                 only: Sequence[str] = ()) -> None:
        self.exp, self.root, self.say = exp, root, say
        self.by_key = {c.key: c for c in select_children(exp, only)}
        self.tracker = MlflowTracker(experiment=exp.run_name, system_metrics="off")  # idle
        self.statuses: dict[str, str] = {}
        self.clock: Callable[[], float] = time.monotonic  # the pace and ETA of on_done
        self.began = 0.0  # set when the jobs are made
        self.ended_here = 0  # children that ended in this execution (skipped ones excluded)

    # -- MLflow --------------------------------------------------------------------------------
    def status_of(self, run_id: str) -> str | None:
        """None: no such run in this store (deleted, or from another store). A store that does
        not answer raises TrackerError rather than passing for "not run"."""
        return self.tracker.status_of(run_id)

    def open_parent(self) -> str:
        state = self._state()
        old = state.get("parent_run_id")
        if old and state.get("tracking_uri") == self.tracker.tracking_uri and self.status_of(old):
            parent = self.tracker.start(f"sweep/{self.exp.run_name}", run_id=old)
        else:
            parent = self.tracker.start(f"sweep/{self.exp.run_name}")
        self.tracker.set_tags({keys.ABLATION: self.exp.run_name, "sweep.file": str(self.exp.path),
                               "sweep.children": str(len(self.by_key))})
        return parent

    def _state(self) -> dict:
        try:
            return json.loads((self.root / SWEEP_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def save_state(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # Children outside this sweep's --only selection keep their last recorded entry.
        children = {k: v for k, v in self._state().get("children", {}).items()
                    if k not in self.statuses}
        children.update({k: {"status": s, "run_id": child_run_id(self.root / k)}
                         for k, s in self.statuses.items()})
        state = {"experiment": self.exp.run_name, "file": str(self.exp.path),
                 "tracking_uri": self.tracker.tracking_uri, "parent_run_id": self.tracker.run_id,
                 "children": dict(sorted(children.items()))}
        (self.root / SWEEP_FILE).write_text(json.dumps(state, indent=2) + "\n")

    # -- children ------------------------------------------------------------------------------
    def jobs(self, parent: str) -> list[Job]:
        self.began = self.clock()
        jobs = []
        for key, child in self.by_key.items():
            run_dir = self.root / key
            action = decide(run_dir, self.status_of)
            if action == "skip":
                self.statuses[key] = "FINISHED"
                continue
            cmd = train_command(self.exp, child, run_dir, parent, action == "resume")
            resume = train_command(self.exp, child, run_dir, parent, True)
            jobs.append(Job(key, tuple(cmd), run_dir / LOG_FILE, tuple(resume)))
            self.statuses[key] = "PENDING"
        return jobs

    def on_done(self, job: Job, code: int) -> None:
        status = "FINISHED" if code == 0 else "KILLED" if code == STOPPED else "FAILED"
        run_id = child_run_id(self.root / job.key)
        if status != "FINISHED":
            self._settle(job, run_id, status, code)
        self.statuses[job.key] = status
        self.save_state()
        done = sum(s in ("FINISHED", "FAILED", "KILLED") for s in self.statuses.values())
        self.ended_here += 1
        self.say(f"[{done}/{len(self.statuses)}] {status:<8} {job.key} (exit {code}; log "
                 f"{job.log_path}){self._pace(len(self.statuses) - done)}")

    def _pace(self, left: int) -> str:
        """``; 35 min so far, about 70 min left``: this execution's pace (its parallelism
        included) applied to the children still to run."""
        spent = self.clock() - self.began
        text = f"; {spent / 60:.0f} min so far"
        if left > 0:
            text += f", about {spent / self.ended_here * left / 60:.0f} min left"
        return text

    def _settle(self, job: Job, run_id: str | None, status: str, code: int) -> None:
        """Make sure a child that did not finish has a terminal MLflow status and its error."""
        tail = _tail(job.log_path)
        tracker = self.tracker
        try:
            if run_id is not None and self.status_of(run_id) == "RUNNING":
                tracker.write_text_to(run_id, tail, keys.ERROR)  # it died without ending its run
                tracker.terminate(run_id, status)
            elif run_id is None and status == "FAILED":  # failed before it opened a run
                name = job.key.replace("/", "_")
                tracker.write_text_to(tracker.run_id, f"exit {code}\n{tail}",
                                      f"errors/{name}.txt")
        except Exception as err:  # bookkeeping must not stop the other children
            self.say(f"warning: could not record the status of {job.key}: {err}")

    def final_status(self) -> str:
        values = set(self.statuses.values())
        if "FAILED" in values:
            return "FAILED"
        return "FINISHED" if values <= {"FINISHED"} else "KILLED"


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return "(no log)"


def run_sweep(path: str | Path, options: SweepOptions,
              say: Callable[[str], None] = print) -> int:
    """Validate, then run every child; returns the exit status (0 all finished, 1 some failed,
    130 interrupted). Bad input raises ConfigError/TrackerError before anything runs."""
    if options.parallel < 1:
        raise ConfigError(f"--parallel must be >= 1, got {options.parallel}")
    stop = StopRequest()  # the runners check it between polls: no store call is cut short
    with stop.installed():
        with stop.interruptible():  # nothing is open yet: a Ctrl-C here just ends the sweep
            exp = load(path, options.scale)
            root = options.runs_dir.resolve() / exp.run_name
            if options.dry_run:
                return dry_run(exp, root, say, options.only)
            sweep = Sweep(exp, root, say, options.only)
            check_records(exp, root, list(sweep.by_key.values()))
            sweep.tracker.check()
            if options.ray_address is not None:
                from hieros_lab.sweep.ray_runner import connect

                connect(options.ray_address)
                if sweep.tracker.scheme == "sqlite":
                    say(f"note: tracking store {sweep.tracker.tracking_uri} is a local sqlite "
                        "file; Ray workers on other machines cannot reach it (set "
                        "MLFLOW_TRACKING_URI to an `mlflow server` for a multi-machine cluster)")
        with sweep_lock(root, exp.path):  # a second sweep of this file is refused here
            return _execute(sweep, options, stop)


def child_threads(parallel: int, environ: Mapping[str, str], cores: int) -> tuple[str, str]:
    """``(OMP_NUM_THREADS for each local child, why)``: the environment's value when set, else
    the cores shared among ``parallel`` children. N children with all cores' worth of OpenMP
    threads each spin-wait on each other (measured here: 2 children x 2 threads on 2 cores ran
    ~10x slower; session 19: two sweeps at ``--parallel 1`` side by side, 2 threads each, ran
    4-10x slower), so the header names the value: set it to 1 when other work shares the cores."""
    if "OMP_NUM_THREADS" in environ:
        return environ["OMP_NUM_THREADS"], "from the environment"
    return str(max(1, cores // parallel)), f"{cores} cores / --parallel {parallel}"


def _execute(sweep: Sweep, options: SweepOptions, stop: StopRequest) -> int:
    parent = sweep.open_parent()  # a signal from here on is taken between polls
    env = {**os.environ, "MLFLOW_TRACKING_URI": sweep.tracker.tracking_uri}
    threads = ""
    if options.ray_address is None:
        env["OMP_NUM_THREADS"], why = child_threads(options.parallel, os.environ,
                                                    os.cpu_count() or 1)
        threads = (f"; {options.parallel} at a time, OMP_NUM_THREADS={env['OMP_NUM_THREADS']} "
                   f"each ({why})")
    status = "KILLED"
    try:
        stop.check()
        jobs = sweep.jobs(parent)
        sweep.save_state()
        skipped = len(sweep.statuses) - len(jobs)
        sweep.say(f"sweep {sweep.exp.run_name}: {len(jobs)} to run, {skipped} already "
                  f"finished{threads}; parent run {parent}; MLflow: {sweep.tracker.ui_link()}")
        if options.ray_address is not None:
            from hieros_lab.sweep.ray_runner import run_ray

            run_ray(jobs, env, sweep.on_done, marker=sweep.root / SWEEP_FILE,
                    stop_request=stop, say=sweep.say)
        else:
            run_local(jobs, options.parallel, env, sweep.on_done, stop_request=stop)
        status = sweep.final_status()
    except KeyboardInterrupt:
        for key, value in sweep.statuses.items():
            if value == "PENDING":
                sweep.statuses[key] = "NOT_STARTED"
        sweep.say("hieros-lab: sweep interrupted; re-run the same command to resume")
    except Exception:  # e.g. the store stopped answering: the sweep itself failed
        status = "FAILED"
        raise
    finally:
        sweep.tracker.end(status)
        sweep.save_state()
    sweep.say(f"sweep {sweep.exp.run_name}: {status}")
    return {"FINISHED": 0, "FAILED": EXIT_FAILED}.get(status, EXIT_INTERRUPTED)
