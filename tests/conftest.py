"""Shared fixtures: a clean gin config per test, torch on few threads, tiny everything."""

from __future__ import annotations

import gin
import pytest
import torch

torch.set_num_threads(1)  # tiny tensors: one thread is faster and steadier


@pytest.fixture(autouse=True)
def _clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch):
    """A private sqlite tracking store; also exported as MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def _build_agent(*bindings: str, files: tuple[str, ...] = ("debug.gin",), seed: int = 0):
    """``(agent, env)`` built through gin as a run builds them, on the fake env."""
    from hieros_lab import config

    config.parse(list(files), list(bindings))
    torch.manual_seed(seed)
    env = config.configurable("fake")(seed=seed)
    agent = config.configurable("Agent")(obs_space=env.observation_space,
                                         num_actions=int(env.action_space.n), seed=seed,
                                         device=torch.device("cpu"))
    return agent, env


def _level0_batch(agent, seed: int = 0, steps: int = 40, batch: int = 4):
    """A replay batch of level 0 from random steps (with parent codes if level 0 has a parent)."""
    import numpy as np

    replay = agent.replays[0]
    rng = np.random.default_rng(seed)
    for t in range(steps):
        goal = None
        if replay.goal_dim:  # one 1 in each group of the parent's code
            goal = np.zeros(replay.goal_dim, np.float32)
            goal[:: replay.goal_dim // agent.levels[0].autoencoder.groups] = 1.0
        replay.add(rng.integers(0, 256, replay.obs_space.shape, np.uint8),
                   int(rng.integers(replay.num_actions)), float(rng.normal()), t == 0, False,
                   False, goal=goal)
    return {k: torch.from_numpy(v) for k, v in replay.sample(batch).items()}


@pytest.fixture
def build_agent():
    """``build_agent(*bindings, files=("debug.gin",)) -> (agent, env)`` through gin."""
    return _build_agent


@pytest.fixture
def level0_batch():
    """``level0_batch(agent) -> {key: [B, T, ...]}`` from random steps in level 0's replay."""
    return _level0_batch
