"""The experiments' ``[scale.cpu]`` tables share gin/scale/tiny.gin instead of repeating sizes."""

from __future__ import annotations

from pathlib import Path

import gin
import pytest

from hieros_lab import config
from hieros_lab.sweep import experiment

EXPERIMENTS = sorted((config.GIN_DIR.parent / "experiments").glob("*.toml"))
TINY = "scale/tiny.gin"


def _lhs(binding: str) -> str:
    return binding.split("=", 1)[0].strip()


def tiny_bindings() -> dict[str, str]:
    """``Selector.param`` -> value text of every line of scale/tiny.gin."""
    lines = (config.GIN_DIR / TINY).read_text().splitlines()
    return {_lhs(ln): ln.split("=", 1)[1].split("#")[0].strip()
            for ln in lines if "=" in ln and not ln.lstrip().startswith("#")}


def test_tiny_gin_holds_sizes_only():
    names = set(tiny_bindings())
    assert {"s5.model_dim", "rssm.deter_dim", "Agent.batch_size", "ActorCritic.units"} <= names
    assert not {n for n in names if n.startswith(("Trainer.", "atari."))}


def test_debug_gin_takes_its_sizes_from_tiny_gin():
    assert f"include '{TINY}'" in (config.GIN_DIR / "debug.gin").read_text()
    config.parse(["debug.gin"], finalize=False)
    for name, value in tiny_bindings().items():
        assert repr(config.query(name)) == value, name


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_no_scale_table_repeats_a_tiny_binding(path):
    data, _ = experiment.read_toml(path)
    tiny = set(tiny_bindings())
    for name, table in data.get("scale", {}).items():
        repeated = sorted(tiny & {_lhs(b) for b in table.get("bindings", [])})
        assert not repeated, f"{path.name} [scale.{name}] repeats {TINY}: {repeated}"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_every_cpu_scale_loads_and_is_tiny(path):
    """Each arm at --scale cpu ends with tiny.gin's sizes, except what the arm binds itself."""
    exp = experiment.load(path, scale="cpu")
    for arm in exp.arms:
        child = exp.child(arm, exp.games[0], exp.seeds[0])
        config.parse(child.gin_files, child.bindings, finalize=False)
        own = {_lhs(b) for b in arm.bindings}
        for name, value in tiny_bindings().items():
            if name not in own:
                assert repr(config.query(name)) == value, f"{path.name} arm {arm.name}: {name}"
        gin.clear_config()


def test_arm_bindings_win_over_the_scale_files_and_scale_files_over_arm_files(tmp_path: Path):
    path = tmp_path / "exp.toml"
    path.write_text('name = "t"\nbase = ["presets/quickstart.gin"]\n'
                    '[arms.wide]\nbindings = ["s5.model_dim = 32"]\n'
                    '[arms.rssm]\ngin_files = ["sequence/rssm.gin"]\n'
                    f'[scale.cpu]\ngin_files = ["{TINY}"]\nbindings = ["Trainer.log_every = 7"]\n')
    exp = experiment.load(path, scale="cpu")
    wide, rssm = exp.expand()
    config.parse(wide.gin_files, wide.bindings, finalize=False)
    assert config.query("s5.model_dim") == 32 and config.query("s5.hidden") == 16
    assert config.query("Trainer.log_every") == 7
    config.parse(rssm.gin_files, rssm.bindings, finalize=False)
    assert config.query("rssm.deter_dim") == 16  # sequence/rssm.gin says 256
