"""MinAtar through the Atari image path: exact rendering, actions, seeding, limits, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from hieros_lab.envs.minatar_env import GAMES, PALETTE, minatar, render


def test_render_draws_each_cell_in_its_top_channel_colour_centred_on_black():
    state = np.zeros((10, 10, 4), bool)
    state[0, 0, 1] = True  # one object of kind 1 in the top-left cell
    state[9, 3, 0] = state[9, 3, 2] = True  # kinds 0 and 2 overlap: 2 is drawn
    frame = render(state, 64)
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert (frame[2:8, 2:8] == PALETTE[1]).all()  # 6x6 block after the 2-pixel border
    assert (frame[2 + 54:2 + 60, 2 + 18:2 + 24] == PALETTE[2]).all()
    assert (frame[:2] == 0).all() and (frame[:, :2] == 0).all() and (frame[62:] == 0).all()
    coloured = (frame != 0).any(axis=2).sum()
    assert coloured == 2 * 36  # nothing else is drawn


@pytest.mark.parametrize("game", GAMES)
def test_every_game_gives_images_of_its_state_and_the_minimal_actions(game):
    env = minatar(seed=0, game=game)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.action_space.n == len(env.unwrapped.game.minimal_action_set())
    assert (obs == render(env.unwrapped.game.state(), 64)).all()
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and isinstance(reward, float)


def test_same_seed_same_trajectory_other_seed_another():
    def rollout(seed: int) -> tuple[list[np.ndarray], list[float]]:
        env = minatar(seed=seed, game="space_invaders")
        obs, _ = env.reset(seed=seed)
        frames, rewards = [obs], []
        for _ in range(300):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            frames.append(obs)
            rewards.append(reward)
            if terminated or truncated:
                obs, _ = env.reset()
        return frames, rewards

    a, b, c = rollout(3), rollout(3), rollout(4)
    assert all((x == y).all() for x, y in zip(a[0], b[0], strict=True)) and a[1] == b[1]
    assert any((x != y).any() for x, y in zip(a[0], c[0], strict=True))


def test_episodes_are_truncated_at_the_step_limit_not_terminated():
    env = minatar(seed=0, game="freeway", max_episode_steps=25)  # freeway never ends early
    env.reset(seed=0)
    ends = [env.step(0)[2:4] for _ in range(25)]
    assert ends[-1] == (False, True) and all(e == (False, False) for e in ends[:-1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"game": "breakuot"}, "unknown MinAtar game 'breakuot'.*close: breakout"),
    ({"size": 8}, "minatar.size = 8"),
    ({"sticky_action_prob": 1.5}, "minatar.sticky_action_prob = 1.5"),
    ({"max_episode_steps": 0}, "minatar.max_episode_steps = 0"),
])
def test_bad_settings_name_the_binding(kwargs, message):
    with pytest.raises(ValueError, match=message):
        minatar(seed=0, **kwargs)
