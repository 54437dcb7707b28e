"""Visual Pinpad: spaces, walls, the activation and reward rule, truncation, rendering, seeding,
bad input, and how little a random policy earns."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hieros_lab.envs import pinpad as pp
from hieros_lab.envs.base import check_env
from hieros_lab.envs.pinpad import LAYOUTS, STARTS, parse_layout, pinpad, shortest_actions
from hieros_lab.registry import entries

NOOP, UP, DOWN, LEFT, RIGHT = range(5)
START = STARTS["large"]
ROWS, COLS = 14, 16  # the large room


def _path(env, pad: int) -> list[int]:
    """Shortest actions from the agent onto the nearest cell of ``pad``, over floor and the pad
    the agent stands on only (so no other pad is touched on the way)."""
    base = env.unwrapped
    ids = base.pad_ids
    passable = ~base.walls & ((ids == 0) | (ids == ids[base.agent]))
    return shortest_actions(passable, base.agent, ids == pad)


def _run(env, actions) -> list[float]:
    rewards = []
    for a in actions:
        _, reward, terminated, truncated, _ = env.step(a)
        assert not terminated and not truncated
        rewards.append(reward)
    return rewards


def _visit(env, pads_in_order) -> tuple[list[float], list[int]]:
    """Walk onto each pad in turn (stepping off the previous one over floor first); rewards and
    the step indices (0-based, since the call) at which each pad was entered."""
    rewards, entered = [], []
    for pad in pads_in_order:
        rewards += _run(env, _path(env, pad))
        entered.append(len(rewards) - 1)
    return rewards, entered


def _cell_pixels(obs: np.ndarray, cell: tuple[int, int], size: int = 64,
                 cols: int = COLS) -> np.ndarray:
    c = size // cols
    left = (size - cols * c) // 2
    return obs[cell[0] * c:(cell[0] + 1) * c, left + cell[1] * c:left + (cell[1] + 1) * c]


def test_registered_and_spaces():
    assert entries("env")["pinpad"].target is pinpad
    for pads in (3, 4, 5):
        env = pinpad(seed=0, pads=pads)
        check_env(env, "pinpad")
        assert env.action_space.n == 5
        assert env.observation_space.shape == (64, 64, 3)
        assert env.observation_space.dtype == np.uint8
        obs, _ = env.reset(seed=0)
        assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
        assert env.observation_space.contains(obs)
    obs, _ = pinpad(seed=0, size=16).reset()
    assert obs.shape == (16, 16, 3)


@pytest.mark.parametrize(("room", "shape"), [("large", (14, 16)), ("small", (7, 8))])
@pytest.mark.parametrize("pads", [3, 4, 5])
def test_layouts_have_the_pads_as_rectangles_and_a_floor_start(room, shape, pads):
    walls, ids = parse_layout(LAYOUTS[room][pads])
    start = STARTS[room]
    assert walls.shape == shape and set(np.unique(ids)) == set(range(pads + 1))
    assert not walls[start] and ids[start] == 0
    for pad in range(1, pads + 1):  # each pad reachable over floor from the start
        assert shortest_actions(~walls & (ids == 0), start, ids == pad)


@pytest.mark.parametrize("rows", [("####", "#1#", "####"), ("####", "#1x#", "####"),
                                  ("####", "#1.#", "#..1", "####"), ("####", "#11#", "#.1#",
                                                                     "####")])
def test_malformed_layouts_are_refused(rows):
    with pytest.raises(ValueError, match="pinpad"):
        parse_layout(rows)


def test_walls_block_movement():
    env = pinpad(seed=0)
    env.reset()
    assert env.unwrapped.agent == START == (7, 8)
    _run(env, [UP] * 10)  # 6 moves reach row 1 (floor at column 8), then the wall
    assert env.unwrapped.agent == (1, 8)
    _run(env, [LEFT] * 3 + [DOWN] * 20)
    assert env.unwrapped.agent == (12, 5)  # column 5 of row 12 is floor next to pad 3
    _run(env, [RIGHT, NOOP])
    assert env.unwrapped.agent == (12, 6)  # on pad 3
    _run(env, [RIGHT] * 20)
    assert env.unwrapped.agent == (12, 14)
    _run(env, [UP] * 6 + [NOOP])
    assert env.unwrapped.agent == (6, 14)


def test_reset_restores_the_start_and_empties_the_history():
    env = pinpad(seed=0)
    first, _ = env.reset()
    _visit(env, [2])
    assert env.unwrapped.agent != START and env.unwrapped.history == [2]
    obs, _ = env.reset()
    assert env.unwrapped.agent == START and env.unwrapped.history == []
    assert np.array_equal(obs, first)


def test_the_correct_order_earns_exactly_one_reward_at_the_last_pad():
    env = pinpad(seed=0, pads=3)
    env.reset()
    rewards, entered = _visit(env, [1, 2, 3])
    expected = [0.0] * len(rewards)
    expected[entered[-1]] = 10.0
    assert rewards == expected
    assert env.unwrapped.history == []


@pytest.mark.parametrize("order", [[2, 1, 3], [1, 3, 2], [3, 2, 1], [1, 2, 1, 3]])
def test_a_wrong_order_earns_nothing(order):
    env = pinpad(seed=0, pads=3)
    env.reset()
    rewards, _ = _visit(env, order)
    assert rewards == [0.0] * len(rewards)


def test_a_wrong_start_does_not_spoil_a_later_correct_suffix():
    env = pinpad(seed=0, pads=3)
    env.reset()
    rewards, entered = _visit(env, [2, 3, 1, 2, 3])
    assert [i for i, r in enumerate(rewards) if r] == [entered[-1]] and sum(rewards) == 10.0


def test_standing_or_moving_on_a_pad_does_not_activate_it_again():
    env = pinpad(seed=0, pads=3)
    env.reset()
    _visit(env, [1])
    assert env.unwrapped.agent == (3, 3) and env.unwrapped.history == [1]  # corner cell of 1
    _run(env, [NOOP] * 3 + [UP, LEFT, UP, LEFT, DOWN, RIGHT, UP] + [LEFT] * 5)  # inside pad 1
    assert env.unwrapped.history == [1]
    rewards, entered = _visit(env, [2, 3])  # so 1 counts once: 1, 2, 3 pays
    assert rewards[entered[-1]] == 10.0 and sum(rewards) == 10.0
    # Off pad 2 onto the floor and back on: a second activation of 2.
    env.reset()
    _visit(env, [2])
    _run(env, [DOWN, UP])  # (3, 12) -> (4, 12) floor -> (3, 12) pad 2
    assert env.unwrapped.history == [2, 2]
    _run(env, [NOOP] * 4)
    assert env.unwrapped.history == [2, 2]


def test_after_a_success_the_whole_sequence_is_needed_again():
    env = pinpad(seed=0, pads=3)
    env.reset()
    first, _ = _visit(env, [1, 2, 3])
    assert sum(first) == 10.0 and env.unwrapped.history == []
    assert (env.step(NOOP)[0][56:] == pp.WALL).all()  # the strip is empty again
    partial, _ = _visit(env, [1, 2])
    assert sum(partial) == 0.0 and env.unwrapped.history == [1, 2]
    again, entered = _visit(env, [3])
    assert again[entered[-1]] == 10.0 and sum(again) == 10.0
    rewards, _ = _visit(env, [2, 3, 2, 3])
    assert sum(rewards) == 0.0


@pytest.mark.parametrize("pads", [4, 5])
def test_more_pads_need_the_longer_sequence(pads):
    env = pinpad(seed=0, pads=pads, reward=2.5)
    env.reset()
    rewards, entered = _visit(env, list(range(1, pads)))
    assert sum(rewards) == 0.0
    rewards, entered = _visit(env, [pads])
    assert rewards[entered[-1]] == 2.5 and sum(rewards) == 2.5
    rewards, _ = _visit(env, list(range(2, pads + 1)))  # without 1: nothing
    assert sum(rewards) == 0.0


def test_truncated_not_terminated_at_exactly_length():
    env = pinpad(seed=0, length=37)
    env.reset()
    ends = [env.step(t % 5)[2:4] for t in range(37)]
    assert ends[-1] == (False, True) and all(e == (False, False) for e in ends[:-1])
    with pytest.raises(RuntimeError):
        env.step(0)
    env.reset()
    assert env.step(0)[2:4] == (False, False)


def test_rendering_shows_pads_agent_walls_and_the_history_strip():
    env = pinpad(seed=0, pads=3)
    obs, _ = env.reset()
    _, ids = parse_layout(LAYOUTS["large"][3])
    for pad in (1, 2, 3):
        for cell in zip(*np.nonzero(ids == pad), strict=True):
            assert (_cell_pixels(obs, cell) == pp.PAD_COLOURS[pad - 1]).all()
    assert (_cell_pixels(obs, START) == pp.AGENT).all()
    assert (_cell_pixels(obs, (7, 7)) == pp.FLOOR).all()
    assert (_cell_pixels(obs, (0, 0)) == pp.WALL).all()
    assert (obs[56:] == pp.WALL).all()  # 14 rows of 4 pixels, then the empty 8-row strip
    _visit(env, [1])
    obs = env.step(NOOP)[0]
    assert (_cell_pixels(obs, (3, 3)) == pp.AGENT).all()  # the agent is drawn over the pad
    assert (obs[56:, :32] == pp.PAD_COLOURS[0]).all() and (obs[56:, 32:] == pp.WALL).all()
    assert (obs[:56] == env.unwrapped.background[:56])[:, :, 0].sum() == 64 * 56 - 16
    _visit(env, [2])
    obs = env.step(NOOP)[0]
    assert (obs[56:, :32] == pp.PAD_COLOURS[0]).all() and (obs[56:, 32:] == pp.PAD_COLOURS[1]).all()
    _visit(env, [1])  # history 1, 2, 1: the strip keeps the last two, oldest first
    obs = env.step(NOOP)[0]
    assert (obs[56:, :32] == pp.PAD_COLOURS[1]).all() and (obs[56:, 32:] == pp.PAD_COLOURS[0]).all()


def test_small_images_fit_the_grid_and_strip():
    env = pinpad(seed=0, pads=5, size=16)
    obs, _ = env.reset()
    assert (obs[7, 8] == pp.AGENT).all() and (obs[1, 7] == pp.PAD_COLOURS[4]).all()
    assert (obs[14:] == pp.WALL).all()
    _visit(env, [1])
    obs = env.step(NOOP)[0]
    assert (obs[14:, :4] == pp.PAD_COLOURS[0]).all() and (obs[14:, 4:] == pp.WALL).all()


def test_same_seed_same_trajectory():
    def rollout(seed: int) -> tuple[np.ndarray, list[float]]:
        env = pinpad(seed=seed, length=300)
        obs, _ = env.reset(seed=seed)
        frames, rewards = [obs], []
        for _ in range(300):
            obs, reward, _, truncated, _ = env.step(env.action_space.sample())
            frames.append(obs)
            rewards.append(reward)
        assert truncated
        return np.stack(frames), rewards

    a, b, c = rollout(3), rollout(3), rollout(4)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    assert not np.array_equal(a[0], c[0])  # other seed, other random actions


def test_reset_seed_reseeds_the_action_space():
    env = pinpad(seed=1)
    env.reset(seed=7)
    fresh = pinpad(seed=7)
    assert [env.action_space.sample() for _ in range(50)] == [
        fresh.action_space.sample() for _ in range(50)]


def _rewards_at_entries(env, order) -> list[float]:
    rewards, entered = _visit(env, order)
    assert sum(rewards) == sum(rewards[i] for i in entered)  # rewards only when entering a pad
    return [rewards[i] for i in entered]


def test_progress_pays_each_longer_correct_prefix_and_the_full_sequence_alone():
    env = pinpad(seed=0, pads=3, progress=1.0)
    env.reset()
    assert _rewards_at_entries(env, [1, 2, 3]) == [1.0, 1.0, 10.0]
    assert env.unwrapped.history == []


@pytest.mark.parametrize(("order", "expected"), [
    ([2, 3], [0.0, 0.0]),                 # no prefix of 1, 2, 3
    ([1, 3, 1, 2], [1.0, 0.0, 1.0, 1.0]),  # a wrong pad loses the prefix; 1 starts it again
    ([1, 2, 1, 2, 3], [1.0, 1.0, 0.0, 1.0, 10.0]),  # 1 shortens the prefix, 2 grows it
])
def test_progress_is_paid_only_when_the_matched_prefix_grows(order, expected):
    env = pinpad(seed=0, pads=3, progress=1.0)
    env.reset()
    assert _rewards_at_entries(env, order) == expected


@pytest.mark.parametrize("pads", [4, 5])
def test_progress_with_more_pads(pads):
    env = pinpad(seed=0, pads=pads, progress=0.5)
    env.reset()
    assert _rewards_at_entries(env, list(range(1, pads + 1))) == [0.5] * (pads - 1) + [10.0]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pads": 2}, "pinpad.pads = 2"), ({"pads": 6}, "pinpad.pads = 6"),
    ({"size": 15}, "pinpad.size = 15"), ({"length": 0}, "pinpad.length = 0"),
    ({"progress": -1.0}, "pinpad.progress = -1.0"), ({"room": "tiny"}, "pinpad.room = 'tiny'"),
    ({"room": "small", "size": 7}, "pinpad.size = 7 cannot show the small room")])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        pinpad(seed=0, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("pads", [3, 4, 5])
def test_a_random_policy_earns_far_less_than_the_scripted_path(pads):
    start = time.perf_counter()
    env = pinpad(seed=0, pads=pads)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    random_return = sum(env.step(int(a))[1] for a in rng.integers(5, size=2000))
    env.reset()
    scripted, _ = _visit(env, list(range(1, pads + 1)) * 3)
    per_step = sum(scripted) / len(scripted)
    print(f"pads={pads}: random return {random_return} per 2000 steps; scripted "
          f"{per_step * 2000:.0f} per 2000 steps")
    assert sum(scripted) == 30.0
    assert random_return / 2000 < 0.05 * per_step
    assert time.perf_counter() - start < 2.0


def test_the_small_room_has_the_same_rules_at_a_quarter_of_the_walk():
    env = pinpad(seed=0, pads=3, room="small", size=32, progress=1.0)
    obs, _ = env.reset()
    assert env.unwrapped.agent == (3, 4) and obs.shape == (32, 32, 3)
    rewards, entered = _visit(env, [1, 2, 3])
    assert [rewards[i] for i in entered] == [1.0, 1.0, 10.0] and sum(rewards) == 12.0
    assert len(rewards) <= 9  # 1, 2, 3 in at most 9 steps (large room: 24)
    rewards, entered = _visit(env, [2, 1, 3])  # wrong order: 1 starts a prefix, 3 breaks it
    assert [rewards[i] for i in entered] == [0.0, 1.0, 0.0]


def test_small_room_rendering_at_32_pixels():
    env = pinpad(seed=0, pads=3, room="small", size=32)
    obs, _ = env.reset()
    _, ids = parse_layout(LAYOUTS["small"][3])
    for pad in (1, 2, 3):
        for cell in zip(*np.nonzero(ids == pad), strict=True):
            assert (_cell_pixels(obs, cell, 32, 8) == pp.PAD_COLOURS[pad - 1]).all()
    assert (_cell_pixels(obs, (3, 4), 32, 8) == pp.AGENT).all()
    assert (_cell_pixels(obs, (3, 3), 32, 8) == pp.FLOOR).all()
    assert (obs[28:] == pp.WALL).all()  # 7 rows of 4 pixels, then the empty 4-row strip
    _visit(env, [1])
    obs = env.step(NOOP)[0]
    assert (obs[28:, :16] == pp.PAD_COLOURS[0]).all() and (obs[28:, 16:] == pp.WALL).all()


def test_a_random_policy_in_the_small_room_is_far_from_the_scripted_cycle():
    env = pinpad(seed=0, pads=3, room="small")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    random_return = sum(env.step(int(a))[1] for a in rng.integers(5, size=2000))
    env.reset()
    scripted, _ = _visit(env, [1, 2, 3] * 5)
    per_step = sum(scripted) / len(scripted)
    assert sum(scripted) == 50.0
    assert 0 < random_return / 2000 < 0.1 * per_step  # meets a sequence, but rarely
