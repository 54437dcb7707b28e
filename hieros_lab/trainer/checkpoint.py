"""Atomic checkpoints: write to a temporary file, then rename over the previous one.

A crash or a signal in the middle of a save never leaves a partial file where a good
checkpoint was; loading a damaged file raises :class:`CheckpointError` naming it.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read, with the file named in the message."""


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temp file in the same directory, fsync, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_torch(path: Path) -> Any:
    """Load a checkpoint written by :func:`atomic_torch_save`; clear error if damaged."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated zip, pickle error, ...
        raise CheckpointError(f"corrupted checkpoint {path}: {type(err).__name__}: {err}") from None


LATEST = "latest"


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def new_checkpoint_dir(root: Path, step: int) -> Path:
    """A fresh directory ``root/ckpt-<step>`` to fill before :func:`commit_checkpoint`.

    A second save at the same step (e.g. one more evaluation logged after a resume) goes to
    ``ckpt-<step>-<n>``: emptying the existing directory would destroy the latest good
    checkpoint before the new one is committed. Leftovers of an uncommitted save are removed.
    """
    current = latest_checkpoint(root) if (root / LATEST).is_file() else None
    base = f"ckpt-{step:09d}"
    for n in range(1_000):
        path = root / (base if n == 0 else f"{base}-{n}")
        if path == current:
            continue
        if path.exists():
            for child in path.iterdir():
                child.unlink()
        path.mkdir(parents=True, exist_ok=True)
        return path
    raise CheckpointError(f"too many checkpoints at step {step} under {root}")


def commit_checkpoint(root: Path, path: Path) -> None:
    """Point ``root/latest`` at the completely written ``path``, then delete older ones.

    Until the pointer is replaced, the previous checkpoint stays the one that is loaded, so a
    failure while writing ``path`` never loses the last good checkpoint.
    """
    write_text_atomic(root / LATEST, path.name + "\n")
    for old in root.glob("ckpt-*"):
        if old != path and old.is_dir():
            for child in old.iterdir():
                child.unlink()
            old.rmdir()


def latest_checkpoint(root: Path) -> Path | None:
    """The directory named by ``root/latest``, or None when there is no checkpoint."""
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    path = root / pointer.read_text().strip()
    if not path.is_dir():
        raise CheckpointError(f"checkpoint pointer {pointer} names a missing directory {path}")
    return path


_STEP_DIR = re.compile(r"ckpt-(\d+)(?:-\d+)?")


def checkpoint_step(root: Path) -> int | None:
    """Env step of the latest checkpoint under ``root`` (None: no checkpoint), read from its
    directory name (:func:`new_checkpoint_dir`) so that no weights are loaded; a directory
    named otherwise falls back to the counter inside its ``state.pt``."""
    path = latest_checkpoint(root)
    if path is None:
        return None
    match = _STEP_DIR.fullmatch(path.name)
    if match is not None:
        return int(match.group(1))
    state = load_torch(path / "state.pt")
    try:
        return int(state["step"])
    except (TypeError, KeyError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path / 'state.pt'} has no step counter: "
                              f"{type(err).__name__}: {err}") from None
