"""Exactly-once metrics: what a run measured reaches the tracker together with its checkpoint.

A tracker such as MLflow cannot take a value back. If metrics went out as they were measured, a
run killed at step X and resumed from its checkpoint at S < X would log steps S..X a second time,
from a different timeline. So the trainer does not send metrics as it measures them: it appends
them to a :class:`MetricJournal` and commits them with each checkpoint:

1. the checkpoint directory is written in full, including ``metrics.json`` (the journal's
   entries since the previous checkpoint), and only then becomes ``latest`` (atomic pointer);
2. the entries are sent to the tracker;
3. ``metrics.sent`` is written into the checkpoint directory.

A kill before 1 completes loses the entries with the timeline they belong to: the resumed run
measures those steps again, once. A kill between 1 and 3 leaves a checkpoint whose entries may
be partly sent; on resume :func:`replay` sends them again, skipping per key every step the
tracker already holds, so each key ends with one value per step, steps increasing, exactly the
history of the timeline the resumed weights come from.

The price: the tracker shows a run's metrics one checkpoint interval late
(``Trainer.checkpoint_every``), and a run that dies loses the measurements of the interval it
died in (they are measured again after the resume).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

from hieros_lab.tracking.base import Tracker
from hieros_lab.trainer import checkpoint as ckpt

ENTRIES = "metrics.json"
SENT = "metrics.sent"

#: One journal entry: (step, {key: value}).
Entry = tuple[int, dict[str, float]]


class MetricJournal:
    """The metrics measured since the last checkpoint, in the order they were measured."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(self, metrics: dict[str, float], step: int) -> None:
        """Record ``metrics`` at ``step`` (nothing reaches the tracker yet)."""
        if metrics:
            self.entries.append((int(step), {k: float(v) for k, v in metrics.items()}))

    def write(self, directory: Path) -> None:
        """Write the entries into a checkpoint directory that is not yet committed."""
        text = json.dumps([[step, _encode(m)] for step, m in self.entries])
        ckpt.write_text_atomic(directory / ENTRIES, text)

    def send(self, tracker: Tracker, directory: Path) -> None:
        """After the checkpoint in ``directory`` was committed: send the entries, mark them sent,
        and start the next interval empty."""
        send_entries(tracker, self.entries)
        ckpt.write_text_atomic(directory / SENT, f"{len(self.entries)}\n")
        self.entries = []


def send_entries(tracker: Tracker, entries: Iterable[Entry],
                 skip_through: dict[str, int] | None = None) -> int:
    """Log ``entries`` in order; per key, steps ``<= skip_through[key]`` are left out.

    Returns the number of values sent.
    """
    skip_through = skip_through or {}
    sent = 0
    for step, metrics in entries:
        fresh = {k: v for k, v in metrics.items() if step > skip_through.get(k, -1)}
        if fresh:
            tracker.log_metrics(fresh, step)
            sent += len(fresh)
    return sent


def replay(tracker: Tracker, directory: Path) -> int:
    """On resume from ``directory``: send what its commit may not have sent (step 2 above).

    Idempotent: keys the tracker already holds up to a step are skipped up to that step.
    Returns the number of values sent (0 when the checkpoint was marked sent).
    """
    path = directory / ENTRIES
    if (directory / SENT).is_file() or not path.is_file():
        return 0
    try:
        entries = [(int(step), _decode(m)) for step, m in json.loads(path.read_text())]
    except (ValueError, TypeError) as err:
        raise ckpt.CheckpointError(f"corrupted metric journal {path}: {err}") from None
    keys = sorted({k for _, m in entries for k in m})
    sent = send_entries(tracker, entries, tracker.last_steps(keys))
    ckpt.write_text_atomic(directory / SENT, f"{len(entries)}\n")
    return sent


def _encode(metrics: dict[str, float]) -> dict[str, float | str]:
    """JSON has no NaN/inf: keep them as strings (the tracker counts and skips them)."""
    return {k: v if math.isfinite(v) else repr(v) for k, v in metrics.items()}


def _decode(metrics: dict[str, float | str]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}
