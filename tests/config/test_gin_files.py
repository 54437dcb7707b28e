"""Every gin file in the repository parses; bad input gives one-line errors naming the culprit."""

from __future__ import annotations

from pathlib import Path

import pytest

from hieros_lab import config

GIN_FILES = sorted(p.relative_to(config.GIN_DIR) for p in config.GIN_DIR.rglob("*.gin"))
PRESETS = [p for p in GIN_FILES if p.parts[0] == "presets"] + [Path("debug.gin")]


def test_there_are_gin_files():
    assert Path("presets/hieros.gin") in GIN_FILES and Path("base/wiring.gin") in GIN_FILES


@pytest.mark.parametrize("name", GIN_FILES, ids=str)
def test_every_gin_file_parses(name):
    config.parse([name], finalize=False)


@pytest.mark.parametrize("name", PRESETS, ids=str)
def test_presets_define_the_whole_graph(name):
    config.parse([name])
    for binding in ("Trainer.env", "Trainer.tracker", "Trainer.agent", "WorldModel.sequence",
                    "ReplayBuffer.sampler"):
        assert config.query(binding) is not None, f"{name} leaves {binding} unset"


def test_dreamer_preset_swaps_in_rssm_and_uniform():
    config.parse(["presets/dreamer.gin"])
    assert "rssm" in str(config.query("WorldModel.sequence"))
    assert "uniform" in str(config.query("ReplayBuffer.sampler"))


def test_drama_preset_swaps_in_mamba_and_uniform():
    config.parse(["presets/drama.gin"])
    assert "mamba" in str(config.query("WorldModel.sequence"))
    assert "uniform" in str(config.query("ReplayBuffer.sampler"))
    assert config.query("mamba.model_dim") == config.query("s5.model_dim") == 256


def test_storm_preset_swaps_in_the_transformer_and_uniform():
    config.parse(["presets/storm.gin"])
    assert "transformer" in str(config.query("WorldModel.sequence"))
    assert "uniform" in str(config.query("ReplayBuffer.sampler"))
    assert config.query("transformer.model_dim") == config.query("s5.model_dim") == 256
    assert config.query("transformer.window") <= config.query("ReplayBuffer.length")


def test_missing_file_is_named():
    with pytest.raises(config.ConfigError, match="nope/missing.gin"):
        config.parse(["nope/missing.gin"])


def test_misspelled_parameter_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.gin"
    bad.write_text("include 'debug.gin'\n\nTrainer.stepz = 5\n")
    with pytest.raises(config.ConfigError) as err:
        config.parse([bad])
    msg = str(err.value)
    assert f"{bad}:3" in msg and "stepz" in msg and "\n" not in msg


def test_unknown_component_names_the_binding():
    with pytest.raises(config.ConfigError) as err:
        config.parse(["debug.gin"], ["WorldModel.sequence = @s6"])
    assert "@s6" in str(err.value) and "--gin_binding" in str(err.value)


def test_wrong_value_type_names_the_binding(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        config.parse(["debug.gin"], ["Trainer.steps = 'many'"])
    msg = str(err.value)
    assert "Trainer.steps" in msg and "expected int" in msg and "--gin_binding" in msg


def test_wrong_value_type_in_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.gin"
    bad.write_text("include 'debug.gin'\ns5.model_dim = 3.5\n")
    with pytest.raises(config.ConfigError) as err:
        config.parse([bad])
    assert f"{bad}:2" in str(err.value) and "model_dim" in str(err.value)


def test_int_is_accepted_for_float():
    config.parse(["debug.gin"], ["Trainer.train_ratio = 64"])
    assert config.query("Trainer.train_ratio") == 64


def test_syntax_error_is_one_line():
    with pytest.raises(config.ConfigError) as err:
        config.parse(["debug.gin"], ["Trainer.steps = (1"])
    assert "\n" not in str(err.value)
