"""The random-policy baseline of a config, measured the way a run's final evaluation is.

A learning result means something only next to what a uniformly random policy scores on the same
task under the same protocol. :func:`random_scores` builds the config's env exactly as the
trainer builds its evaluation env (seed ``Trainer.seed + EVAL_SEED_OFFSET``, its own
:class:`~hieros_lab.trainer.driver.Driver`) and runs ``Trainer.eval_episodes`` episodes with
uniformly random actions, one score per seed.

``python -m hieros_lab.analysis.random_policy --gin_file presets/quickstart.gin --seeds 0 1 2``
prints one JSON object: the score of each seed and their mean.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from hieros_lab.envs.base import action_width, is_continuous
from hieros_lab.replay.step import Step
from hieros_lab.trainer.driver import Driver
from hieros_lab.trainer.evaluate import evaluate

#: Second word of the random agent's seed: a stream of its own, apart from the env's.
AGENT_STREAM = 0x5EED


class RandomAgent:
    """Uniformly random actions from its own seeded generator (the evaluation's agent API):
    an index of ``num_actions``, or, with ``continuous``, a vector uniform in [-1, 1]^A."""

    def __init__(self, num_actions: int, seed: int, continuous: bool = False) -> None:
        self.num_actions, self.continuous = num_actions, continuous
        # Not default_rng(seed): an env that draws from default_rng(seed) too (the fake env
        # does) would make the "random" actions replay its own draws, i.e. the answers.
        self.rng = np.random.default_rng([seed, AGENT_STREAM])

    def act(self, step: Step, state: None,
            sample: bool = False) -> tuple[int | np.ndarray, None]:  # noqa: ARG002
        if self.continuous:
            return self.rng.uniform(-1.0, 1.0, self.num_actions).astype(np.float32), None
        return int(self.rng.integers(self.num_actions)), None


def random_scores(gin_files: Sequence[str], bindings: Sequence[str] = (),
                  seeds: Sequence[int] = (0,)) -> dict[int, float]:
    """``seed -> mean score`` of a random policy over the config's ``Trainer.eval_episodes``
    evaluation episodes, on the evaluation env of a run with that seed."""
    from hieros_lab import config
    from hieros_lab.trainer.loop import EVAL_SEED_OFFSET, Trainer

    scores = {}
    for seed in seeds:
        config.parse(list(gin_files), [*bindings, f"Trainer.seed = {seed}"])
        trainer = Trainer()
        eval_seed = trainer.seed + EVAL_SEED_OFFSET
        env = trainer.env_factory(seed=eval_seed)
        driver = Driver(env, eval_seed)
        agent = RandomAgent(action_width(env.action_space), eval_seed,
                            is_continuous(env.action_space))
        result, _ = evaluate(driver, agent, trainer.eval_episodes, seed=eval_seed)
        scores[seed] = result["score"]
        env.close()
    return scores


def num_actions(gin_files: Sequence[str], bindings: Sequence[str] = ()) -> int:
    """The number of env actions A of the config's env (built once at seed 0)."""
    from hieros_lab import config
    from hieros_lab.trainer.loop import Trainer

    config.parse(list(gin_files), list(bindings))
    env = Trainer().env_factory(seed=0)
    try:
        return action_width(env.action_space)
    finally:
        env.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gin_file", action="append", required=True)
    parser.add_argument("--gin_binding", action="append", default=[])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    scores = random_scores(args.gin_file, args.gin_binding, args.seeds)
    sys.stdout.write(json.dumps({"scores": scores,
                                 "mean": float(np.mean(list(scores.values())))}) + "\n")


if __name__ == "__main__":
    main()
