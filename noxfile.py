"""nox sessions. All of them share ONE virtualenv, the project's ``.venv``.

``.venv/bin/nox -s tests`` (the README's test command; nox comes with the dev extra of its setup
command) installs the project into ``.venv`` (``pip install -e .[dev,ray]``) when
``pyproject.toml`` changed since the last install, then runs inside it; nothing is reinstalled
per session (torch alone is hundreds of MB). A nox from elsewhere also creates ``.venv`` when it
is missing.
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


@nox.session
def matrix(session: nox.Session) -> None:
    """Every sequence model x replay sampler x number of levels trains (tests/integration/
    test_matrix.py with HIEROS_MATRIX=full; the default suite runs two cells)."""
    _ensure_venv(session)
    env = {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "HIEROS_MATRIX": "full"}
    args = session.posargs or ["-q"]
    session.run(str(PY), "-m", "pytest", "tests/integration/test_matrix.py", *args,
                external=True, env=env)


@nox.session
def sweep_smoke(session: nox.Session) -> None:
    """A tiny sweep end to end (experiments/tiny_fake.toml, 2 arms x 2 seeds, fake env) into a
    throw-away directory and tracking store."""
    import tempfile

    _ensure_venv(session)
    tmp = Path(tempfile.mkdtemp(prefix="hieros_sweep_smoke_"))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
    session.run(str(PY), "-m", "hieros_lab", "sweep", str(ROOT / "experiments" / "tiny_fake.toml"),
                "--scale", "cpu", "--parallel", "2", "--runs_dir", str(tmp / "runs"),
                external=True, env=env)


@nox.session
def ui_check(session: nox.Session) -> None:
    """MLflow's UI in headless Chromium (apt-get install chromium): the links hieros_lab prints
    open the runs table and the run's metrics, not the GenAI view; screenshots to
    docs/img/mlflow_ui/ (hieros_lab/bench/mlflow_ui.py)."""
    _ensure_venv(session)
    out = session.posargs[0] if session.posargs else str(ROOT / "docs" / "img" / "mlflow_ui")
    session.run(str(PY), "-m", "hieros_lab.bench.mlflow_ui", "--out", out, external=True)


@nox.session
def ctrl_c_soak(session: nox.Session) -> None:
    """20 Ctrl-Cs of a local sweep at random moments, with another training on the same cores
    (hieros_lab/bench/ctrl_c.py); prints passes and the slowest stop."""
    import tempfile

    _ensure_venv(session)
    tmp = tempfile.mkdtemp(prefix="hieros_ctrl_c_")
    session.run(str(PY), "-m", "hieros_lab.bench.ctrl_c", "--runs", "20", "--load", "--dir", tmp,
                *session.posargs, external=True)


@nox.session
def validation(session: nox.Session) -> None:
    """The validation suite from scratch (about the wall time docs/validation.md states) into
    a fresh directory, then a row-by-row check against docs/validation/scores.csv
    (hieros_lab/bench/reproduce.py). ``-- DIR`` reuses DIR, so an interrupted rerun resumes."""
    import tempfile

    _ensure_venv(session)
    out = session.posargs[0] if session.posargs else tempfile.mkdtemp(prefix="hieros_valid_")
    session.run(str(PY), "-m", "hieros_lab.bench.reproduce", "--dir", out, *session.posargs[1:],
                external=True, env={"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"})
