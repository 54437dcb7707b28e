"""hieros_lab/components.py imports every module that registers a component.

A registering module that components.py forgets still works wherever something else happens to
import it, and silently vanishes from gin, the CLI listing and the contract tests everywhere else.
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import hieros_lab

PACKAGE_DIR = Path(hieros_lab.__file__).resolve().parent
COMPONENTS = PACKAGE_DIR / "components.py"
REGISTRY_MODULE = "hieros_lab.registry"


def _module_files() -> dict[str, Path]:
    """Every module of the package (without importing any), name -> source file."""
    out = {}
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="hieros_lab."):
        path = Path(info.module_finder.path) / info.name.rsplit(".", 1)[-1]
        out[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return out


def _calls_register(tree: ast.Module) -> bool:
    """Whether the module calls hieros_lab.registry.register (as a decorator or directly)."""
    names, modules = set(), set()  # local names bound to `register` / to the registry module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == REGISTRY_MODULE:
            names |= {a.asname or a.name for a in node.names if a.name == "register"}
        elif isinstance(node, ast.ImportFrom) and node.module == "hieros_lab":
            modules |= {a.asname or a.name for a in node.names if a.name == "registry"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in names:
            return True
        if (isinstance(func, ast.Attribute) and func.attr == "register"
                and isinstance(func.value, ast.Name) and func.value.id in modules):
            return True
    return False


def registering_modules() -> set[str]:
    """Modules whose source calls ``register(...)`` from hieros_lab.registry."""
    found = set()
    for name, path in _module_files().items():
        if name != REGISTRY_MODULE and _calls_register(ast.parse(path.read_text(), str(path))):
            found.add(name)
    return found


def imported_by_components() -> set[str]:
    """Modules that components.py imports directly (``from a import b`` counts a.b and a)."""
    tree = ast.parse(COMPONENTS.read_text(), str(COMPONENTS))
    out = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_the_scan_finds_the_known_registering_modules():
    # Guards the scan itself: if it found nothing, the next test would pass vacuously.
    assert {"hieros_lab.sequence.s5", "hieros_lab.envs.fake",
            "hieros_lab.tracking.mlflow_tracker"} <= registering_modules()


def test_every_registering_module_is_imported_by_components():
    missing = sorted(registering_modules() - imported_by_components())
    assert not missing, f"{COMPONENTS}: add an import of {missing} (they register components)"


def test_every_registered_entry_comes_from_a_module_components_imports():
    """In a fresh interpreter, importing components.py alone: every entry's defining module
    is one it imports directly (catches registrations the source scan cannot see)."""
    code = ("import json, hieros_lab.components; from hieros_lab import registry; "
            "print(json.dumps(sorted({e.target.__module__ for k in registry.kinds() "
            "for e in registry.entries(k).values()})))")
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=300)
    defining = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert defining, "no component registered at all"
    missing = sorted(defining - imported_by_components())
    assert not missing, f"{COMPONENTS}: import {missing} directly (they register components)"
