"""The README's two commands are what CI runs, and the test command's executable is installed by
the setup command (issue 8 gap 4: ``nox -s tests`` was "command not found" on a fresh machine,
because nox lives inside ``.venv`` only)."""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## The two commands"


def _commands() -> tuple[str, str]:
    """(setup, test): the first two ``bash`` blocks of the README's "The two commands"."""
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)\n```", section, re.S)
    assert len(blocks) >= 2, f"README.md: {SECTION!r} needs a setup and a test block"
    setup, test = (block.strip() for block in blocks[:2])
    assert "\n" not in setup and "\n" not in test, "each command is one line"
    return setup, test


def _install_part(setup: str) -> str:
    """The setup command up to (without) the quickstart training: venv + install."""
    parts = setup.split(" && ")
    keep = [p for p in parts if "hieros-lab train" not in p]
    assert keep == parts[:len(keep)], "the training comes last in the setup command"
    return " && ".join(keep)


def _ci_lines() -> list[str]:
    return [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]


def test_ci_runs_the_readme_test_command_verbatim():
    _, test = _commands()
    assert test in _ci_lines(), f".ci/run does not run the README's test command {test!r}"


def test_ci_installs_as_the_readme_setup_command_does():
    setup, _ = _commands()
    install = _install_part(setup)
    assert "pip install" in install
    assert install in _ci_lines(), f".ci/run does not run the README's install {install!r}"


def test_the_test_command_runs_an_executable_the_setup_command_installs():
    setup, test = _commands()
    install = _install_part(setup)
    venv = re.search(r"-m venv (\S+)", install)
    assert venv is not None, f"the setup command makes no venv: {setup!r}"
    executable = shlex.split(test)[0]
    # Not a bare name: a fresh machine has only Python on its PATH.
    assert executable.startswith(f"{venv.group(1)}/bin/"), executable
    extras = re.search(r"pip install -e '?\.\[([\w,-]+)\]'?", install)
    assert extras is not None, f"the setup command installs no extra: {install!r}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    scripts: set[str] = set()
    for extra in extras.group(1).split(","):
        for requirement in project["optional-dependencies"][extra]:
            scripts.update(_console_scripts(re.split(r"[\s<>=!~\[;]", requirement)[0]))
    name = Path(executable).name
    assert name in scripts, f"no extra that {install!r} installs provides {name!r}"


def _console_scripts(dist: str) -> list[str]:
    """Console scripts of an installed distribution (this venv is set up as the README says)."""
    try:
        points = metadata.distribution(dist).entry_points
    except metadata.PackageNotFoundError:
        return []
    return [p.name for p in points if p.group == "console_scripts"]
