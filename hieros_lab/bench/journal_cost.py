"""Cost of the exactly-once metric journal on a real run (issue 8 target: <= 2 % of wall time).

``python -m hieros_lab.bench.journal_cost`` trains ``presets/quickstart.gin`` through the CLI
(extra CLI arguments are passed on, e.g. ``--gin_binding "Trainer.steps = 500"``) with timers
around the journal's ``add`` and ``write`` (what the mechanism adds) and ``send`` (the tracker
calls that logging did before as well), and prints one JSON object with the fractions of the
wall time.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from hieros_lab.trainer import journal


def _timed(spent: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start

    return wrapper


def main() -> None:
    from hieros_lab.cli import main as cli

    spent = {"add": 0.0, "write": 0.0, "send": 0.0}
    cls = journal.MetricJournal
    for name in spent:
        setattr(cls, name, _timed(spent, name, getattr(cls, name)))
    start = time.perf_counter()
    code = cli(["train", "--gin_file", "presets/quickstart.gin", "--no_progress",
                *sys.argv[1:]])
    wall = time.perf_counter() - start
    sys.stdout.write(json.dumps({
        "exit": code, "wall_s": wall, **{f"{k}_s": v for k, v in spent.items()},
        "journal_overhead": (spent["add"] + spent["write"]) / wall,
        "send_fraction": spent["send"] / wall}) + "\n")


if __name__ == "__main__":
    main()
