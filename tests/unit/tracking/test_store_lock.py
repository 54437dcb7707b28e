"""store_lock: the retry of a locked sqlite database, the init lock, atomic creation."""

from __future__ import annotations

import sqlite3

import pytest
from mlflow.exceptions import MlflowException

from hieros_lab.tracking import store_lock
from hieros_lab.tracking.base import TrackerError
from hieros_lab.tracking.store_lock import exclusive, is_locked, open_store, retry_locked

STORE = "sqlite:////somewhere/mlflow.db"


def _locked() -> MlflowException:
    """What MLflow raises when sqlite stays busy: MlflowException from an OperationalError."""
    try:
        raise sqlite3.OperationalError("database is locked")
    except sqlite3.OperationalError as err:
        try:
            raise MlflowException("(sqlite3.OperationalError) database is locked") from err
        except MlflowException as wrapped:
            return wrapped


class _Flaky:
    """Fails with a locked database ``failures`` times, then returns ``"done"``."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise _locked()
        return "done"


def test_locked_twice_then_succeeds():
    op, sleeps = _Flaky(2), []
    assert retry_locked(op, STORE, "log metrics", sleep=sleeps.append, jitter=lambda: 0.5) == \
        "done"
    assert op.calls == 3
    assert sleeps == [store_lock.RETRY_BASE_S, 2 * store_lock.RETRY_BASE_S]  # doubling backoff


def test_always_locked_gives_up_naming_the_store():
    op = _Flaky(10**6)
    with pytest.raises(TrackerError) as info:
        retry_locked(op, STORE, "log metrics", attempts=4, sleep=lambda s: None)
    message = str(info.value)
    assert STORE in message and "database is locked" in message and "\n" not in message
    assert op.calls == 4


def test_backoff_is_capped_and_jittered():
    sleeps: list[float] = []
    with pytest.raises(TrackerError):
        retry_locked(_Flaky(10**6), STORE, "x", attempts=10, base_s=0.1, max_s=0.5,
                     sleep=sleeps.append, jitter=lambda: 0.99)
    assert max(sleeps) == pytest.approx(0.5 * 1.49)


def test_other_errors_are_not_retried():
    calls = []

    def op():
        calls.append(1)
        raise MlflowException("Experiment 'x' does not exist")

    with pytest.raises(MlflowException):
        retry_locked(op, STORE, "x", sleep=lambda s: None)
    assert len(calls) == 1
    assert is_locked(_locked()) and not is_locked(ValueError("database is fine"))


def test_the_init_lock_excludes_a_second_holder(tmp_path):
    lock = tmp_path / "sub" / "mlflow.db.init.lock"
    with exclusive(lock, STORE):
        with pytest.raises(TrackerError, match="mlflow.db.init.lock") as info:
            with exclusive(lock, STORE, timeout_s=0.2):
                pass
        assert STORE in str(info.value)
    with exclusive(lock, STORE, timeout_s=0.2):  # free again once released
        pass


def test_a_creator_killed_mid_migration_leaves_no_database(tmp_path, monkeypatch):
    """Without building aside, the killed migration would leave a half-migrated mlflow.db that
    every later run fails on ("duplicate column name")."""
    from mlflow.store.db import utils
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    (tmp_path / "mlflow.db.init-deadbeef.tmp").write_bytes(b"from a creator killed earlier")

    def killed(engine):
        raise KeyboardInterrupt  # after the initial tables, before the migrations

    monkeypatch.setattr(utils, "_upgrade_db", killed)
    with pytest.raises(KeyboardInterrupt):
        open_store(uri, db, lambda: MlflowClient(tracking_uri=uri))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db.init.lock"]

    monkeypatch.undo()
    client = open_store(uri, db, lambda: MlflowClient(tracking_uri=uri))
    assert client.get_experiment("0").name == "Default"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db", "mlflow.db.init.lock"]


def test_report_client_retries_a_locked_store(tmp_path, monkeypatch):
    """The report's reads are retried while a running sweep holds the sqlite write lock."""
    import sqlite3

    from hieros_lab.analysis.runs import RetryingClient

    calls = []

    class Flaky:
        tracking_uri = "sqlite:///x.db"

        def search_runs(self, *args):
            calls.append(args)
            if len(calls) < 3:
                raise sqlite3.OperationalError("database is locked")
            return ["run"]

    monkeypatch.setattr("time.sleep", lambda s: None)
    client = RetryingClient(Flaky(), "sqlite:///x.db")
    assert client.search_runs(["1"]) == ["run"] and len(calls) == 3
    assert client.tracking_uri == "sqlite:///x.db"
