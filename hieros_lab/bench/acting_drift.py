"""Does the acting state drift out of what the world model was trained on? (``act_context``)

Loads a finished run's last checkpoint and plays greedy episodes on fresh envs twice: with the
acting state carried through the episode (``act_context = 0``, the spec) and re-observed from
the last T real steps (``act_context = T``). For each it reports, by bucket of the episode's
step, level 0's reconstruction error of the current observation from its acting (posterior)
state and the continue probability it predicts there; and the episode lengths. A world model
whose acting state stays in distribution reconstructs late steps as well as early ones.

    python -m hieros_lab.bench.acting_drift runs/quickstart_tuning/act32/default/seed0 \
        --context 32 --episodes 5

Vector observations give one error per observation dimension (CartPole: cart position first);
images give the mean absolute pixel error (0-255).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

BUCKETS = (0, 64, 128, 256, 512, 10**9)


@dataclasses.dataclass
class Drift:
    """Per bucket of episode steps: mean |obs error| ``[dims]``, mean continue, step count."""

    error: dict[str, np.ndarray]
    cont: dict[str, float]
    count: dict[str, int]
    lengths: list[int]


def bucket(t: int) -> str:
    for lo, hi in zip(BUCKETS, BUCKETS[1:], strict=False):
        if lo <= t < hi:
            return f"{lo}-{hi - 1}" if hi < 10**9 else f">={lo}"
    raise ValueError(t)


def load_trainer(run_dir: Path):
    """The run's trainer, built from its recorded config and restored from its checkpoint."""
    from hieros_lab import config
    from hieros_lab.trainer.loop import Trainer
    from hieros_lab.trainer.session import RunSpec

    spec = RunSpec.load(run_dir)
    config.parse(spec.gin_files, [*spec.bindings, "Trainer.device = 'cpu'"])
    trainer = Trainer()
    trainer.build()
    if not trainer.restore(run_dir / "checkpoints"):
        raise SystemExit(f"acting_drift: no checkpoint under {run_dir / 'checkpoints'}")
    return trainer


@torch.no_grad()
def measure(trainer, context: int, episodes: int, seed: int = 1000) -> Drift:
    """``episodes`` greedy episodes with level 0 (and every level) acting at ``context``."""
    from hieros_lab.trainer.driver import Driver

    agent = trainer.agent
    for level in agent.levels:
        level.world_model.act_context = context
    wm = agent.levels[0].world_model
    sums: dict[str, np.ndarray] = defaultdict(lambda: 0.0)
    conts: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    lengths: list[int] = []
    torch.manual_seed(seed)
    for ep in range(episodes):
        driver = Driver(trainer.env_factory(seed=seed + ep), seed + ep)
        state, t, done = None, 0, False

        def policy(step):
            nonlocal state, t
            action, state = agent.act(step, None if step.is_first else state, sample=False)
            latent = state.policy[0].latent
            obs = torch.as_tensor(np.asarray(step.obs), dtype=torch.float32)
            err = (wm.decode(latent)[0].float() - obs).abs()
            key = bucket(t)
            sums[key] = sums[key] + (err.flatten(0, -2).mean(0) if wm.image else err).numpy()
            conts[key] += float(wm.predict(latent)["cont"][0])
            counts[key] += 1
            t += 1
            return action

        while not done:
            episode = driver.step(policy)
            if episode is not None:
                lengths.append(episode.length)
                done = True
    keys = sorted(counts, key=lambda k: int(k.lstrip(">=").split("-")[0]))
    return Drift({k: sums[k] / counts[k] for k in keys}, {k: conts[k] / counts[k] for k in keys},
                 {k: counts[k] for k in keys}, lengths)


def format_drift(name: str, drift: Drift) -> str:
    lines = [f"{name}: episode lengths {drift.lengths}",
             f"  {'steps':>9} {'n':>6} {'continue':>8}  |obs error| per dim (image: mean pixel)"]
    for key, err in drift.error.items():
        dims = " ".join(f"{e:.3f}" for e in np.atleast_1d(err))
        lines.append(f"  {key:>9} {drift.count[key]:>6} {drift.cont[key]:>8.3f}  {dims}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--context", type=int, default=32, help="the window to compare with")
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args(argv)
    trainer = load_trainer(args.run_dir)
    trained = trainer.agent.levels[0].world_model.act_context
    sys.stdout.write(f"{args.run_dir}: step {trainer.step}, trained with act_context {trained}\n")
    for context in (0, args.context):
        drift = measure(trainer, context, args.episodes)
        sys.stdout.write(format_drift(f"act_context {context}", drift) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
