"""``hieros-lab sweep --only GLOB``: a subset of the children, and a glob that matches none."""

from __future__ import annotations

import pytest

from hieros_lab import cli
from hieros_lab.config import ConfigError
from hieros_lab.sweep import experiment
from hieros_lab.sweep.sweep import select_children

TOML = """name = "t"
base = ["debug.gin"]
seeds = [0, 1, 2]

[arms.a]
bindings = []

[arms.b]
bindings = []
"""


@pytest.fixture
def exp(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(TOML)
    return experiment.load(path)


def test_globs_select_children_in_sweep_order(exp):
    assert [c.key for c in select_children(exp, ["*/seed0", "b/*/seed2"])] == [
        "a/default/seed0", "b/default/seed0", "b/default/seed2"]
    assert len(select_children(exp, [])) == 6


def test_a_glob_that_matches_nothing_names_itself_and_the_children(exp):
    with pytest.raises(ConfigError, match=r"--only 'c/\*' matches no child of .*t.toml "
                                          r"\(children: a/default/seed0"):
        select_children(exp, ["*/seed1", "c/*"])


def test_dry_run_lists_only_the_selected_children(exp, capsys):
    assert cli.main(["sweep", str(exp.path), "--dry-run", "--only", "a/*/seed1"]) == 0
    out = capsys.readouterr().out
    assert "= 1 runs" in out and "a/default/seed1" in out and "seed0" not in out
