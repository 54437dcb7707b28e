"""What one training update and one env step cost for a config, to size validation budgets.

``python -m hieros_lab.bench.task_cost --gin_file presets/quickstart.gin --gin_file
envs/minatar.gin --gin_binding "WorldModel.cnn_depth = 16"`` builds the run as the trainer does,
fills the replays until every level can train, then times ``--updates`` training calls and
``--steps`` acting steps (policy through every level plus the env) on one thread. Prints one JSON
object; multiply by a budget to see whether a run fits (updates x update_s + steps x step_s).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import torch


def task_cost(gin_files: Sequence[str], bindings: Sequence[str] = (), updates: int = 16,
              steps: int = 200) -> dict[str, float]:
    """Seconds per training call (``updates`` calls: 16 covers a 3-level schedule at K = 4,
    where level 2 trains every 16th call) and per acting step, once every level can train."""
    from hieros_lab import config
    from hieros_lab.trainer.loop import Trainer

    config.parse(list(gin_files), ["Trainer.steps = 10000000", "Trainer.device = 'cpu'",
                                   *bindings])
    trainer = Trainer()
    trainer.build()
    agent = trainer.agent
    # Every level's replay must hold a batch: otherwise a hierarchy's higher levels skip their
    # updates and the cost of a multi-level training call is underestimated.
    while not all(len(r) >= agent.batch_size for r in agent.replays):
        trainer.driver.step(agent.step)
    agent.train()  # the first call allocates; not timed
    trained: set[str] = set()
    start = time.perf_counter()
    for _ in range(updates):
        trained.update(key.split("/", 1)[0] for key in agent.train())
    update_s = (time.perf_counter() - start) / updates
    start = time.perf_counter()
    for _ in range(steps):
        trainer.driver.step(agent.step)
    step_s = (time.perf_counter() - start) / steps
    return {"update_s": round(update_s, 4), "step_s": round(step_s, 5),
            "replayed_steps_per_update": float(agent.replayed_steps_per_update),
            "levels_trained": float(len(trained)),
            "threads": float(torch.get_num_threads())}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gin_file", action="append", required=True)
    parser.add_argument("--gin_binding", action="append", default=[])
    parser.add_argument("--updates", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = task_cost(args.gin_file, args.gin_binding, args.updates, args.steps)
    sys.stdout.write(json.dumps({"gin_files": args.gin_file, "bindings": args.gin_binding,
                                 **result}) + "\n")


if __name__ == "__main__":
    main()
