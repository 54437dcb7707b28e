"""The reproduction check of the validation suite: which committed rows a rerun fails."""

from __future__ import annotations

from hieros_lab.bench import reproduce

HEADER = "experiment,task,arm,seed,final_score,env_steps\n"


def _write(path, rows):
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_identical_scores_reproduce(tmp_path):
    rows = ["v,cart,a,0,12.5,4500", "v,cart,a,1,30,4500"]
    assert reproduce.differences(_write(tmp_path / "a.csv", rows),
                                 _write(tmp_path / "b.csv", rows[::-1])) == []


def test_a_changed_score_a_missing_row_and_the_only_filter(tmp_path):
    committed = _write(tmp_path / "a.csv", ["v,cart,a,0,12.5,4500", "v,cart,a,1,30,4500",
                                            "w,pad,b,0,1,100"])
    rerun = _write(tmp_path / "b.csv", ["v,cart,a,0,12.6,4500", "w,pad,b,0,1,100"])
    assert reproduce.differences(committed, rerun) == [
        "v/cart/a/0: committed 12.5 at 4500 steps, rerun 12.6 at 4500 steps",
        "v/cart/a/1: missing in the rerun"]
    assert reproduce.differences(committed, rerun, {"w"}) == []
    # A rerun's extra rows (a run the committed page lacked) are not a failure to reproduce.
    assert reproduce.differences(_write(tmp_path / "c.csv", []), rerun) == []
