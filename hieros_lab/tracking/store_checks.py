"""Probes of a tracking store before a run opens: is the sqlite file or the server usable?

Each returns None when the store is usable, else a short reason that the tracker turns into a
one-line error naming the store (the MLflow client itself would retry for minutes or fail deep
inside a migration).
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

HTTP_PROBE_TIMEOUT_S = 5.0
# MLflow narrates sqlite migrations at INFO on stderr; the CLI promises one-line errors.
_CHATTY_LOGGERS = ("mlflow.store.db.utils", "alembic")


def sqlite_db_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///rel`` or ``sqlite:////abs`` URI; None for memory."""
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    rest = rest.split("?", 1)[0]
    if rest in ("", "/", "/:memory:"):
        return None
    return Path(unquote(rest[1:] if rest.startswith("/") else rest))


def dir_problem(directory: Path) -> str | None:
    """None if ``directory`` is (or can be created as) a writable directory, else the reason."""
    probe = directory
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # mkdir -p needs the nearest existing ancestor to be writable
    if not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def sqlite_problem(db: Path) -> str | None:
    """None if the sqlite file ``db`` can be opened read-write (or created), else the reason."""
    if db.exists():
        if not db.is_file():
            return f"{db} is not a regular file"
        if not os.access(db, os.R_OK | os.W_OK):
            return f"{db} is not readable and writable"
    # sqlite writes its journal next to the database, so the directory must be writable too.
    return dir_problem(db.parent)


def http_problem(uri: str, timeout: float = HTTP_PROBE_TIMEOUT_S) -> str | None:
    """None if the MLflow server at ``uri`` answers its ``/health`` endpoint, else the reason.

    Probed directly because the client retries an unreachable server for minutes."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return None
    except urllib.error.HTTPError as err:  # it answers; 401/403/404 is for the client to judge
        return f"server answers HTTP {err.code}" if err.code >= 500 else None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return f"server does not answer ({reason})"


@contextmanager
def _quiet_store_setup() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
