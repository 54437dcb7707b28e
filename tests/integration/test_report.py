"""``hieros-lab report`` end to end on synthetic sweep runs (2 arms x 3 games x 2 seeds).

``make_sweep`` writes runs fast (one ``log_batch`` per run); running this file as a script times
a report over 25 games x 3 seeds x 5 arms: ``python tests/integration/test_report.py [DIR]``.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from hieros_lab import cli
from hieros_lab.analysis.scores import load_reference
from hieros_lab.tracking import keys
from hieros_lab.tracking.mlflow_tracker import PARENT_RUN_TAG

ScoreFn = Callable[[str, str, int], float]


def make_sweep(client: MlflowClient, experiment: str, arms: list[str], games: list[str],
               seeds: list[int], final: ScoreFn, steps: int = 1000, evals: int = 4,
               episodes: int = 10, status: Callable[[str, str, int], str] | None = None
               ) -> tuple[str, dict[tuple[str, str, int], str]]:
    """A parent run with one child per arm x game x seed; ``eval/score`` logged ``evals`` times,
    the last at ``steps`` with value ``final(arm, game, seed)``. Returns (parent id, child ids)."""
    exp_id = client.create_experiment(experiment)
    parent = client.create_run(exp_id, run_name=experiment, tags={keys.ABLATION: experiment})
    ids = {}
    for arm in arms:
        for game in games:
            for seed in seeds:
                ids[(arm, game, seed)] = _child(client, exp_id, parent.info.run_id, arm, game,
                                                seed, final(arm, game, seed), steps, evals,
                                                episodes)
                client.set_terminated(ids[(arm, game, seed)],
                                      status(arm, game, seed) if status else "FINISHED")
    client.set_terminated(parent.info.run_id, "FINISHED")
    return parent.info.run_id, ids


def _child(client: MlflowClient, exp_id: str, parent: str, arm: str, game: str, seed: int,
           score: float, steps: int, evals: int, episodes: int) -> str:
    run = client.create_run(exp_id, run_name=f"{arm}-{game}-{seed}")
    ts = int(time.time() * 1000)
    metrics = [Metric(keys.EVAL_SCORE, score * (i + 1) / evals, ts, steps * (i + 1) // evals)
               for i in range(evals)]
    metrics += [Metric(keys.EPISODE_SCORE, score * (i + 1) / episodes, ts,
                       steps * (i + 1) // episodes) for i in range(episodes)]
    tags = [RunTag(keys.ABLATION, "test"), RunTag(keys.ARM, arm), RunTag(keys.GAME, game),
            RunTag(keys.SEED, str(seed)), RunTag(PARENT_RUN_TAG, parent)]
    client.log_batch(run.info.run_id, metrics=metrics, tags=tags)
    return run.info.run_id


def _timing(root: str) -> None:
    """Build 25 games x 3 seeds x 5 arms and time ``hieros-lab report`` on them."""
    import os

    uri = f"sqlite:///{root}/mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    client = MlflowClient(uri)
    games = list(load_reference().games)
    t0 = time.perf_counter()
    make_sweep(client, "big", [f"arm{i}" for i in range(5)], games, [0, 1, 2],
               lambda a, g, s: 100.0 * (1 + int(a[-1])) + 10 * s + len(g))
    t1 = time.perf_counter()
    code = cli.main(["report", "--experiment", "big", "--out", str(Path(root) / "report")])
    t2 = time.perf_counter()
    print(f"created 375 runs in {t1 - t0:.1f} s; report exit {code} in {t2 - t1:.1f} s")


ARMS, GAMES, SEEDS = ["base", "etbs"], ["Pong", "Breakout", "fake"], [0, 1]


def _final(arm: str, game: str, seed: int) -> float:
    return (7.0 if arm == "etbs" else 2.0) + 3.0 * seed + 0.25 * len(game)


def _failed(arm: str, game: str, seed: int) -> str:
    return "FAILED" if (arm, game, seed) == ("base", "fake", 1) else "FINISHED"


@pytest.fixture
def sweep(mlflow_uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = MlflowClient(mlflow_uri)
    parent, ids = make_sweep(client, "tiny", ARMS, GAMES, SEEDS, _final, status=_failed)
    return client, parent, ids


def _row(text: str, first: str, section: str = "## Final score per game") -> list[str]:
    body = text.split(section, 1)[1]
    line = next(ln for ln in body.splitlines() if ln.startswith(f"| {first} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_report_numbers_match_the_runs(sweep, tmp_path, capsys):
    client, parent, ids = sweep
    assert cli.main(["report", "--run", parent, "--out", "out", "--reps", "300"]) == 0
    assert parent in capsys.readouterr().out
    text = (tmp_path / "out" / "report.md").read_text()
    assert "last logged `eval/score`" in text  # the protocol is named
    assert ids[("base", "fake", 1)] in text and "status FAILED" in text
    table = load_reference()
    for game in GAMES:
        row = _row(text, game)
        for j, arm in enumerate(ARMS):
            seeds = [s for s in SEEDS if _failed(arm, game, s) == "FINISHED"]
            scores = [client.get_run(ids[(arm, game, s)]).data.metrics[keys.EVAL_SCORE]
                      for s in seeds]
            assert row[1 + j].startswith(f"{np.mean(scores):.2f}")
            assert row[1 + j].endswith(f"(n={len(seeds)})")
        if game in table.games:  # reference columns: random, human, then published agents
            assert row[3] == f"{table.scores['random'][game]:.2f}"
            assert row[9] == f"{table.scores['hieros'][game]:.2f}"
    assert "left out of the human-normalised aggregates: fake" in text
    for arm in ARMS:  # HNS mean over Pong, Breakout from the runs' metrics
        hns = [np.mean([table.human_normalized(_final(arm, g, s), g) for s in SEEDS])
               for g in ("Pong", "Breakout")]
        assert _row(text, arm, "## Human-normalised")[2].startswith(f"{np.mean(hns):.2f} [")
    assert re.search(r"\| base \| etbs \| 0\.00 \[0\.00, 0\.00\] \|", text)


def test_report_writes_pngs_and_logs_them_to_the_parent(sweep, tmp_path):
    client, parent, _ = sweep
    assert cli.main(["report", "--experiment", "tiny", "--reps", "200"]) == 0
    out = tmp_path / "reports" / "tiny"
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["aggregates.png", "curves.png", "improvement.png", "scores.png"]
    for name in pngs:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 2000
        assert f"]({name})" in (out / "report.md").read_text()
    logged = {a.path for a in client.list_artifacts(parent, "report")}
    assert logged == {f"report/{n}" for n in [*pngs, "report.md"]}


@pytest.mark.parametrize("argv, needle", [
    (["--experiment", "nope"], "no experiment named 'nope'"),
    (["--run", "0123456789abcdef"], "no run '0123456789abcdef'"),
])
def test_unknown_source_is_one_line_and_exit_2(sweep, capsys, argv, needle):
    assert cli.main(["report", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and err.startswith("hieros-lab: error:")


def test_missing_store_is_not_created(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/absent.db")
    assert cli.main(["report", "--experiment", "x"]) == 2
    assert "no MLflow store" in capsys.readouterr().err
    assert not (tmp_path / "absent.db").exists()

if __name__ == "__main__":
    _timing(sys.argv[1] if len(sys.argv) > 1 else "/tmp/report_timing")
