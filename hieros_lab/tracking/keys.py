"""The one list of MLflow names used across the project: metric keys, tag keys, artifact paths.

Everything that logs or reads a run (trainer, sweep, report, tests) takes its names from here, so a
renamed metric is one edit and a typo is an ``AttributeError`` instead of an empty plot
(DESIGN.md §4). Metrics are logged at ``step = env steps``.
"""

from __future__ import annotations

from collections.abc import Mapping

# -- metrics: acting -----------------------------------------------------------------------------
EPISODE_SCORE = "episode/score"
EPISODE_LENGTH = "episode/length"
EPISODES = "episode/count"
EVAL_SCORE = "eval/score"
EVAL_SCORE_STD = "eval/score_std"
EVAL_LENGTH = "eval/length"
#: Prefix of the sampled-policy evaluation (``Trainer.sampled_eval_episodes``): the same fields
#: as ``eval/``, e.g. ``eval_sampled/score``.
EVAL_SAMPLED = "eval_sampled"
EVAL_SAMPLED_SCORE = f"{EVAL_SAMPLED}/score"

# -- metrics: replay and throughput --------------------------------------------------------------
REPLAY_SIZE = "replay/size"
UPDATES = "perf/updates"
UPDATES_PER_S = "perf/updates_per_s"
ENV_STEPS_PER_S = "perf/env_steps_per_s"
#: Seconds the run has spent in ``Trainer.fit`` so far, summed over resumes (not the time between
#: a stop and its resume): the wall time of a result.
WALL_S = "perf/wall_s"
#: Count of non-finite metric values the tracker dropped (MLflow cannot plot NaN/inf).
NONFINITE_SKIPPED = "perf/nonfinite_skipped"


def level(i: int, group: str, name: str) -> str:
    """Per-level metric key, e.g. ``level(0, "world_model", "kl") == "level0/world_model/kl"``."""
    if i < 0:
        raise ValueError(f"hierarchy level must be >= 0, got {i}")
    if not group or not name:
        raise ValueError(f"metric group and name must be non-empty, got {group!r}, {name!r}")
    return f"level{i}/{group}/{name}"


# -- tags ----------------------------------------------------------------------------------------
COMPONENT_PREFIX = "component."


def component_tag(kind: str) -> str:
    """Tag holding the registered name of the injected component of ``kind``."""
    if not kind:
        raise ValueError("component kind must be non-empty")
    return f"{COMPONENT_PREFIX}{kind}"


def components_of(tags: Mapping[str, str]) -> dict[str, str]:
    """``{kind: registered name}`` from a run's tags (the inverse of :func:`component_tag`)."""
    return {k.removeprefix(COMPONENT_PREFIX): v for k, v in tags.items()
            if k.startswith(COMPONENT_PREFIX) and len(k) > len(COMPONENT_PREFIX)}


HIERARCHY_LEVELS = "hierarchy.levels"
GIT_SHA = "git_sha"
#: Resumes of the run that continued on a fresh env, not the stopped one (an env that cannot be
#: checkpointed exactly, e.g. ALE): such a run is not the uninterrupted run of its seed.
RESUME_INEXACT = "resume.inexact"
#: Experiment tag read by MLflow 3's UI to choose an experiment's landing page; this value opens
#: the training-runs table and charts instead of the GenAI views (Traces, Judges).
EXPERIMENT_KIND = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
#: The machine a run (its last part, when resumed elsewhere) trained on (trainer/host.py).
HOST_CPU = "host.cpu"
HOST_CPU_CAPABILITY = "host.cpu_capability"  # torch's kernel choice: AVX2, AVX512, ...
HOST_TORCH = "host.torch"
HOST_CORES = "host.cores"
HOST_THREADS = "host.threads"
HOST_MALLOC_RETAINED = "host.malloc_retained"  # freed memory kept in the process (nn/allocator)
ABLATION = "ablation"
ARM = "arm"
GAME = "game"
SEED = "seed"
#: An imported run (``hieros-lab archive import``): the id it had where it was first logged,
#: which reports show so that their CSVs do not change with the store.
ARCHIVED_RUN_ID = "hieros.archive.run_id"
#: Set on an imported run once all of it is logged (an import cut short leaves it unset).
ARCHIVE_COMPLETE = "hieros.archive.complete"

# -- artifacts -----------------------------------------------------------------------------------
OPERATIVE_CONFIG = "config/operative_config.gin"
COMMAND = "config/command.txt"
INACTIVE_BINDINGS = "config/inactive_bindings.txt"  # bindings of components the run never built
ERROR = "error/traceback.txt"
ERROR_SAVE = "error/checkpoint_after_failure.txt"  # why the checkpoint after a failure failed
SUBGOALS = "subgoals"  # directory of subgoal pictures: observation | decoded goal per level
