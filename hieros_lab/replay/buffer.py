"""Sequence replay: every env step stored once in a ring, sampled as ``[B, T]`` windows.

The authors' ``Generic`` replay inserts one key per step holding the tuple of the last T steps
(stride 1, overlapping windows that may cross episode boundaries; spec §6.1). This buffer keeps
the same items without the per-window copies: steps live in preallocated numpy ring arrays
(``np.empty``, so pages are only committed when written: 100k Atari steps of 64x64x3 uint8 cost
~1.23 GB) and a window is gathered by fancy indexing at sample time.

Items (windows) are indexed by age, as the ``Sampler`` protocol wants (``replay/base.py``):
item 0 starts at the oldest stored step, item ``len(buffer) - 1`` ends at the newest. A window
covers T consecutive stored steps, so it never straddles the ring's write head.

``save``/``load`` write one file: a JSON header (counters, shapes, sampler state) as a uint8
``.npy`` record followed by one ``.npy`` record per field holding only the filled part of the
ring. No pickle is involved, and a load reads straight into the ring (no second copy).
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO

import gin
import gymnasium as gym
import numpy as np
import numpy.lib.format as npy

from hieros_lab.replay.base import Sampler

#: Stored fields, in file order. ``obs`` is uint8 (images) or float32 (vectors).
_FORMAT_VERSION = 1
_HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


def level_capacity(capacity: int, length: int, period: int, scale_by_period: bool) -> int:
    """Steps a level's ring holds: ``capacity`` env steps' worth, i.e. ``ceil(capacity / period)``
    level steps (at least one window), or ``capacity`` itself when ``scale_by_period`` is off."""
    if not scale_by_period:
        return capacity
    return max(length, -(-capacity // period))


@gin.register
class ReplayBuffer:
    """Ring storage of a level's steps; samples windows of ``length`` consecutive steps.

    Capacity. ``capacity`` counts env steps: a level whose step spans ``period`` = K^i env steps
    holds ``ceil(capacity / period)`` of its own steps (at least ``length``), so every level
    remembers the same stretch of experience (:func:`level_capacity`). ``scale_by_period =
    False`` makes ``capacity`` the level's own step count (e.g. ``level1/ReplayBuffer.capacity =
    5000`` with ``level1/ReplayBuffer.scale_by_period = False``). The effective value is
    :attr:`capacity`; the run records it as a derived parameter. With ``Trainer.num_envs = N``
    each env stream has a ring of its own (:class:`~hieros_lab.replay.streams.StreamReplay`),
    built with ``streams = N``: each holds ``ceil(capacity / N)`` of the level's steps (at least
    ``length``), so the level as a whole remembers the same stretch of experience.

    ``sample(B)`` returns ``obs [B, T, ...]``, one-hot ``action [B, T, A]`` float32, ``reward
    [B, T]`` float32 and bool ``is_first``/``is_last``/``is_terminal [B, T]`` with
    ``is_first[:, 0] = True`` (spec §6.1). ``action[t]`` is the action stored with step t by
    :meth:`add`; the alignment convention is the caller's (spec §9 B1).

    Higher hierarchy levels act with subgoal codes: ``action_groups = G`` stores G indices per
    step and samples ``[B, T, A]`` with one 1 in each of the G groups of A/G. ``goal_dim > 0``
    adds a ``goal [B, T, goal_dim]`` float32 field (the parent's code at each step).
    ``continuous = True`` (level 0 of an env with ``Box`` actions) stores and samples the
    action vectors themselves, ``[B, T, A]`` float32.
    """

    def __init__(self, obs_space: gym.spaces.Box, num_actions: int,
                 sampler: Callable[..., Sampler], capacity: int = 1_000_000, length: int = 64,
                 seed: int = 0, action_groups: int = 1, goal_dim: int = 0, period: int = 1,
                 scale_by_period: bool = True, streams: int = 1,
                 continuous: bool = False) -> None:
        if not isinstance(obs_space, gym.spaces.Box):
            raise ValueError(f"ReplayBuffer needs a Box observation space, got {obs_space}")
        if period < 1:
            raise ValueError(f"ReplayBuffer.period must be >= 1, got {period}")
        if streams < 1:
            raise ValueError(f"ReplayBuffer.streams must be >= 1, got {streams}")
        capacity = level_capacity(int(capacity), int(length), int(period), scale_by_period)
        if streams > 1:  # this ring is one of ``streams`` (replay/streams.py)
            capacity = max(int(length), -(-capacity // streams))
        if num_actions < 1 or length < 1 or capacity < length:
            raise ValueError(f"ReplayBuffer needs num_actions >= 1 and capacity >= length >= 1 "
                             f"(num_actions={num_actions}, capacity={capacity}, length={length})")
        if action_groups < 1 or num_actions % action_groups or goal_dim < 0:
            raise ValueError(f"ReplayBuffer: {num_actions} actions do not split into "
                             f"{action_groups} groups, or goal_dim {goal_dim} < 0")
        if continuous and action_groups != 1:
            raise ValueError(f"ReplayBuffer: continuous actions have no groups (got "
                             f"{action_groups})")
        self.continuous = bool(continuous)
        self.action_groups, self.goal_dim = int(action_groups), int(goal_dim)
        self.obs_space = obs_space
        self.num_actions = int(num_actions)
        self.capacity = int(capacity)
        self.length = int(length)
        obs_dtype = np.uint8 if obs_space.dtype == np.uint8 else np.float32
        # np.empty: the OS maps pages lazily, so memory follows the number of stored steps.
        self._data: dict[str, np.ndarray] = {
            "obs": np.empty((self.capacity, *obs_space.shape), obs_dtype),
            "action": (np.empty((self.capacity, self.num_actions), np.float32) if continuous
                       else np.empty((self.capacity, self.action_groups), np.int32)),
            "reward": np.empty(self.capacity, np.float32),
            "is_first": np.empty(self.capacity, bool),
            "is_last": np.empty(self.capacity, bool),
            "is_terminal": np.empty(self.capacity, bool),
        }
        if self.goal_dim:
            self._data["goal"] = np.empty((self.capacity, self.goal_dim), np.uint8)
        self._eye = np.eye(self.num_actions // self.action_groups, dtype=np.float32)
        self._num_steps = 0
        self._stored = 0  # steps held; < min(num_steps, capacity) only after a load (see load)
        self.sampler = sampler(seed=seed)
        # Per-item samplers (time_balanced) follow items through the ring by the number ever
        # inserted; samplers with the original three-argument ``sample`` still work (base.py).
        self._pass_inserted = "inserted" in inspect.signature(self.sampler.sample).parameters

    # ------------------------------------------------------------------ sizes
    @property
    def num_steps(self) -> int:
        """Total number of steps ever added (including those overwritten)."""
        return self._num_steps

    @property
    def stored_steps(self) -> int:
        """Number of steps currently held (at most ``capacity``)."""
        return self._stored

    @property
    def nbytes(self) -> int:
        """Bytes of the filled part of the arrays (what the stored steps occupy)."""
        stored = self.stored_steps
        return sum(arr.nbytes // self.capacity * stored for arr in self._data.values())

    def __len__(self) -> int:
        """Number of windows (items): ``max(0, stored_steps - length + 1)``."""
        return max(0, self.stored_steps - self.length + 1)

    # --------------------------------------------------------------- insert
    def add(self, obs: np.ndarray, action: int | np.ndarray, reward: float, is_first: bool,
            is_last: bool, is_terminal: bool, goal: np.ndarray | None = None) -> None:
        """Store one step, overwriting the oldest one when the ring is full.

        ``action``: an index (one group), a one-hot/multi-hot ``[A]`` vector, or the ``[A]``
        vector of a continuous action; ``goal``:
        ``[goal_dim]`` 0/1 vector, required iff ``goal_dim > 0``.
        """
        obs = np.asarray(obs)
        if obs.shape != self.obs_space.shape:
            raise ValueError(f"obs shape {obs.shape} != observation space {self.obs_space.shape}")
        index = self._action_index(action)
        if (goal is None) != (self.goal_dim == 0):
            raise ValueError(f"goal must be given iff goal_dim > 0 (goal_dim={self.goal_dim})")
        i = self._num_steps % self.capacity
        data = self._data
        if goal is not None:
            data["goal"][i] = np.asarray(goal) > 0.5
        data["obs"][i] = obs
        data["action"][i] = index
        data["reward"][i] = reward
        data["is_first"][i] = is_first
        data["is_last"][i] = is_last
        data["is_terminal"][i] = is_terminal
        self._num_steps += 1
        self._stored = min(self._stored + 1, self.capacity)

    def _action_index(self, action: int | np.ndarray) -> np.ndarray:
        """Group indices ``[G]`` of an index or a one-hot/multi-hot ``[A]`` action (a
        continuous action: the vector itself)."""
        arr = np.asarray(action)
        if self.continuous:
            if arr.shape != (self.num_actions,):
                raise ValueError(f"continuous action shape {arr.shape} != ({self.num_actions},)")
            return arr.astype(np.float32)
        if arr.ndim == 0:
            if self.action_groups != 1 or not 0 <= int(arr) < self.num_actions:
                raise ValueError(f"action {action} outside [0, {self.num_actions}) or not one "
                                 f"of {self.action_groups} groups")
            return arr.reshape(1)
        if arr.shape != (self.num_actions,):
            raise ValueError(f"action vector shape {arr.shape} != ({self.num_actions},)")
        return arr.reshape(self.action_groups, -1).argmax(-1)

    # --------------------------------------------------------------- sample
    def sample(self, batch: int) -> dict[str, np.ndarray]:
        """``batch`` windows chosen by the sampler, as arrays ``[B, T, ...]`` (see class doc)."""
        size = len(self)
        if size == 0:
            raise ValueError(f"replay holds {self.stored_steps} steps, fewer than one window "
                             f"of length {self.length}")
        extra = {"inserted": self._num_steps - self.length + 1} if self._pass_inserted else {}
        idx = np.asarray(self.sampler.sample(size=size, capacity=self.capacity - self.length + 1,
                                             count=batch, **extra), dtype=np.int64)
        if idx.shape != (batch,) or np.any((idx < 0) | (idx >= size)):
            raise ValueError(f"sampler returned indices outside [0, {size}) or of shape "
                             f"{idx.shape} != ({batch},)")
        return self.gather(idx)

    def gather(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Windows at age indices ``idx: [B]`` (0 = oldest) -> dict of ``[B, T, ...]`` arrays."""
        oldest = self._num_steps - self.stored_steps  # global step number of the oldest step
        start = oldest + np.asarray(idx, dtype=np.int64)
        phys = (start[:, None] + np.arange(self.length)) % self.capacity  # [B, T]
        out = {key: arr[phys] for key, arr in self._data.items()}
        if not self.continuous:  # group indices -> [B, T, A] one-hot
            out["action"] = self._eye[out["action"]].reshape(*phys.shape, -1)
        if self.goal_dim:
            out["goal"] = out["goal"].astype(np.float32)
        out["is_first"][:, 0] = True  # every window starts a sequence (spec §6.1)
        return out

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Small state: counters and the sampler's RNG (the step data is in :meth:`save`)."""
        return {"num_steps": self._num_steps, "stored_steps": self._stored,
                "sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self._num_steps = int(state["num_steps"])
        self._stored = int(state["stored_steps"])
        self.sampler.load_state_dict(state["sampler"])

    def _meta(self) -> dict[str, Any]:
        return {"format": _FORMAT_VERSION, "capacity": self.capacity, "length": self.length,
                "num_actions": self.num_actions, "obs_shape": list(self.obs_space.shape),
                "obs_dtype": str(self._data["obs"].dtype), "num_steps": self._num_steps,
                "stored_steps": self._stored, "sampler": self.sampler.state_dict()}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the stored steps (oldest first), the counters and the sampler state to ``path``.

        Written to a temporary file in the same directory, then moved over ``path`` with
        ``os.replace``: a crash leaves either the old file or the new one, never half of one.
        """
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".",
                                   suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                header = json.dumps(self._meta(), default=_json_default).encode()
                np.save(f, np.frombuffer(header, dtype=np.uint8), allow_pickle=False)
                segments = self._segments(self._stored)
                for key in self._data:
                    _write_record(f, self._data[key], segments)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore a :meth:`save` file into this buffer. Shapes must match; the capacity may
        differ (the newest steps that fit are kept, so windows stay consecutive)."""
        with open(path, "rb") as f:
            meta = json.loads(np.load(f, allow_pickle=False).tobytes(), object_hook=_json_hook)
            self._check_meta(meta, os.fspath(path))
            saved_stored = int(meta["stored_steps"])
            self._num_steps = int(meta["num_steps"])
            self._stored = min(saved_stored, self.capacity)
            segments = self._segments(self._stored)
            for key in self._data:
                _read_record(f, self._data[key], segments, skip=saved_stored - self._stored)
        self.sampler.load_state_dict(meta["sampler"])

    def _segments(self, count: int) -> list[slice]:
        """Ring slices holding the newest ``count`` steps, oldest first (at most two)."""
        begin = (self._num_steps - count) % self.capacity
        first = min(count, self.capacity - begin)
        return [slice(begin, begin + first), slice(0, count - first)]

    def _check_meta(self, meta: dict[str, Any], path: str) -> None:
        expected = {k: v for k, v in self._meta().items()
                    if k in ("format", "length", "num_actions", "obs_shape", "obs_dtype")}
        wrong = {k: meta.get(k) for k, v in expected.items() if meta.get(k) != v}
        if wrong:
            raise ValueError(f"replay file {path!r} does not match this buffer: saved {wrong}, "
                             f"expected { {k: expected[k] for k in wrong} }")


def _write_record(f: BinaryIO, arr: np.ndarray, segments: list[slice]) -> None:
    """Write ``arr[segments]`` (concatenated along axis 0) as ONE ``.npy`` record, without
    concatenating in memory."""
    rows = sum(s.stop - s.start for s in segments)
    header = {"descr": npy.dtype_to_descr(arr.dtype), "fortran_order": False,
              "shape": (rows, *arr.shape[1:])}
    npy.write_array_header_1_0(f, header)
    for s in segments:
        if s.stop > s.start:
            f.write(memoryview(arr[s]).cast("B"))


def _read_record(f: BinaryIO, arr: np.ndarray, segments: list[slice], skip: int) -> None:
    """Read one ``.npy`` record: drop its first ``skip`` rows, fill ``arr[segments]`` in order."""
    version = npy.read_magic(f)
    shape, fortran, dtype = _HEADER_READERS[version](f)
    rows = sum(s.stop - s.start for s in segments)
    if fortran or dtype != arr.dtype or tuple(shape) != (rows + skip, *arr.shape[1:]):
        raise ValueError(f"replay file record {shape} {dtype} does not fit "
                         f"{(rows + skip, *arr.shape[1:])} {arr.dtype}")
    f.seek(skip * (arr.nbytes // len(arr)), os.SEEK_CUR)
    for s in segments:
        part = arr[s]
        if s.stop > s.start and f.readinto(memoryview(part).cast("B")) != part.nbytes:
            raise ValueError("replay file is truncated")


def _json_default(obj: Any) -> Any:
    """JSON encoding of numpy values that sampler states may contain."""
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} in a replay file header")


def _json_hook(obj: dict[str, Any]) -> Any:
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
    return obj
