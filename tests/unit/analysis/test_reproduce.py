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


RUNS_HEADER = "experiment,task,arm,seed,final_score,env_steps,cpu,cpu_capability\n"
INTEL = ("Intel(R) Xeon(R) Processor", "AVX512")


def _committed(tmp_path, runs: str):
    folder = tmp_path / "committed"
    folder.mkdir()
    rows = [",".join(line.split(",")[:6]) for line in runs.strip().splitlines()]
    (folder / "runs.csv").write_text(RUNS_HEADER + runs.strip() + "\n")
    return _write(folder / "scores.csv", rows)


def test_rows_of_another_machine_kind_are_not_compared(tmp_path, capsys):
    """Scores are bit-exact only within a machine kind, CPU model and capability: an Intel
    AVX512 rerun checks the Intel AVX512 rows (and parts not recorded, '?', match anything) and
    names the AVX2 and the AMD AVX512 ones it cannot check."""
    committed = _committed(tmp_path, """
v,cart,a,0,12.5,4500,Intel(R) Xeon(R) Processor,AVX512
v,cart,a,1,30,4500,AMD EPYC,AVX2
v,cart,a,2,7,4500,?,?
v,cart,a,3,96.3,4500,AMD EPYC,AVX512
v,cart,a,4,5,4500,?,AVX512
""")
    rerun = _write(tmp_path / "b.csv", ["v,cart,a,0,12.5,4500", "v,cart,a,1,31,4500",
                                        "v,cart,a,2,8,4500", "v,cart,a,3,83.3,4500",
                                        "v,cart,a,4,5,4500"])
    assert reproduce.differences(committed, rerun, kind=INTEL) == [
        "v/cart/a/2: committed 7 at 4500 steps, rerun 8 at 4500 steps"]
    assert len(reproduce.differences(committed, rerun)) == 3  # every kind
    assert reproduce.compare(committed, rerun, None, INTEL) == 1
    out = capsys.readouterr().out
    assert ("not compared (ran on another machine kind than this Intel(R) Xeon(R) Processor / "
            "AVX512): 1 rows of AMD EPYC / AVX2, 1 rows of AMD EPYC / AVX512") in out
    assert "NOT reproduced (3 rows compared)" in out
    fixed = _write(tmp_path / "c.csv", ["v,cart,a,0,12.5,4500", "v,cart,a,2,7,4500",
                                        "v,cart,a,4,5,4500"])
    assert reproduce.compare(committed, fixed, None, INTEL) == 0
    assert "reproduced (3 rows compared)" in capsys.readouterr().out


def test_runs_csv_before_the_cpu_column_compares_by_capability(tmp_path):
    folder = tmp_path / "committed"
    folder.mkdir()
    committed = _write(folder / "scores.csv", ["v,cart,a,0,12.5,4500", "v,cart,a,1,30,4500"])
    (folder / "runs.csv").write_text("experiment,task,arm,seed,final_score,env_steps,"
                                     "cpu_capability\nv,cart,a,0,12.5,4500,AVX512\n"
                                     "v,cart,a,1,30,4500,AVX2\n")
    rerun = _write(tmp_path / "b.csv", ["v,cart,a,0,12.6,4500", "v,cart,a,1,31,4500"])
    assert reproduce.differences(committed, rerun, kind=INTEL) == [
        "v/cart/a/0: committed 12.5 at 4500 steps, rerun 12.6 at 4500 steps"]


def test_a_machine_of_a_kind_no_row_ran_on_checks_nothing_and_fails(tmp_path, capsys):
    committed = _committed(tmp_path, "v,cart,a,0,12.5,4500,AMD EPYC,AVX512")
    assert reproduce.compare(committed, committed, None, INTEL) == 1
    assert ("nothing compared: no committed row ran on Intel(R) Xeon(R) Processor / AVX512"
            in capsys.readouterr().out)


def test_this_machines_kind_is_what_its_runs_record():
    from hieros_lab.tracking import keys
    from hieros_lab.trainer import host

    tags = host.host_tags()
    assert host.machine_kind() == (tags[keys.HOST_CPU], tags[keys.HOST_CPU_CAPABILITY])


def test_the_plan_reruns_exactly_the_rows_of_other_kinds_into_a_folder_of_their_own(tmp_path):
    committed = _committed(tmp_path, """
quickstart,default,quickstart,0,500,4500,AMD EPYC,AVX512
quickstart,default,quickstart,1,500,4500,Intel(R) Xeon(R) Processor,AVX512
quickstart,default,quickstart,2,500,4500,AMD EPYC,AVX2
validation_dmc,cartpole_swingup,dreamer_dmc,0,166,100000,Intel(R) Xeon(R) Processor,AVX512
""")
    files = ["experiments/quickstart.toml", "experiments/validation_dmc.toml"]
    assert reproduce.other_kind_sweeps(committed, INTEL, files) == [
        "hieros-lab sweep experiments/quickstart.toml --parallel 2 --runs_dir "
        "runs/rerun_intel_r_xeon_r_processor_avx512 --only 'quickstart/default/seed0' "
        "--only 'quickstart/default/seed2'"]
    assert reproduce.other_kind_sweeps(committed, ("AMD EPYC", "AVX2"), files[1:]) == [
        "hieros-lab sweep experiments/validation_dmc.toml --parallel 2 --runs_dir "
        "runs/rerun_amd_epyc_avx2 --only 'dreamer_dmc/cartpole_swingup/seed0'"]
