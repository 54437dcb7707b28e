"""Evaluation on a separate env with its own policy state (fix of spec §1.6: evaluation never
touches the training policy's memory): greedy (the final score, DESIGN §5) or, beside it, with
the training policy's sampling (``Trainer.sampled_eval_episodes``). A hierarchy's greedy subgoal
(the mode of each code group) need not be a goal its sampled ones lead to, so the two can
disagree; the sampled score shows when they do.

Evaluation also has its own random stream: it runs under a forked torch RNG seeded with
``seed``, so the latents it samples neither depend on nor change the training stream. Training
results therefore do not depend on how often one evaluates, and an evaluation from the same
weights and env state is reproducible (DESIGN §8, "Modes").
"""

from __future__ import annotations

import numpy as np
import torch

from hieros_lab.replay.step import Step
from hieros_lab.trainer.driver import Driver


def evaluate(driver: Driver, agent, episodes: int, seed: int = 0, picture_step: int = 16,
             sample: bool = False) -> tuple[dict[str, float], np.ndarray | None]:
    """Run ``episodes`` greedy (or, with ``sample``, sampling) episodes with torch's RNG forked
    and seeded with ``seed``.

    Returns mean/std/min/max score and mean length, the mean of each of the env's episode
    metrics (``Episode.metrics``) and what its ``summarize(means)`` derives from them, if it has
    one; and the agent's subgoal picture taken at step ``picture_step`` of the first episode
    (or its last step), if the agent makes one.
    """
    devices = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return _episodes(driver, agent, episodes, picture_step, sample)


def _episodes(driver: Driver, agent, episodes: int, picture_step: int,
              sample: bool) -> tuple[dict[str, float], np.ndarray | None]:
    scores: list[float] = []
    lengths: list[int] = []
    metrics: list[dict[str, float]] = []
    state = None
    picture: np.ndarray | None = None
    seen = 0

    def policy(step: Step) -> int:
        nonlocal state, picture, seen
        action, state = agent.act(step, None if step.is_first else state, sample=sample)
        seen += 1
        if not scores and (seen == picture_step or step.is_last) and picture is None:
            make = getattr(agent, "subgoal_picture", None)
            picture = make(step, state) if make is not None else None
        return action

    while len(scores) < episodes:
        episode = driver.step(policy)
        if episode is not None:
            scores.append(episode.score)
            lengths.append(episode.length)
            metrics.append(episode.metrics)
    arr = np.asarray(scores, dtype=np.float64)
    out = {"score": float(arr.mean()), "score_std": float(arr.std()),
           "score_min": float(arr.min()), "score_max": float(arr.max()),
           "length": float(np.mean(lengths)), "episodes": float(episodes)}
    # The env's own episode measures, averaged (a 0/1 per episode becomes a rate), and what
    # the env derives from those means (Crafter: its score, envs/crafter_env.py).
    means = {k: float(np.mean([m.get(k, 0.0) for m in metrics]))
             for k in sorted({k for m in metrics for k in m})}
    out.update(means)
    summarize = getattr(driver.env.unwrapped, "summarize", None)
    if means and summarize is not None:
        out.update(summarize(means))
    return out, picture
