"""MinAtar games (Young & Tian, 2019) through the same image path as Atari.

MinAtar's state is a ``(10, 10, C)`` boolean grid, one channel per object kind (paddle, ball,
trail, bricks, ...). The CNN encoder takes ``uint8 (size, size, 3)`` images, as the Atari env
gives, so the adapter *renders* the grid: each cell becomes a ``cell x cell`` block in the
colour of its object kind (a fixed palette, one colour per channel; where objects overlap, the
higher channel is drawn, as MinAtar's own display does), empty cells black, and the 10-cell
board is centred in a ``size x size`` frame (64: blocks of 6 pixels, a 2-pixel black border).
No information is lost except which lower channel lies under an overlapping object.

The rest follows MinAtar: sticky actions with probability ``sticky_action_prob`` (0.1 by
default, the MinAtar protocol), difficulty ramping on, the minimal action set by default.
Episodes are cut at ``max_episode_steps`` and reported as *truncated*. ``seed`` seeds the game's
RNG (spawns and sticky actions) and the action space, so a run is reproducible from it.
"""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym
import numpy as np

from hieros_lab.envs.base import check_env, mark_carried
from hieros_lab.registry import register

GAMES = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")
BOARD = 10
#: One RGB colour per channel (MinAtar games have at most 10 channels), distinct and bright.
PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
                    [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230],
                    [210, 245, 60], [250, 190, 212]], dtype=np.uint8)


def render(state: np.ndarray, size: int) -> np.ndarray:
    """``(10, 10, C)`` bool -> ``(size, size, 3)`` uint8: blocks of ``size // 10`` pixels in
    each cell's top channel's colour, centred on black."""
    cell = size // BOARD
    channels = state.shape[2]
    top = np.where(state.any(axis=2), state.shape[2] - 1 - np.argmax(state[..., ::-1], axis=2),
                   -1)  # (10, 10): highest active channel, -1 where empty
    colours = np.concatenate([np.zeros((1, 3), np.uint8), PALETTE[:channels]])[top + 1]
    board = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)
    frame = np.zeros((size, size, 3), np.uint8)
    start = (size - cell * BOARD) // 2
    frame[start:start + cell * BOARD, start:start + cell * BOARD] = board
    return frame


class MinAtarEnv(gym.Env):
    """One MinAtar game as a gymnasium env with image observations; see the module docstring."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, seed: int, game: str, size: int, sticky_action_prob: float,
                 minimal_actions: bool, max_episode_steps: int) -> None:
        from minatar import Environment  # (imports matplotlib and seaborn: only when used)

        self.game = Environment(game, sticky_action_prob=sticky_action_prob,
                                difficulty_ramping=True)
        self.game.seed(seed)
        self.actions = (list(self.game.minimal_action_set()) if minimal_actions
                        else list(range(self.game.num_actions())))
        self.size, self.max_episode_steps = size, max_episode_steps
        self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(len(self.actions))
        self.action_space.seed(seed)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return render(self.game.state(), self.size)

    def reset(self, *, seed: int | None = None,
              options: dict | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self.game.seed(seed)
            self.action_space.seed(seed)
        self.game.reset()
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward, terminal = self.game.act(self.actions[int(action)])
        self.t += 1
        truncated = not terminal and self.t >= self.max_episode_steps
        return self._obs(), float(reward), bool(terminal), truncated, {}


@register("env", "minatar")
def minatar(seed: int, game: str = "breakout", size: int = 64, sticky_action_prob: float = 0.1,
            minimal_actions: bool = True, max_episode_steps: int = 10_000) -> gym.Env:
    """MinAtar ``game`` rendered to ``uint8 (size, size, 3)``; Discrete actions.

    Raises ValueError naming the bad value (unknown game, with close matches; a size that
    cannot hold the 10x10 board; a probability outside [0, 1]; a non-positive step limit).
    """
    key = game.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in GAMES:
        close = difflib.get_close_matches(key, GAMES, n=3, cutoff=0.5)
        raise ValueError(f"unknown MinAtar game {game!r} (minatar.game); known: "
                         f"{', '.join(GAMES)}{'; close: ' + ', '.join(close) if close else ''}")
    if size < BOARD:
        raise ValueError(f"minatar.size = {size} cannot show the 10x10 board (need >= 10)")
    if not 0.0 <= sticky_action_prob <= 1.0:
        raise ValueError(f"minatar.sticky_action_prob = {sticky_action_prob} is not in [0, 1]")
    if max_episode_steps < 1:
        raise ValueError(f"minatar.max_episode_steps = {max_episode_steps} must be >= 1")
    env = MinAtarEnv(seed, key, size, sticky_action_prob, minimal_actions, max_episode_steps)
    check_env(env, f"minatar:{key}")
    return mark_carried(env)  # numpy state and RNGs only
