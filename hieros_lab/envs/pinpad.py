"""Visual Pinpad: the long-horizon benchmark of Director (Hafner et al., 2022, "Deep Hierarchical
Planning from Pixels"), written from the paper's description.

A walled grid room holds ``pads`` (3, 4 or 5) coloured pads, each a rectangle of cells at a
fixed position (``LAYOUTS``). ``room = "large"`` is Director's 16 x 14 grid; ``"small"`` is an
8 x 7 grid with the pads in the same arrangement, 2-3 steps from the start: a CPU-scale
variant, where a random policy meets the pads often enough for a small budget. The agent is
one cell, starts at the room's centre and moves with ``Discrete(5)``: noop, up, down, left,
right; a move into a wall leaves it in place.

Reward rule: a pad is *activated* when the agent steps onto one of its cells from a cell outside
that pad (standing still or moving within a pad activates nothing, so two consecutive
activations are never the same pad). When the last ``pads`` activations are ``1, 2, ..., pads``
the step earns ``reward`` (+10) and the history is cleared, so the next reward needs the whole
sequence again. Every other step earns 0. Nothing terminates; an episode is *truncated* after
``length`` steps (2000, as in Director).

Shaped variant (``progress > 0``, ``envs/pinpad_easy.gin``): an activation that makes the
history end in a longer prefix ``1, ..., j`` of the target than before earns ``progress``; the
completing activation still earns ``reward`` alone. Like the "Pinpad-easy" task of the
re-evaluation in spec §9.2 (minus its penalty for a wrong pad), it gives a learning signal
within a CPU budget; the sparse task does not (random, large room: about 1 sequence per 15,000
steps). Its local optimum is to shuttle between pads 1 and 2 (each return to 2 regrows the
prefix), which a flat agent may settle in.

Observation: ``uint8 (size, size, 3)`` RGB. Each grid cell is a ``size // cols`` pixel block
(floor light grey, walls dark grey, pads in their colours, the agent black), the grid sits at
the top, centred horizontally, on dark grey; the rows below it are a history strip of
``pads - 1`` slots showing, oldest first, the colours of the activations since the last reward
(at most the last ``pads - 1``, all that matter for the next reward). The image thus shows the
whole state: the task is Markov from pixels. At 64 pixels in the large room: 4-pixel cells, a
64 x 56 grid and an 8-row strip; at 32 pixels in the small room: 4-pixel cells, a 32 x 28 grid
and a 4-row strip.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

from hieros_lab.envs.base import check_env, mark_carried
from hieros_lab.registry import register

#: ``room -> pads -> rows``: '#' wall, '.' floor, '1'..'5' pad cells (each pad a rectangle).
#: "large" is Director's room; "small" is a CPU-scale room with the same arrangement of pads in
#: a quarter of the area (pads 2-3 steps from the start instead of 6-8).
LAYOUTS: dict[str, dict[int, tuple[str, ...]]] = {"large": {
    3: ("################",
        "#111........222#",
        "#111........222#",
        "#111........222#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#.....3333.....#",
        "#.....3333.....#",
        "#.....3333.....#",
        "################"),
    4: ("################",
        "#111........222#",
        "#111........222#",
        "#111........222#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#333........444#",
        "#333........444#",
        "#333........444#",
        "################"),
    5: ("################",
        "#111...55...222#",
        "#111...55...222#",
        "#111........222#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#..............#",
        "#333........444#",
        "#333........444#",
        "#333........444#",
        "################"),
}, "small": {
    3: ("########",
        "#11..22#",
        "#11..22#",
        "#......#",
        "#..33..#",
        "#..33..#",
        "########"),
    4: ("########",
        "#11..22#",
        "#11..22#",
        "#......#",
        "#33..44#",
        "#33..44#",
        "########"),
    5: ("########",
        "#11.522#",
        "#11.522#",
        "#......#",
        "#33..44#",
        "#33..44#",
        "########"),
}}
#: ``room -> (row, col)`` of the agent at reset: the floor cell at the room's centre.
STARTS: dict[str, tuple[int, int]] = {"large": (7, 8), "small": (3, 4)}
#: ``(dr, dc)`` per action: noop, up, down, left, right.
MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
FLOOR = np.array([200, 200, 200], np.uint8)
WALL = np.array([70, 70, 70], np.uint8)
AGENT = np.array([0, 0, 0], np.uint8)
#: Colour of pad k at row k - 1 (red, green, blue, yellow, purple).
PAD_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25],
                        [145, 30, 180]], np.uint8)


def parse_layout(rows: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """ASCII rows -> ``(walls, pad_ids)``: bool ``(R, C)`` and int ``(R, C)`` with 0 off pads and
    k on pad k's cells. Raises ValueError unless the rows are equally long, use only '#.12345',
    the room is walled all round, and every pad is one filled rectangle."""
    if len({len(r) for r in rows}) != 1 or not set("".join(rows)) <= set("#.12345"):
        raise ValueError("pinpad layout must be equally long rows of '#.12345'")
    grid = np.array([list(r) for r in rows])
    walls = grid == "#"
    if not (walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()):
        raise ValueError("pinpad layout must be walled all round")
    pad_ids = np.array([[int(ch) if ch.isdigit() else 0 for ch in row] for row in rows])
    for k in np.unique(pad_ids[pad_ids > 0]):
        r, c = np.nonzero(pad_ids == k)
        if (r.max() - r.min() + 1) * (c.max() - c.min() + 1) != len(r):
            raise ValueError(f"pinpad pad {k} is not a filled rectangle")
    return walls, pad_ids


def shortest_actions(passable: np.ndarray, start: tuple[int, int],
                     goals: np.ndarray) -> list[int]:
    """Breadth-first shortest path from ``start`` to the nearest cell of the bool ``(R, C)`` mask
    ``goals``, moving over the bool ``(R, C)`` mask ``passable`` (goal cells are always allowed),
    as a list of actions (1-4). Raises ValueError if no goal is reachable."""
    passable = passable | goals
    came: dict[tuple[int, int], tuple[tuple[int, int], int]] = {}
    frontier, seen = deque([start]), {start}
    while frontier:
        cell = frontier.popleft()
        if goals[cell]:
            actions: list[int] = []
            while cell != start:
                cell, action = came[cell]
                actions.append(action)
            return actions[::-1]
        for action, (dr, dc) in enumerate(MOVES[1:], start=1):
            nxt = (cell[0] + dr, cell[1] + dc)
            if (0 <= nxt[0] < passable.shape[0] and 0 <= nxt[1] < passable.shape[1]
                    and passable[nxt] and nxt not in seen):
                seen.add(nxt)
                came[nxt] = (cell, action)
                frontier.append(nxt)
    raise ValueError(f"pinpad: no goal cell reachable from {start}")


class PinpadEnv(gym.Env):
    """Visual Pinpad; see the module docstring. ``agent`` is the ``(row, col)`` of the agent,
    ``history`` the pad ids activated since the last reward (at most ``pads - 1`` kept);
    ``rows x cols`` the room's grid and ``start`` the agent's cell at reset."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, seed: int, pads: int, size: int, length: int, reward: float,
                 progress: float = 0.0, room: str = "large") -> None:
        self.pads, self.size, self.length, self.reward = pads, size, length, reward
        self.progress = progress
        self.walls, self.pad_ids = parse_layout(LAYOUTS[room][pads])
        self.rows, self.cols = self.walls.shape
        self.start = STARTS[room]
        self.target = list(range(1, pads + 1))
        self.cell = size // self.cols
        self.left = (size - self.cols * self.cell) // 2  # grid columns start here (centred)
        self.action_space = gym.spaces.Discrete(len(MOVES), seed=seed)
        self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
        colours = np.concatenate([FLOOR[None], PAD_COLOURS])[self.pad_ids]  # (rows, cols, 3)
        colours[self.walls] = WALL
        self.background = np.tile(WALL, (size, size, 1))  # (size, size, 3)
        blocks = np.repeat(np.repeat(colours, self.cell, axis=0), self.cell, axis=1)
        self.background[:self.rows * self.cell,
                        self.left:self.left + self.cols * self.cell] = blocks
        self.agent, self.history, self.t = self.start, [], 0

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.action_space.seed(seed)
        self.agent, self.history, self.t = self.start, [], 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.t >= self.length:
            raise RuntimeError("pinpad: step() after the episode was truncated; call reset()")
        dr, dc = MOVES[int(action)]
        old = self.agent
        new = (old[0] + dr, old[1] + dc)
        if not self.walls[new]:
            self.agent = new
        reward = 0.0
        pad = int(self.pad_ids[self.agent])
        if pad and pad != self.pad_ids[old]:  # stepped onto a pad from outside it
            before = self.matched()
            self.history.append(pad)
            if self.history[-self.pads:] == self.target:
                reward, self.history = float(self.reward), []
            else:
                self.history = self.history[-(self.pads - 1):]
                if self.matched() > before:
                    reward = float(self.progress)
        self.t += 1
        return self._obs(), reward, False, self.t >= self.length, {}

    def matched(self) -> int:
        """Length of the longest prefix ``1, ..., j`` of the target the history ends in."""
        return max((j for j in range(1, len(self.history) + 1)
                    if self.history[-j:] == self.target[:j]), default=0)

    def _obs(self) -> np.ndarray:
        """``uint8 (size, size, 3)``: background, agent cell, history strip below the grid."""
        obs = self.background.copy()
        c, (r, col) = self.cell, self.agent
        obs[r * c:(r + 1) * c, self.left + col * c:self.left + (col + 1) * c] = AGENT
        top, slots = self.rows * c, self.pads - 1
        width = self.cols * c // slots
        for i, pad in enumerate(self.history):
            x = self.left + i * width
            obs[top:, x:x + width] = PAD_COLOURS[pad - 1]
        return obs


@register("env", "pinpad")
def pinpad(seed: int, pads: int = 3, size: int = 64, length: int = 2000,
           reward: float = 10.0, progress: float = 0.0, room: str = "large") -> gym.Env:
    """Visual Pinpad with ``pads`` pads in the ``room`` ("large": Director's 16 x 14 grid,
    "small": 8 x 7): ``uint8 (size, size, 3)`` images, ``Discrete(5)``; ``progress > 0``: the
    shaped variant (module docstring).

    Raises ValueError naming the bad value (unknown room; pads not 3, 4 or 5; size below the
    room's width; length < 1; progress < 0).
    """
    if room not in LAYOUTS:
        raise ValueError(f"pinpad.room = {room!r} is not one of {', '.join(map(repr, LAYOUTS))}")
    if pads not in LAYOUTS[room]:
        raise ValueError(f"pinpad.pads = {pads} is not one of 3, 4, 5")
    rows, cols = len(LAYOUTS[room][pads]), len(LAYOUTS[room][pads][0])
    if size < cols:
        raise ValueError(f"pinpad.size = {size} cannot show the {room} room's {cols}x{rows} grid "
                         f"(need >= {cols})")
    if length < 1:
        raise ValueError(f"pinpad.length = {length} must be >= 1")
    if progress < 0:
        raise ValueError(f"pinpad.progress = {progress} must be >= 0")
    env = PinpadEnv(seed, pads, size, length, reward, progress, room)
    check_env(env, f"pinpad:{room}:{pads}")
    return mark_carried(env)  # numpy state and RNG only
