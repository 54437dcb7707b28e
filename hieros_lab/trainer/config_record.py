"""What configuration a run was started with, so that a resume or a sweep re-run cannot mix two.

A run is given gin files by *name*. ``--resume`` and a sweep's skip/resume read those files
again, so an edit between the two (a budget changed in ``validation/cartpole.gin``, say) would
silently continue a run under another config, or count a run made under the old one as a
result of the new one. The run therefore records the *parsed* config it started with:
``config.gin`` in its run directory (gin's ``config_str()`` of its files and bindings, before
any ``--resume`` extra bindings) and its digest in ``run.json``. :func:`stale` compares that
record with what the same files and bindings parse to now.

The text is gin's own rendering of every parsed binding, so an edit that changes no binding
(a comment, the order of lines, a file split in two) changes nothing here.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Sequence
from pathlib import Path

from hieros_lab import config

#: The parsed config a run started with, in its run directory.
CONFIG_FILE = "config.gin"


def parsed_text(gin_files: Sequence[str | Path], bindings: Sequence[str]) -> str:
    """Every binding that ``gin_files`` then ``bindings`` parse to, as gin renders them.
    Leaves that config parsed (not finalized)."""
    import gin

    config.parse(gin_files, bindings, finalize=False)
    return gin.config_str()


def digest(text: str) -> str:
    """Short stable digest of a parsed config text."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def first_difference(old: str, new: str) -> str:
    """The first changed binding as ``- old / + new`` (or one side alone), for error messages."""
    removed: list[str] = []
    added: list[str] = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            if removed or added:
                break
            continue
        if line.startswith("-") and line[1:].strip():
            removed.append(line[1:].strip())
        elif line.startswith("+") and line[1:].strip():
            added.append(line[1:].strip())
    parts = [f"was `{removed[0]}`" if removed else "", f"now `{added[0]}`" if added else ""]
    return ", ".join(p for p in parts if p) or "the parsed configs differ"


def compare(run_dir: Path, recorded_digest: str | None, now: str) -> str | None:
    """None when the parsed config text ``now`` is the one the run recorded (or the run predates
    the record: nothing to compare); else its first difference from the recorded one."""
    if not recorded_digest or digest(now) == recorded_digest:
        return None
    try:
        old = (run_dir / CONFIG_FILE).read_text()
    except OSError:
        return f"the parsed config differs, and its {CONFIG_FILE} is missing"
    return first_difference(old, now)


def stale(run_dir: Path, recorded_digest: str | None, gin_files: Sequence[str | Path],
          bindings: Sequence[str]) -> str | None:
    """:func:`compare` against what ``gin_files`` + ``bindings`` parse to now."""
    if not recorded_digest:
        return None
    return compare(run_dir, recorded_digest, parsed_text(gin_files, bindings))
