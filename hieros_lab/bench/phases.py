"""Where a training call's time goes, level by level and phase by phase.

``python -m hieros_lab.bench.phases --gin_file presets/hieros.gin --gin_file validation/pinpad.gin``
builds the run as the trainer does, fills every level's replay, then times ``--calls`` training
calls on one thread, splitting each level's :meth:`~hieros_lab.hierarchy.level.Level.train_step`
into its phases: world model, imagination, rewards, actor-critic update and autoencoder. Prints
one JSON object of milliseconds per training call (a level that trains every K^i calls shows its
average share). The phases are timed by wrapping the level's parts on this instance only.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import torch

#: (attribute path from a level, phase name)
PHASES = (("world_model.train_step", "world_model"), ("actor_critic.imagine", "imagine"),
          ("rewards", "rewards"), ("actor_critic.update", "actor_critic"),
          ("autoencoder.train_step", "autoencoder"), ("train_step", "total"))


def _timed(fn: Callable[..., Any], key: str, totals: dict[str, float]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start
    return wrapper


def phase_times(gin_files: Sequence[str], bindings: Sequence[str] = (),
                calls: int = 32) -> dict[str, float]:
    """``{"call_ms": ..., "level<i>/<phase>_ms": ...}``: milliseconds per training call."""
    from hieros_lab import config
    from hieros_lab.trainer.loop import Trainer

    config.parse(list(gin_files), ["Trainer.steps = 10000000", "Trainer.device = 'cpu'",
                                   *bindings])
    trainer = Trainer()
    trainer.build()
    agent = trainer.agent
    while not all(len(r) >= agent.batch_size for r in agent.replays):
        trainer.drivers[0].step(agent.step)
    totals: dict[str, float] = defaultdict(float)
    for i, level in enumerate(agent.levels):
        for path, name in PHASES:
            owner_path, _, attr = path.rpartition(".")
            owner = functools.reduce(getattr, owner_path.split("."), level) if owner_path \
                else level
            if owner is not None:
                setattr(owner, attr, _timed(getattr(owner, attr), f"level{i}/{name}_ms", totals))
    agent.train()  # the first call allocates; not timed
    totals.clear()
    start = time.perf_counter()
    for _ in range(calls):
        agent.train()
    out = {"call_ms": 1000 * (time.perf_counter() - start) / calls}
    out.update({key: 1000 * value / calls for key, value in sorted(totals.items())})
    return {key: round(value, 2) for key, value in out.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gin_file", action="append", required=True)
    parser.add_argument("--gin_binding", action="append", default=[])
    parser.add_argument("--calls", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = phase_times(args.gin_file, args.gin_binding, args.calls)
    sys.stdout.write(json.dumps({"gin_files": args.gin_file, "bindings": args.gin_binding,
                                 **result}) + "\n")


if __name__ == "__main__":
    main()
