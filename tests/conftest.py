"""Shared fixtures: a clean gin config per test, torch on few threads, tiny everything."""

from __future__ import annotations

import gin
import pytest
import torch

torch.set_num_threads(1)  # tiny tensors: one thread is faster and steadier


@pytest.fixture(autouse=True)
def _clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch):
    """A private sqlite tracking store; also exported as MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
