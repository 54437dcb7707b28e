"""Gin hygiene (issue 7): one configurable root, everything else registered, and a wiring file
that names the real slots (parameters Python has no default for), not restated defaults."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import gin.config as gin_config

import hieros_lab
from hieros_lab import config
from hieros_lab.tracking.base import flatten_gin_params

ROOT = Path(hieros_lab.__file__).parent


def _configurable_decorations() -> list[str]:
    """``module:Class`` of every ``@gin.configurable`` in the package."""
    out = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                for dec in node.decorator_list:
                    target = dec.func if isinstance(dec, ast.Call) else dec
                    if isinstance(target, ast.Attribute) and target.attr == "configurable":
                        out.append(f"{path.relative_to(ROOT)}:{node.name}")
    return sorted(out)


def test_the_trainer_is_the_only_configurable_root():
    assert _configurable_decorations() == ["trainer/loop.py:Trainer"]


def test_wiring_names_only_slots_without_a_python_default():
    config.parse(["base/wiring.gin"], finalize=False)
    text = (config.GIN_DIR / "base" / "wiring.gin").read_text()
    restated = []
    for key in flatten_gin_params(text):
        if "." not in key:
            continue  # a macro (the reward-source roles)
        selector, param = key.rsplit(".", 1)
        target = gin_config._REGISTRY.get_match(selector).wrapped
        fn = target.__init__ if isinstance(target, type) else target
        default = inspect.signature(fn).parameters[param].default
        if default is not inspect.Parameter.empty:
            restated.append(f"{key} (Python default {default!r})")
    assert not restated, f"wiring.gin restates Python defaults: {restated}"
