"""Greedy evaluation on a separate env with its own policy state (fix of spec §1.6: evaluation
never touches the training policy's memory)."""

from __future__ import annotations

import numpy as np

from hieros_lab.trainer.driver import Driver, Step


def evaluate(driver: Driver, agent, episodes: int) -> dict[str, float]:
    """Run ``episodes`` greedy episodes; returns mean/std/min/max score and mean length."""
    scores: list[float] = []
    lengths: list[int] = []
    state = None

    def policy(step: Step) -> int:
        nonlocal state
        action, state = agent.act(step, None if step.is_first else state, sample=False)
        return action

    while len(scores) < episodes:
        episode = driver.step(policy)
        if episode is not None:
            scores.append(episode.score)
            lengths.append(episode.length)
    arr = np.asarray(scores, dtype=np.float64)
    return {"score": float(arr.mean()), "score_std": float(arr.std()),
            "score_min": float(arr.min()), "score_max": float(arr.max()),
            "length": float(np.mean(lengths)),
            "episodes": float(episodes)}
