"""Every repository file the README and the docs cite exists in the repository: a figure, run
archive or bench result that a page quotes can be opened from a clean clone. (Session 21: the
README quoted ``docs/results/bench_session16.json`` and ``bench_session20.json``, which the
``.gitignore`` pattern ``bench*.json`` had kept out of git.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A repository path with a file extension, not inside a longer path or word.
CITED = re.compile(r"(?<![\w/.])((?:docs|experiments|hieros_lab|scripts|tests|gin)/[\w./-]*\w"
                   r"\.(?:json|md|csv|py|toml|png|gz|gin|sh|txt))")
#: Files the history names as removed, with where that is said.
REMOVED = {"docs/results/validation_rerun.md": "validation_history.md: replaced in session 15"}
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                *(ROOT / "docs" / "results").glob("*.md")])


def cited(text: str) -> set[str]:
    return set(CITED.findall(text))


def test_the_pattern_finds_paths_and_skips_words_around_them():
    text = ("see `docs/results/bench_session20.json`, [x](docs/runs/a.jsonl.gz) and "
            "experiments/validation_pinpad.toml; not mydocs/a.md, runs/b.json or docs/results")
    assert cited(text) == {"docs/results/bench_session20.json", "docs/runs/a.jsonl.gz",
                           "experiments/validation_pinpad.toml"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_cited_file_exists(page):
    missing = sorted(p for p in cited(page.read_text()) - set(REMOVED) if not (ROOT / p).exists())
    assert not missing, f"{page.relative_to(ROOT)} cites files the repository lacks: {missing}"
