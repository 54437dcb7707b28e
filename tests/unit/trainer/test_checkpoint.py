"""Checkpoint files: the latest checkpoint's step is read without loading its weights."""

from __future__ import annotations

import pytest

from hieros_lab.trainer import checkpoint as ckpt


def _commit(root, step: int, state: dict | None = None):
    path = ckpt.new_checkpoint_dir(root, step)
    ckpt.atomic_torch_save(state if state is not None else {"step": step}, path / "state.pt")
    ckpt.commit_checkpoint(root, path)
    return path


def test_step_comes_from_the_latest_checkpoint_without_loading_it(tmp_path):
    assert ckpt.checkpoint_step(tmp_path) is None
    _commit(tmp_path, 60)
    path = _commit(tmp_path, 120)
    (path / "state.pt").write_bytes(b"not read")  # the directory name is enough
    assert ckpt.checkpoint_step(tmp_path) == 120


def test_a_directory_named_otherwise_falls_back_to_its_state(tmp_path):
    path = _commit(tmp_path, 7, {"step": 42})
    renamed = path.rename(tmp_path / "old-style")
    ckpt.write_text_atomic(tmp_path / ckpt.LATEST, renamed.name + "\n")
    assert ckpt.checkpoint_step(tmp_path) == 42
    ckpt.atomic_torch_save({"weights": 1}, renamed / "state.pt")
    with pytest.raises(ckpt.CheckpointError, match="state.pt"):
        ckpt.checkpoint_step(tmp_path)


def test_a_second_save_at_the_same_step_keeps_the_latest_until_it_commits(tmp_path):
    """Emptying ``ckpt-<step>`` for a second save at that step would destroy the checkpoint that
    ``latest`` names; a kill before the commit would then leave nothing to resume."""
    first = _commit(tmp_path, 40)
    second = ckpt.new_checkpoint_dir(tmp_path, 40)
    assert second != first
    assert ckpt.latest_checkpoint(tmp_path) == first
    assert ckpt.load_torch(first / "state.pt")["step"] == 40  # intact until the commit
    ckpt.atomic_torch_save({"step": 40, "again": True}, second / "state.pt")
    ckpt.commit_checkpoint(tmp_path, second)
    assert ckpt.latest_checkpoint(tmp_path) == second and not first.exists()
    assert ckpt.checkpoint_step(tmp_path) == 40
    assert ckpt.new_checkpoint_dir(tmp_path, 40) == first  # the free name again
