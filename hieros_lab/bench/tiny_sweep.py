"""The tiny sweep the end-to-end checks run: 2 arms (s5, rssm) x 2 seeds on the fake env."""

from __future__ import annotations

import json


def tiny_sweep(name: str, steps: int, log_every: int = 10, eval_every: int = 0,
               checkpoint_every: int = 20, episode_length: int = 20) -> str:
    """Experiment TOML text: ``debug.gin`` sizes, train ratio 16, one evaluation episode."""
    bindings = [f"Trainer.log_every = {log_every}", f"Trainer.eval_every = {eval_every}",
                "Trainer.eval_episodes = 1", f"Trainer.checkpoint_every = {checkpoint_every}",
                "Trainer.train_ratio = 16.0", f"fake.episode_length = {episode_length}"]
    return (f'name = "{name}"\nbase = ["debug.gin"]\nbindings = {json.dumps(bindings)}\n'
            f"seeds = [0, 1]\nsteps = {steps}\n\n"
            '[arms.s5]\nbindings = ["WorldModel.sequence = @s5"]\n\n'
            '[arms.rssm]\nbindings = ["WorldModel.sequence = @rssm"]\n')
