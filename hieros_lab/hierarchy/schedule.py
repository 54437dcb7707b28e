"""When each level acts and trains (spec §1.1, §3; invariant §12.17).

Level i acts every K^i steps of the level below's clock (level 0 every env step) and trains every
K^i training calls. The acting clock counts steps since the episode started: an episode end
closes the current period at every level, so an episode boundary never falls inside a
higher-level period (a stronger fix of spec B7 than marking it); within an episode, level i acts
exactly when ``episode_step mod K^i == 0``.
"""

from __future__ import annotations


def period(level: int, k: int) -> int:
    """Env steps per level-``level`` step: K^level."""
    if level < 0 or k < 1:
        raise ValueError(f"level must be >= 0 and K >= 1, got level={level}, K={k}")
    return k**level


def acts(level: int, episode_step: int, k: int) -> bool:
    """Whether level ``level`` chooses a new output at this step of the episode (0 = first)."""
    return episode_step % period(level, k) == 0


def trains(level: int, train_call: int, k: int) -> bool:
    """Whether level ``level`` updates at this training call (counted from 0)."""
    return train_call % period(level, k) == 0
