"""Many processes on one sqlite MLflow store: create it once, retry while it is locked.

MLflow builds a new sqlite store's schema (dozens of alembic migrations, seconds) in whichever
process opens it first, with nothing to stop a second process doing the same: runs started
together on a new store each migrate the same file, collide ("table _alembic_tmp_params already
exists", "duplicate column name") and leave it half-migrated for every later run. Here:

* :func:`open_store` opens the store under an exclusive ``flock`` on ``<db>.init.lock`` (one
  opener at a time per database file; other URIs need no lock). A database that does not exist
  yet is built in a temporary file next to it and renamed into place, so the database path only
  ever holds a complete schema, even if the creating process is killed mid-migration.
* :func:`retry_locked` repeats an operation that failed with sqlite's "database is locked" (one
  writer at a time; a busy store can outwait sqlite's own busy timeout), with capped exponential
  backoff and jitter, then gives up with a one-line :class:`TrackerError` naming the store.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from hieros_lab.tracking.base import TrackerError

LOCK_SUFFIX = ".init.lock"
TMP_INFIX = ".init-"  # temporary databases: <db>.init-<unique>.tmp (plus sqlite's side files)
LOCK_TIMEOUT_S = 300.0  # creating a store takes seconds; minutes means a stuck process
LOCK_POLL_S = 0.05
LOCKED = "database is locked"  # sqlite3.OperationalError text for SQLITE_BUSY
RETRY_ATTEMPTS = 8
RETRY_BASE_S = 0.1
RETRY_MAX_S = 2.0
# MLflow logs every OperationalError with its traceback here before raising it; a locked
# database that a retry then gets through must not print a traceback on a one-line CLI.
_MLFLOW_DB_LOGGER = "mlflow.store.db.utils"

T = TypeVar("T")


def lock_path(db: Path) -> Path:
    """The lock file that serialises opening the sqlite database ``db``."""
    return db.with_name(db.name + LOCK_SUFFIX)


@contextmanager
def exclusive(lock: Path, store: str, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock`` (created if missing); TrackerError after
    ``timeout_s`` seconds of waiting. The kernel releases it if the process dies."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+b") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TrackerError(f"MLflow store {store}: cannot open the store: waited "
                                       f"{timeout_s:.0f} s for {lock} (held by another "
                                       "process opening the store)") from None
                time.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _sqlite_uri(db: Path, like: str) -> str:
    """``sqlite:///<absolute db>`` with the query string (options) of the URI ``like``."""
    query = like.partition("?")[2]
    return f"sqlite:///{db.resolve()}" + (f"?{query}" if query else "")


def _remove_leftovers(db: Path) -> None:
    """Delete temporary databases of creators that were killed (we hold the lock)."""
    for path in db.parent.glob(f"{db.name}{TMP_INFIX}*"):
        path.unlink(missing_ok=True)


def _build_schema(uri: str) -> bool:
    """Create MLflow's full schema in the new sqlite database ``uri``; False if this MLflow
    has no way to do it outside a store (then the store migrates in place, still locked)."""
    from mlflow.store.db import utils

    initialize = getattr(utils, "_initialize_tables", None)  # the step SqlAlchemyStore runs
    if initialize is None:
        return False
    engine = utils.create_sqlalchemy_engine(uri)
    try:
        initialize(engine)
    finally:
        engine.dispose()  # close the file before it is renamed
    return True


def _create(db: Path, uri: str) -> None:
    """Build the database ``db`` (which does not exist) in a temporary file, then rename it."""
    _remove_leftovers(db)
    tmp = db.with_name(f"{db.name}{TMP_INFIX}{uuid.uuid4().hex}.tmp")
    try:
        if _build_schema(_sqlite_uri(tmp, uri)):
            os.replace(tmp, db)  # atomic: readers see no database or a complete one
    finally:
        _remove_leftovers(db)


def open_store(uri: str, db: Path | None, opener: Callable[[], T]) -> T:
    """``opener()`` (which opens the store ``uri``), one process at a time if ``db`` is a
    sqlite file; a missing database is created completely before anyone opens it. Lock errors
    while opening are retried (:func:`retry_locked`)."""
    if db is None:
        return retry_locked(opener, uri, "open the store")
    with exclusive(lock_path(db), uri):
        if not db.exists():
            _create(db, uri)
        return retry_locked(opener, uri, "open the store")


# -- retrying a locked database -------------------------------------------------------------------
def is_locked(err: BaseException) -> bool:
    """True if ``err`` or an exception it wraps (MLflow -> SQLAlchemy -> sqlite3) says the
    sqlite database is locked."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if LOCKED in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class _DropLockedTracebacks(logging.Filter):
    """Drops MLflow's error log of a locked database: :func:`retry_locked` owns that error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and is_locked(exc)) and LOCKED not in record.getMessage()


_FILTER = _DropLockedTracebacks()


def retry_locked(op: Callable[[], T], store: str, action: str, attempts: int = RETRY_ATTEMPTS,
                 base_s: float = RETRY_BASE_S, max_s: float = RETRY_MAX_S,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> T:
    """``op()``, repeated up to ``attempts`` times while it fails with "database is locked".

    Waits ``base_s * 2**k`` (capped at ``max_s``) times a random factor in [0.5, 1.5) between
    tries, so processes that collided do not collide again in step. A failed sqlite write is
    rolled back, so repeating it cannot log twice. Other errors propagate at once; the last
    locked one becomes a TrackerError naming ``store`` and ``action``."""
    logger = logging.getLogger(_MLFLOW_DB_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    for attempt in range(attempts):
        try:
            return op()
        except Exception as err:
            if not is_locked(err):
                raise
            if attempt + 1 >= attempts:
                raise TrackerError(f"MLflow store {store}: cannot {action}: {LOCKED} (gave up "
                                   f"after {attempts} attempts)") from err
            sleep(min(max_s, base_s * 2 ** attempt) * (0.5 + jitter()))
    raise ValueError(f"attempts must be >= 1, got {attempts}")
