"""Helpers for end-to-end runs: train through the CLI into a private MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from hieros_lab import cli


@pytest.fixture
def train(tmp_path, mlflow_uri, monkeypatch):
    """``train(*bindings, gin=[...]) -> (exit code, run dir)`` inside ``tmp_path``."""
    monkeypatch.chdir(tmp_path)

    def run(*bindings: str, gin: tuple[str, ...] = ("debug.gin",), run_dir: str = "run",
            resume: bool = False) -> tuple[int, Path]:
        argv = ["train", "--no_progress"]
        if resume:
            argv += ["--resume", run_dir]
        else:
            argv += [x for g in gin for x in ("--gin_file", g)] + ["--run_dir", run_dir]
        argv += [x for b in bindings for x in ("--gin_binding", b)]
        return cli.main(argv), tmp_path / run_dir

    return run


@pytest.fixture
def client(mlflow_uri):
    return MlflowClient(tracking_uri=mlflow_uri)


@pytest.fixture
def only_run(client):
    """``only_run() -> Run``: the single run of experiment hieros_lab."""
    return lambda: _only_run(client)


def _only_run(client: MlflowClient):
    exp = client.get_experiment_by_name("hieros_lab")
    assert exp is not None, "no experiment was created"
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1, f"expected one run, found {len(runs)}"
    return runs[0]
