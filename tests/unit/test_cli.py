"""The command line: components listing, usage errors, python -m entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hieros_lab import cli, registry


def test_components_lists_every_kind_and_name(capsys):
    assert cli.main(["components"]) == 0
    out = capsys.readouterr().out
    for kind in registry.kinds():
        assert f"{kind}:" in out
        for name, entry in registry.entries(kind).items():
            assert name in out and entry.description in out


def test_train_without_gin_file_is_a_usage_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train"]) == 2
    assert "--gin_file" in capsys.readouterr().err


def test_resume_of_a_non_run_directory_names_it(capsys, tmp_path):
    assert cli.main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "nothing" in capsys.readouterr().err


def test_unknown_subcommand_exits_nonzero():
    with pytest.raises(SystemExit) as err:
        cli.main(["fly"])
    assert err.value.code == 2


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "hieros_lab", "components"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0 and "sequence:" in out.stdout
