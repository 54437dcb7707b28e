"""nox sessions. All of them share ONE virtualenv, the project's ``.venv``.

``nox -s tests`` creates ``.venv`` and installs the project (``pip install -e .[dev,ray]``) when it
is missing or ``pyproject.toml`` changed since the last install, then runs inside it; nothing
is reinstalled per session (torch alone is hundreds of MB).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".hieros_lab-install"

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "none"


def _ensure_venv(session: nox.Session) -> None:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PY.exists():
        session.run(sys.executable, "-m", "venv", str(VENV), external=True)
    session.run(str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip", external=True)
    session.run(str(PY), "-m", "pip", "install", "-q", "-e", ".[dev,ray]", external=True)
    STAMP.write_text(digest)


@nox.session
def tests(session: nox.Session) -> None:
    """The default test suite (unit, contracts, config, integration); pass pytest args after --."""
    _ensure_venv(session)
    env = {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    args = session.posargs or ["-q"]
    session.run(str(PY), "-m", "pytest", *args, external=True, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, tests and the noxfile."""
    _ensure_venv(session)
    session.run(str(PY), "-m", "ruff", "check", "hieros_lab", "tests", "noxfile.py",
                external=True)
