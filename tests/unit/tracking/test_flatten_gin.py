"""flatten_gin_params: operative gin config text -> flat MLflow params."""

from __future__ import annotations

import gin
import pytest

from hieros_lab.tracking.base import MAX_PARAM_LENGTH, TRUNCATION_MARKER, flatten_gin_params

SNIPPET = """
import hieros_lab.components
from hieros_lab import config
include 'base/wiring.gin'

# Macros:
# ==============================================================================
LR = 0.0001
DEPTH = 32
level1/HORIZON = 8

# Parameters for WorldModel:
# ==============================================================================
WorldModel.sequence = @s5   # the default sequence model
WorldModel.lr = %LR
WorldModel.layers = [
    %DEPTH,
    64,  # second layer
    (1, 2),
]
WorldModel.loss_scales = {
    'image': 1.0,
    'reward': 1.0,   # comment inside a dict
    'cont': 1.0}
WorldModel.name = \\
    'world # model'
level1/WorldModel.kl_dyn = 0.5
level1/WorldModel.sequence = @level1/s5()
level1/Imagination.horizon = %level1/HORIZON
level1/Imagination.unknown = %UNDEFINED
Trainer.env = @env.fake()
Trainer.steps = 100
Trainer.steps = 120
Trainer.device = 'auto'
Trainer.flags = (True,)
Trainer.nothing = None
"""


@gin.configurable("FlatTestModel")
def _model(kl_dyn=0.5, sequence=None, sizes=(1,), lr=0.0, name=""):
    return kl_dyn, sizes, lr, name


@gin.configurable("flat_test_s5")
def _s5(blocks=1):
    return blocks



def test_realistic_snippet():
    flat = flatten_gin_params(SNIPPET)
    assert flat == {
        "LR": "0.0001",
        "DEPTH": "32",
        "level1/HORIZON": "8",
        "WorldModel.sequence": "@s5",
        "WorldModel.lr": "0.0001",
        "WorldModel.layers": "[32, 64, (1, 2)]",
        "WorldModel.loss_scales": "{'image': 1.0, 'reward': 1.0, 'cont': 1.0}",
        "WorldModel.name": "world # model",
        "level1/WorldModel.kl_dyn": "0.5",
        "level1/WorldModel.sequence": "@level1/s5()",
        "level1/Imagination.horizon": "8",
        "level1/Imagination.unknown": "%UNDEFINED",
        "Trainer.env": "@env.fake()",
        "Trainer.steps": "120",  # the later binding wins, as in gin
        "Trainer.device": "auto",
        "Trainer.flags": "(True,)",
        "Trainer.nothing": "None",
    }


def test_long_values_are_clipped_with_a_marker():
    flat = flatten_gin_params(f"A.x = {list(range(3000))}\nA.y = '{'z' * 7000}'\nA.z = 1\n")
    for key in ("A.x", "A.y"):
        assert len(flat[key]) == MAX_PARAM_LENGTH and flat[key].endswith(TRUNCATION_MARKER)
    assert flat["A.x"].startswith("[0, 1, 2, ")
    assert flat["A.z"] == "1"


def test_macro_cycle_does_not_hang():
    flat = flatten_gin_params("A = %B\nB = %A\nC.x = %A\n")
    assert set(flat) == {"A", "B", "C.x"}
    assert flat["C.x"].startswith("%")


def test_syntax_error_is_a_value_error():
    with pytest.raises(ValueError, match="gin"):
        flatten_gin_params("WorldModel.lr = = 3\n")


def test_gin_operative_config_round_trip():
    """What gin itself writes (scopes, macro section, references, long wrapped values)."""
    gin.parse_config("""
        LR = 3e-4
        FlatTestModel.lr = %LR
        FlatTestModel.sequence = @flat_test_s5()
        flat_test_s5.blocks = 4
        FlatTestModel.sizes = [512, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512]
        level1/FlatTestModel.kl_dyn = 0.25
        FlatTestModel.name = 'a fairly long model name so gin wraps the binding onto two lines'
    """)
    _model()
    with gin.config_scope("level1"):
        _model()
    flat = flatten_gin_params(gin.operative_config_str())
    assert flat["LR"] == "0.0003" and flat["FlatTestModel.lr"] == "0.0003"
    assert flat["level1/FlatTestModel.kl_dyn"] == "0.25"
    assert flat["FlatTestModel.sequence"] == "@flat_test_s5()"
    assert flat["FlatTestModel.sizes"] == str([512] * 13)
    assert flat["FlatTestModel.name"].startswith("a fairly long")
    assert flat["flat_test_s5.blocks"] == "4"
    assert flat["level1/flat_test_s5.blocks"] == "4"
