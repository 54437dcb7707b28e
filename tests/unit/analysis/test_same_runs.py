"""``python -m hieros_lab.bench.same_runs``: two archives' runs compared value by value."""

from __future__ import annotations

from hieros_lab.bench import same_runs
from hieros_lab.tracking.archive import FORMAT, write_lines


def _run(name, score, loss=2.5, wall=10.0, start=1, status="FINISHED", exp="v"):
    return {"run_id": f"{name}-{start}", "experiment": exp, "run_name": name, "status": status,
            "start_time": start, "tags": {},
            "metrics": {"eval/score": [[100, 5, score]], "level0/loss": [[50, 3, loss],
                                                                          [100, 4, loss / 2]],
                        "perf/wall_s": [[100, 6, wall]], "system/cpu": [[0, 1, wall]]}}


def _archive(path, *runs):
    write_lines(path, {"format": FORMAT, "experiments": ["v"]}, runs)
    return path


def test_identical_runs_are_the_same_whatever_their_wall_clock(tmp_path):
    a = _archive(tmp_path / "a.jsonl.gz", _run("arm/t/seed0", 1.0), _run("arm/t/seed1", 2.0))
    b = _archive(tmp_path / "b.jsonl.gz", _run("arm/t/seed0", 1.0, wall=99.0))
    lines, same = same_runs.compare(a, b)
    assert same and lines == ["v/arm/t/seed0: all 3 logged values equal"]
    assert same_runs.main([str(a), str(b)]) == 0


def test_one_differing_value_anywhere_is_named_with_its_step(tmp_path):
    a = _archive(tmp_path / "a.jsonl.gz", _run("arm/t/seed0", 1.0, loss=2.5))
    b = _archive(tmp_path / "b.jsonl.gz", _run("arm/t/seed0", 1.0, loss=2.5000001))
    lines, same = same_runs.compare(a, b)
    assert not same
    assert lines == ["v/arm/t/seed0: 2 values differ, first level0/loss at step 50: (2.5,) vs "
                     "(2.5000001,)"]
    assert same_runs.main([str(a), str(b)]) == 1


def test_the_latest_run_of_a_name_counts_and_unmatched_or_unfinished_runs(tmp_path):
    a = _archive(tmp_path / "a.jsonl.gz", _run("arm/t/seed0", 7.0, start=1),
                 _run("arm/t/seed0", 1.0, start=2))  # a later rerun supersedes the first
    b = _archive(tmp_path / "b.jsonl.gz", _run("arm/t/seed0", 1.0),
                 _run("arm/t/seed9", 1.0), _run("arm/t/seed3", 1.0, status="KILLED"))
    lines, same = same_runs.compare(a, b)
    assert same
    assert lines == ["v/arm/t/seed0: all 3 logged values equal",
                     "v/arm/t/seed9: not in a.jsonl.gz"]
    # Nothing matched: not evidence of anything.
    lines, same = same_runs.compare(a, _archive(tmp_path / "c.jsonl.gz", _run("x/t/seed0", 1.0)))
    assert not same


def test_a_value_logged_by_one_run_only_is_a_difference():
    a = {("loss", 1): (1.0,), ("loss", 2): (0.5,)}
    assert same_runs.compare_run(a, a) == ""
    assert same_runs.compare_run(a, {("loss", 1): (1.0,)}) == \
        "1 logged by one run only, first loss at step 2"
