"""One step of a level's stream: what the driver sees, what a level acts on, what replay stores.

Step t holds o_t, the reward that arrived with o_t, the episode flags at o_t, and (once chosen)
the one-hot action a_t the level chose *after* seeing o_t together with the parent's goal code
it was conditioned on (spec §6.1; the world model shifts actions for training, fix of B1).
Level 0's steps are env steps; a level-(i+1) step closes a period of K level-i steps (spec §3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Step:
    """One step of a stream.

    Attributes:
        obs: the observation (an image ``[H, W, C]`` uint8, or a vector ``[D]`` float32; above
            level 0 the K stacked lower-level latents ``[K * E]``).
        reward: the reward that arrived with ``obs`` (above level 0: the period's reward).
        is_first, is_last, is_terminal: episode flags at ``obs``.
        action: one-hot ``[A]`` action chosen after ``obs``; None until chosen.
        goal: the parent's code ``[G * C]`` the action was conditioned on; None at the top.
    """

    obs: np.ndarray
    reward: float
    is_first: bool
    is_last: bool
    is_terminal: bool
    action: np.ndarray | None = None
    goal: np.ndarray | None = None
