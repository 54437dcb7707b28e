"""ALE Atari games under the Atari100k protocol (DESIGN §5, spec §1.6).

``ALE/<Game>-v5`` with ``frameskip=1``, no sticky actions (``repeat_action_probability=0``) and
the minimal action set, wrapped in gymnasium's ``AtariPreprocessing``: up to ``noop_max`` random
no-ops at reset, ``action_repeat`` frames per step with a max-pool over the last two, INTER_AREA
resize to ``size x size``, RGB by default, no life-loss terminals. Episodes are cut at
``max_episode_frames`` emulator frames (108k = 30 min) and reported as *truncated*, not
terminated: the authors marked time limits as terminal (spec §9 B9); the driver stores
``is_terminal = terminated``.

Seeding (spec §9 B10: the authors' no-op RNG was unseeded): the factory seeds the ALE and the
no-op RNG from ``seed``, so even a first ``reset()`` without a seed is reproducible, and
``reset(seed=s)`` re-seeds both.
"""

from __future__ import annotations

import difflib
import functools
import re

import ale_py
import gymnasium as gym
from gymnasium.wrappers import AtariPreprocessing

from hieros_lab.envs.base import check_env
from hieros_lab.registry import register

_ID = re.compile(r"^ALE/(?P<name>\w+)-v5$")


@functools.cache
def _games() -> dict[str, str]:
    """Normalised key (lower case, no separators) -> CamelCase game name, for all v5 games."""
    gym.register_envs(ale_py)
    names = [m["name"] for env_id in gym.registry if (m := _ID.match(env_id))]
    return {_normalise(name): name for name in names}


def _normalise(game: str) -> str:
    match = re.match(r"^(?:ALE/)?(?P<name>.*?)(?:-v\d+)?$", game.strip())
    assert match is not None  # the pattern matches every string
    return re.sub(r"[\s_\-]", "", match["name"]).lower()


def known_games() -> list[str]:
    """All ALE v5 game names (CamelCase, e.g. ``"BattleZone"``), sorted."""
    return sorted(_games().values())


def resolve_game(game: str) -> str:
    """CamelCase ALE name for ``game`` ("Pong", "pong", "battle_zone", "ALE/Pong-v5", ...).

    Raises ValueError naming ``game`` and a few close matches when it is unknown.
    """
    games = _games()
    key = _normalise(game)
    if key in games:
        return games[key]
    close = difflib.get_close_matches(key, list(games), n=4, cutoff=0.6)
    hint = ", ".join(games[k] for k in close) or "none (see hieros_lab.envs.atari.known_games())"
    raise ValueError(f"unknown Atari game {game!r}; close matches: {hint}")


@register("env", "atari")
def atari(seed: int, game: str = "Pong", size: int = 64, action_repeat: int = 4,
          noop_max: int = 30, grayscale: bool = False,
          max_episode_frames: int = 108_000) -> gym.Env:
    """Atari100k env: uint8 ``(size, size, 3)`` (or ``(size, size, 1)`` grayscale) frames,
    minimal Discrete action set, ``action_repeat`` frames per step."""
    name = resolve_game(game)
    base = gym.make(f"ALE/{name}-v5", frameskip=1, repeat_action_probability=0.0,
                    full_action_space=False, max_num_frames_per_episode=max_episode_frames)
    env = AtariPreprocessing(base, noop_max=noop_max, frame_skip=action_repeat,
                             screen_size=size, grayscale_obs=grayscale,
                             grayscale_newaxis=True, terminal_on_life_loss=False)
    # Seed ALE + the no-op RNG now (same derivation as reset(seed=seed) in ale_py), so the env
    # is reproducible from the factory's seed whether or not the first reset passes one.
    ale_env = env.unwrapped
    ale_env.seed_game(seed)
    ale_env.load_game()
    env.action_space.seed(seed)
    check_env(env, f"atari/{name}")
    return env
