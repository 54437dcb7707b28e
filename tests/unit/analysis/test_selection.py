"""Which runs a report uses: FINISHED with a final eval/score, latest duplicate wins."""

from __future__ import annotations

import numpy as np
import pytest

from hieros_lab.analysis.report import analyse, select_runs
from hieros_lab.analysis.runs import RunRecord
from hieros_lab.analysis.scores import load_reference


def _rec(rid: str, arm: str, seed: str, score: float | None, status: str = "FINISHED",
         t: int = 0, game: str = "Pong") -> RunRecord:
    return RunRecord(rid, arm, game, seed, status, score, "p", t)


def test_select_excludes_unfinished_scoreless_and_superseded():
    sel = select_runs([_rec("a", "x", "0", 1.0, t=1), _rec("b", "x", "0", 2.0, t=2),
                       _rec("c", "x", "1", 3.0, status="KILLED"), _rec("d", "x", "2", None)])
    assert {k: r.run_id for k, r in sel.used.items()} == {("x", "Pong", "0"): "b"}
    reasons = {r.run_id: why for r, why in sel.excluded}
    assert reasons == {"a": "superseded by later run b", "c": "status KILLED",
                       "d": "FINISHED without eval/score"}


def test_analyse_per_game_mean_and_hns_aggregate():
    recs = [_rec(f"{a}{s}", a, str(s), v, game=g) for a, base in (("x", 0.0), ("y", 10.0))
            for g in ("Pong", "CartPole") for s, v in ((0, base), (1, base + 2.0))]
    an = analyse(select_runs(recs), load_reference(), reps=100)
    assert an.per_game[("y", "Pong")].point == 11.0
    assert an.hns_games == ["Pong"] and an.unknown_games == ["CartPole"]
    hns = np.mean([(10.0 + 20.7) / 35.3, (12.0 + 20.7) / 35.3])
    assert an.aggregates["y"]["mean"].point == pytest.approx(hns)
    assert an.poi[("x", "y")].point == 0.0 and an.poi_games == ["CartPole", "Pong"]
