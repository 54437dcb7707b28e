"""Env factories: the env contract, the Atari100k protocol, seeding and the fake task (DESIGN §5,
spec §9 B9/B10)."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import DtypeObservation

from hieros_lab.envs.atari import atari, known_games, resolve_game
from hieros_lab.envs.base import check_env
from hieros_lab.envs.control import control
from hieros_lab.envs.fake import fake
from hieros_lab.registry import entries


def _rollout(env, actions, reset_seed=None):
    """Observations [len(actions) + 1, ...] and rewards [len(actions)] (stops at episode end)."""
    obs, _ = env.reset(seed=reset_seed)
    observations, rewards = [obs], []
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            break
    return np.stack(observations), np.array(rewards)


def test_all_factories_registered():
    names = entries("env")
    assert names["atari"].target is atari
    assert names["control"].target is control
    assert names["fake"].target is fake


# ------------------------------------------------------------------------------------ atari
def test_atari_pong_protocol():
    env = atari(seed=0, game="Pong")
    check_env(env, "pong")
    assert env.action_space.n == 6  # minimal action set
    assert env.observation_space.shape == (64, 64, 3)
    base = env.unwrapped
    assert base._frameskip == 1 and env.unwrapped.ale.getFloat("repeat_action_probability") == 0
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)


def test_atari_same_seed_reproduces_and_seeds_matter():
    actions = [i % 6 for i in range(60)]
    first = _rollout(atari(seed=3), actions)  # no reset seed: the factory's seed applies
    again = _rollout(atari(seed=3), actions, reset_seed=3)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    others = [_rollout(atari(seed=s), actions)[0] for s in (4, 5, 6)]
    assert not all(np.array_equal(first[0], o) for o in others)  # no-op starts differ


def test_atari_grayscale_and_size():
    env = atari(seed=0, game="pong", size=32, grayscale=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (32, 32, 1) and obs.dtype == np.uint8
    check_env(env, "pong-gray")


def test_atari_time_limit_is_truncation_not_terminal():
    env = atari(seed=0, max_episode_frames=300, noop_max=0)
    env.reset(seed=0)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated) and steps < 200:
        _, _, terminated, truncated, _ = env.step(0)
        steps += 1
    assert truncated and not terminated and steps <= 75  # 300 frames / 4 per step


@pytest.mark.parametrize("name", ["Pong", "pong", "ALE/Pong-v5", "battle_zone", "BattleZone",
                                  "ms_pacman", "Private Eye"])
def test_atari_game_names_resolve(name):
    assert resolve_game(name) in known_games()


def test_atari_name_forms_agree():
    assert resolve_game("battle_zone") == resolve_game("BattleZone") == "BattleZone"
    assert resolve_game("ALE/Pong-v5") == resolve_game("pong") == "Pong"
    assert {"Pong", "BattleZone", "Breakout"} <= set(known_games())


def test_atari_unknown_game_error_names_it_and_suggests():
    with pytest.raises(ValueError, match="'Pongg'") as info:
        atari(seed=0, game="Pongg")
    message = str(info.value)
    assert "Pong" in message.split("close matches")[1] and "\n" not in message


# ---------------------------------------------------------------------------------- control
def test_control_cartpole_float32_and_seeded():
    env = control(seed=1)
    check_env(env, "cartpole")
    assert env.action_space.n == 2 and env.observation_space.shape == (4,)
    obs, _ = env.reset()
    assert obs.dtype == np.float32
    actions = [i % 2 for i in range(30)]
    first = _rollout(control(seed=1), actions)
    again = _rollout(control(seed=1), actions, reset_seed=1)
    other = _rollout(control(seed=2), actions)
    assert np.array_equal(first[0], again[0])
    assert not np.array_equal(first[0][0], other[0][0])
    assert first[0].dtype == np.float32


def test_control_casts_float64_observations():
    env = control(seed=0, name="MountainCar-v0")
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.dtype == np.float32


def test_control_rejects_unknown_names():
    with pytest.raises(ValueError, match="'CartPol-v1'.*CartPole-v1"):
        control(seed=0, name="CartPol-v1")


def test_control_continuous_actions_are_unit_scaled_and_carried():
    env = control(seed=0, name="Pendulum-v1")  # torque in [-2, 2]
    check_env(env, "pendulum")
    space = env.action_space
    assert isinstance(space, gym.spaces.Box) and space.shape == (1,)
    assert np.all(space.low == -1.0) and np.all(space.high == 1.0)
    inner = env.unwrapped.action_space
    assert env.action(np.array([1.0])) == inner.high and env.action(np.array([-3.0])) == inner.low
    assert env.action(np.array([0.25])) == pytest.approx(0.5)
    env.reset(seed=0)
    twin = pickle.loads(pickle.dumps(env))  # checkpoints carry classic-control envs
    for a in (0.3, -0.7, 1.0):
        assert np.array_equal(env.step(np.array([a], np.float32))[0],
                              twin.step(np.array([a], np.float32))[0])


def test_an_unscaled_box_is_refused():
    env = gym.make("Pendulum-v1")
    with pytest.raises(ValueError, match="bounds \\[-1, 1\\].*UnitActions"):
        check_env(DtypeObservation(env, np.float32), "raw_pendulum")


# ------------------------------------------------------------------------------------- fake
def _decode(obs: np.ndarray, num_actions: int) -> int:
    """The target shown: brightest band (image) or one-hot position (vector)."""
    if obs.ndim == 1:
        return int(np.argmax(obs[:num_actions]))
    columns = obs[:-1].astype(np.int64).sum(axis=(0, 2))
    return int(np.argmax([band.sum() for band in np.array_split(columns, num_actions)]))


@pytest.mark.parametrize("image", [True, False])
def test_fake_contract_and_learnability(image):
    env = fake(seed=0, image=image, num_actions=4, episode_length=25)
    check_env(env, "fake")
    shape = (16, 16, 3) if image else (8,)
    assert env.observation_space.shape == shape
    obs, _ = env.reset(seed=0)
    assert obs.dtype == (np.uint8 if image else np.float32)
    rewards, steps, terminated = [], 0, False
    while not terminated:  # optimal policy: act on the target the observation shows
        obs, reward, terminated, truncated, _ = env.step(_decode(obs, 4))
        rewards.append(reward)
        steps += 1
        assert not truncated
    assert steps == 25 and all(r == 1.0 for r in rewards)
    with pytest.raises(RuntimeError):
        env.step(0)


def test_fake_random_policy_earns_one_over_num_actions():
    env = fake(seed=1, image=False, num_actions=3, episode_length=50)
    rng = np.random.default_rng(0)
    total, count = 0.0, 0
    for _ in range(60):
        env.reset()
        terminated = False
        while not terminated:
            _, reward, terminated, _, _ = env.step(int(rng.integers(3)))
            total, count = total + reward, count + 1
    assert abs(total / count - 1 / 3) < 0.05  # 3000 steps: std ~0.009


def test_fake_is_deterministic_per_seed():
    actions = [i % 3 for i in range(20)]
    first = _rollout(fake(seed=5), actions)
    again = _rollout(fake(seed=5), actions, reset_seed=5)
    other = _rollout(fake(seed=6), actions)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
    # Targets change from step to step (a constant target would make the task trivial).
    targets = {_decode(o, 3) for o in first[0]}
    assert targets == {0, 1, 2}


def test_fake_rejects_impossible_layouts():
    with pytest.raises(ValueError):
        fake(seed=0, image=False, vector_dim=2, num_actions=3)
    with pytest.raises(ValueError):
        fake(seed=0, image=True, size=2, num_actions=3)
