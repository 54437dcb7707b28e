"""StreamReplay (``Trainer.num_envs > 1``): one ring per env stream, windows never cross from
one stream into another, batches split in proportion to the streams' window counts, and a
checkpoint continues the same draws.

Each step's observation is ``[stream, counter]``, so a sampled window shows where it came from.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from hieros_lab.replay.buffer import ReplayBuffer
from hieros_lab.replay.streams import StreamReplay
from hieros_lab.replay.uniform import UniformSampler

A, T = 3, 4
VEC = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)


def _replay(streams: int = 3, capacity: int = 300, seed: int = 0) -> StreamReplay:
    rings = [ReplayBuffer(VEC, A, sampler=UniformSampler, capacity=capacity, length=T,
                          seed=seed + j, streams=streams) for j in range(streams)]
    return StreamReplay(rings, seed=seed)


def _fill(replay: StreamReplay, counts: list[int]) -> None:
    """Interleave the streams' steps as the trainer does (one per stream per round)."""
    for c in range(max(counts)):
        for j, ring in enumerate(replay.streams):
            if c < counts[j]:
                ring.add(np.array([j, c], np.float32), c % A, float(c), c % 9 == 0, c % 9 == 8,
                         False)


def test_the_capacity_is_split_across_the_streams():
    replay = _replay(streams=3, capacity=300)
    assert [ring.capacity for ring in replay.streams] == [100, 100, 100]
    assert replay.capacity == 300
    # at least one window each, however many streams
    assert ReplayBuffer(VEC, A, sampler=UniformSampler, capacity=5, length=T,
                        streams=4).capacity == T
    with pytest.raises(ValueError, match="streams must be >= 1"):
        ReplayBuffer(VEC, A, sampler=UniformSampler, capacity=5, length=T, streams=0)


def test_every_window_comes_from_one_stream_and_is_consecutive():
    replay = _replay()
    _fill(replay, [40, 25, 10])
    assert len(replay) == (40 - T + 1) + (25 - T + 1) + (10 - T + 1)
    batch = replay.sample(256)
    obs = batch["obs"]  # [B, T, 2]
    assert obs.shape == (256, T, 2)
    assert (obs[:, :, 0] == obs[:, :1, 0]).all()  # one stream per window
    assert (np.diff(obs[:, :, 1], axis=1) == 1).all()  # consecutive steps of that stream
    assert batch["is_first"][:, 0].all()
    assert set(np.unique(obs[:, 0, 0]).tolist()) == {0.0, 1.0, 2.0}


def test_batches_split_in_proportion_to_the_window_counts():
    replay = _replay()
    _fill(replay, [3 * 30 + T - 1, 30 + T - 1, T - 2])  # 90, 30 and no windows
    streams = np.concatenate([replay.sample(64)["obs"][:, 0, 0] for _ in range(100)])
    share = np.bincount(streams.astype(int), minlength=3) / streams.size
    assert share[2] == 0.0  # a stream without a window is never drawn
    assert share[0] == pytest.approx(0.75, abs=0.02)


def test_a_saved_replay_continues_the_same_draws(tmp_path):
    replay = _replay(seed=3)
    _fill(replay, [30, 20, 12])
    replay.sample(8)
    replay.save(tmp_path / "replay0.bin")
    expected = [replay.sample(8)["obs"] for _ in range(3)]
    loaded = _replay(seed=99)
    loaded.load(tmp_path / "replay0.bin")
    assert loaded.stored_steps == replay.stored_steps == 62
    for want in expected:
        np.testing.assert_array_equal(loaded.sample(8)["obs"], want)


def test_a_replay_of_another_stream_count_is_refused(tmp_path):
    replay = _replay(streams=3)
    _fill(replay, [10, 10, 10])
    replay.save(tmp_path / "replay0.bin")
    with pytest.raises(ValueError, match="holds 3 streams, this run has 2"):
        _replay(streams=2).load(tmp_path / "replay0.bin")
    single = ReplayBuffer(VEC, A, sampler=UniformSampler, capacity=100, length=T)
    for c in range(10):
        single.add(np.array([0, c], np.float32), 0, 0.0, c == 0, False, False)
    single.save(tmp_path / "single.bin")
    with pytest.raises(ValueError, match="another Trainer.num_envs"):
        _replay(streams=3).load(tmp_path / "single.bin")
