"""A level's replay when several envs run at once (``Trainer.num_envs = N > 1``).

Each env stream keeps a ring of its own (:class:`~hieros_lab.replay.buffer.ReplayBuffer`, built
with ``streams = N``), so a window never mixes the steps of two envs: a sequence model that read
env 0's step t and then env 1's step t as consecutive would learn dynamics that do not exist.
A batch of ``B`` windows is split across the streams by a multinomial draw with probabilities
proportional to each stream's window count, and each stream's own sampler (uniform, ETBS, ...)
picks its windows; the batch is the streams' windows concatenated in stream order. So every
stored window is as likely as under one ring holding all of them, as long as the sampler is
uniform; per-item samplers (ETBS) balance within each stream.

With one env the agent uses the plain :class:`ReplayBuffer` and nothing here runs: ``num_envs =
1`` stays bit for bit the single-stream agent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from hieros_lab.replay.base import Sampler
from hieros_lab.replay.buffer import ReplayBuffer


class StreamReplay:
    """``N`` per-stream rings of one level behind the replay interface the agent samples from.

    ``streams[j]`` stores stream ``j``'s steps (``add`` goes there directly); ``sample(B)``
    returns ``[B, T, ...]`` arrays as :meth:`ReplayBuffer.sample` does. ``seed`` seeds the split
    of each batch across the streams.
    """

    def __init__(self, streams: Sequence[ReplayBuffer], seed: int) -> None:
        if len(streams) < 2:
            raise ValueError(f"StreamReplay needs at least 2 streams, got {len(streams)}")
        first = streams[0]
        for j, rep in enumerate(streams):
            if (rep.length, rep.obs_space, rep.num_actions) != (
                    first.length, first.obs_space, first.num_actions):
                raise ValueError(f"stream {j}'s ring differs from stream 0's (length, "
                                 "observation space or actions)")
        self.streams = list(streams)
        self.rng = np.random.default_rng(seed)

    # -- the ReplayBuffer interface the agent and trainer read -----------------------------------
    @property
    def length(self) -> int:
        return self.streams[0].length

    @property
    def capacity(self) -> int:
        """Steps held by all rings together."""
        return sum(rep.capacity for rep in self.streams)

    @property
    def obs_space(self) -> gym.spaces.Box:
        return self.streams[0].obs_space

    @property
    def num_actions(self) -> int:
        return self.streams[0].num_actions

    @property
    def sampler(self) -> Sampler:
        """Stream 0's sampler (every stream's is built from the same binding)."""
        return self.streams[0].sampler

    @property
    def num_steps(self) -> int:
        return sum(rep.num_steps for rep in self.streams)

    @property
    def stored_steps(self) -> int:
        return sum(rep.stored_steps for rep in self.streams)

    @property
    def nbytes(self) -> int:
        return sum(rep.nbytes for rep in self.streams)

    def __len__(self) -> int:
        """Windows in all rings (none crosses from one stream into another)."""
        return sum(len(rep) for rep in self.streams)

    def sample(self, batch: int) -> dict[str, np.ndarray]:
        """``batch`` windows, split across the streams in proportion to their window counts."""
        sizes = np.array([len(rep) for rep in self.streams], dtype=np.float64)
        if sizes.sum() == 0:
            raise ValueError(f"replay holds no window of length {self.length} in any of its "
                             f"{len(self.streams)} streams")
        counts = self.rng.multinomial(batch, sizes / sizes.sum())
        parts = [rep.sample(int(n)) for rep, n in zip(self.streams, counts, strict=True) if n]
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    # -- checkpoints ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Stream ``j``'s ring to ``<path>.stream<j>``, then the split's RNG state to ``path``."""
        path = os.fspath(path)
        for j, rep in enumerate(self.streams):
            rep.save(f"{path}.stream{j}")
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump({"streams": len(self.streams), "rng": self.rng.bit_generator.state}, f)
        os.replace(tmp, path)

    def load(self, path: str | os.PathLike[str]) -> None:
        path = os.fspath(path)
        try:
            with open(path) as f:
                meta: dict[str, Any] = json.load(f)
        except (OSError, ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"replay file {path!r} is not the index of a {len(self.streams)}-"
                             f"stream replay (was the run trained with another Trainer.num_envs?)"
                             f": {err}") from None
        if meta.get("streams") != len(self.streams):
            raise ValueError(f"replay file {path!r} holds {meta.get('streams')} streams, this "
                             f"run has {len(self.streams)} (Trainer.num_envs)")
        for j, rep in enumerate(self.streams):
            rep.load(f"{path}.stream{j}")
        self.rng.bit_generator.state = meta["rng"]
