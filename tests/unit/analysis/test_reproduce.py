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


RUNS_HEADER = "experiment,task,arm,seed,final_score,env_steps,cpu_capability\n"


def test_rows_of_another_machine_kind_are_not_compared(tmp_path, capsys):
    """Scores are bit-exact only within a machine kind: an AVX512 rerun checks the AVX512 rows
    (and rows of an unknown kind) and names the AVX2 ones it cannot check."""
    folder = tmp_path / "committed"
    folder.mkdir()
    committed = _write(folder / "scores.csv", ["v,cart,a,0,12.5,4500", "v,cart,a,1,30,4500",
                                               "v,cart,a,2,7,4500"])
    (folder / "runs.csv").write_text(RUNS_HEADER + "v,cart,a,0,12.5,4500,AVX512\n"
                                     "v,cart,a,1,30,4500,AVX2\nv,cart,a,2,7,4500,?\n")
    rerun = _write(tmp_path / "b.csv", ["v,cart,a,0,12.5,4500", "v,cart,a,1,31,4500",
                                        "v,cart,a,2,8,4500"])
    assert reproduce.differences(committed, rerun, kind="AVX512") == [
        "v/cart/a/2: committed 7 at 4500 steps, rerun 8 at 4500 steps"]
    assert len(reproduce.differences(committed, rerun)) == 2  # every kind
    assert reproduce.compare(committed, rerun, None, "AVX512") == 1
    out = capsys.readouterr().out
    assert "not compared (ran on another machine kind than this AVX512): 1 rows of AVX2" in out
    assert "NOT reproduced (2 rows compared)" in out
    fixed = _write(tmp_path / "c.csv", ["v,cart,a,0,12.5,4500", "v,cart,a,2,7,4500"])
    assert reproduce.compare(committed, fixed, None, "AVX512") == 0
    assert "reproduced (2 rows compared)" in capsys.readouterr().out


def test_a_machine_of_a_kind_no_row_ran_on_checks_nothing_and_fails(tmp_path, capsys):
    folder = tmp_path / "committed"
    folder.mkdir()
    committed = _write(folder / "scores.csv", ["v,cart,a,0,12.5,4500"])
    (folder / "runs.csv").write_text(RUNS_HEADER + "v,cart,a,0,12.5,4500,AVX2\n")
    assert reproduce.compare(committed, committed, None, "AVX512") == 1
    assert "nothing compared: no committed row ran on AVX512" in capsys.readouterr().out
