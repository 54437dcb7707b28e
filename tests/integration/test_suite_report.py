"""``hieros-lab report --suite``: the validation page from synthetic runs of an experiment file."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from hieros_lab import cli
from hieros_lab.analysis import signals, suite, suite_page
from hieros_lab.analysis.scores import Interval
from hieros_lab.sweep import experiment
from hieros_lab.tracking import keys

TOML = """name = "val"
description = "a tiny suite"
base = ["debug.gin"]
seeds = [0, 1, 2]
baseline = "one"
wall_budget_min = 2.5

[arms.one]
description = "one level"
bindings = []

[arms.two]
description = "two levels"
gin_files = ["hierarchy/levels_2.gin"]

[tasks.cart]
description = "the cart task, as tried"
gin_files = ["envs/cartpole.gin"]
"""
#: (arm, seed) -> (final score, levels tag); seed 2 of arm two never finished.
RUNS = {("one", 0): (10.0, "1"), ("one", 1): (11.0, "1"), ("one", 2): (12.0, "1"),
        ("two", 0): (50.0, "2"), ("two", 1): (51.0, "2")}
RANDOM = {0: 1.0, 1: 2.0, 2: 3.0}
#: arm -> final (actor entropy, imagined reward, subgoal reward, advantage std); 2 actions,
#: ln 2 = 0.693. None: not logged (a 1-level arm has no subgoal reward).
SIGNALS = {"one": (0.30, 0.9, None, 0.4), "two": (0.68, 0.0, 5.0, 0.001)}


def _log_runs(client: MlflowClient, name: str) -> None:
    exp_id = client.create_experiment(name)
    for (arm, seed), (score, levels) in RUNS.items():
        run = client.create_run(exp_id, run_name=f"{arm}/cart/seed{seed}")
        ts = int(time.time() * 1000)
        metrics = [Metric(keys.EVAL_SCORE, score / 2, ts, 100), Metric(keys.EVAL_SCORE, score, ts,
                                                                       200),
                   Metric(keys.WALL_S, 60.0 * (seed + 1), ts, 200),
                   *(Metric(key, value + 0.01 * seed, ts, 200) for (key, _), value in
                     zip(signals.SIGNALS, SIGNALS[arm], strict=True) if value is not None)]
        if arm == "two":  # the sampled-policy evaluation was on for this arm only
            metrics.append(Metric(keys.EVAL_SAMPLED_SCORE, 30.0 + seed, ts, 200))
        tags = [RunTag(keys.ARM, arm), RunTag(keys.GAME, "cart"), RunTag(keys.SEED, str(seed)),
                RunTag(keys.HIERARCHY_LEVELS, levels), RunTag(keys.GIT_SHA, "abc123"),
                RunTag(keys.component_tag("sequence"), "s5"),
                *([RunTag(keys.HOST_CPU, "AMD EPYC"), RunTag(keys.HOST_CPU_CAPABILITY, "AVX2")]
                  if arm == "one" else []),
                *([RunTag(keys.RESUME_INEXACT, "2")] if (arm, seed) == ("two", 1) else [])]
        client.log_batch(run.info.run_id, metrics=metrics, tags=tags)
        client.set_terminated(run.info.run_id, "FINISHED")
    running = client.create_run(exp_id, run_name="two/cart/seed2")  # still going: excluded
    client.log_batch(running.info.run_id, tags=[RunTag(keys.ARM, "two"),
                                                RunTag(keys.GAME, "cart"), RunTag(keys.SEED, "2")])


@pytest.fixture
def page(tmp_path, mlflow_uri):
    path = tmp_path / "val.toml"
    path.write_text(TOML)
    client = MlflowClient(mlflow_uri)
    _log_runs(client, "val")
    exp = experiment.load(path)
    out = tmp_path / "docs" / "validation.md"
    stale = out.with_suffix("") / "curves_gone.png"  # a figure from runs that no longer exist
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    calls = []

    def fake_random(files, bindings, seeds):
        calls.append((tuple(files), tuple(seeds)))
        return {s: RANDOM[s] for s in seeds}

    suite.write_page(client, [exp], out, "CMD", random_fn=fake_random, reps=200,
                     actions_fn=lambda files, bindings: 2)
    assert calls == [(("debug.gin", "envs/cartpole.gin"), (0, 1, 2))]
    return out


def test_page_states_scores_random_and_what_is_missing(page):
    text = page.read_text()
    assert "### cart (`" in text and "\n\nthe cart task, as tried\n\n" in text
    assert "| `one` | 1 | 11.00 ± 2.48 (n=3) | 0: 10.00, 1: 11.00, 2: 12.00 | **yes** |" in text
    assert "| `two` | 2 | 50.50 ± 6.35 (n=2) |" in text and "– (< 3 seeds)" in text
    assert "| random policy | – | 2.00 ± 2.48 (n=3) |" in text
    assert "Not run yet or not finished (1): `two/cart/seed2`" in text
    assert "status RUNNING" in text
    summary = ("| `val` | cart | `two` | 50.50 ± 6.35 (n=2) | 2.00 ± 2.48 (n=3) | – (< 3 seeds) | "
               "`one` |")
    assert summary in text  # two seeds give an interval, not the suite's verdict; one's 3 do
    assert "hieros-lab sweep " in text and "\nCMD\n" in text and "`abc123` (5 runs)" in text
    assert (page.parent / "validation" / "curves_val.png").stat().st_size > 1000
    assert not (page.parent / "validation" / "curves_gone.png").exists()  # stale one removed


def test_learning_signals_are_tabled_and_a_uniform_actor_is_named(page):
    text = page.read_text()
    assert "entropy (at most ln 2 = 0.69)" in text
    assert "| `one` | 0.31 | 0.91 | – | 0.41 |" in text  # mean over seeds 0, 1, 2
    assert "| `two` | 0.685 | 0.005 | 5 | 0.006 |" in text  # seeds 0 and 1
    assert "Still a uniform policy at the end (entropy within 5 % of ln 2): `two`." in text


def test_near_uniform_is_relative_to_ln_a():
    key = signals.ENTROPY
    assert signals.near_uniform({key: 1.06}, 3) and not signals.near_uniform({key: 1.0}, 3)
    assert not signals.near_uniform({key: 1.06}, 0) and not signals.near_uniform({}, 3)
    assert signals.signals([{key: 1.0}, {key: 2.0}]) == {key: 1.5}
    assert signals.signals([{key: 1.0}, {}]) == {}  # only signals every run logged


def test_hierarchy_verdict_is_generated_from_the_interval(page):
    text = page.read_text()
    # Arm two finished 2 of 3 seeds: too few to state a comparison.
    assert "`two` vs `one`: too few seeds to compare (2 and 3 finished; 3 needed)" in text
    assert "more levels were better in 0, worse in 0, and not distinguishable in 0" in text


def test_runs_over_the_files_wall_budget_are_counted(page):
    text = page.read_text()  # walls: 1, 2, 3 min for seeds 0, 1, 2; budget 2.5 min
    assert "| 2.0 / 3.0 (**1 over 2.5**) | one level |" in text
    assert "| 1.5 / 2.0 | two levels |" in text  # seeds 0 and 1 fit
    assert "2.5 min a run at `--parallel 2`; runs over it: `one` (1 of 3)." in text
    assert "| `one` | 5 / 6 | 2.0 / 3.0 (**1 over 2.5**) |" in text  # the summary row


def test_the_suites_wall_time_is_stated_and_projected(page):
    """Finished runs take 9 min of training (halved: 4.5 min at --parallel 2); the unfinished
    two/seed2 is projected at arm two's median, 1.5 min: (9 + 1.5) / 2 = 5.25 min."""
    text = page.read_text()
    assert "| 4.5 min done, about 5.2 min in all |" in text  # the summary row's last cell
    assert ("The whole suite at `--parallel 2` (finished runs' wall halved: two children at a "
            "time): 4.5 min so far, about 5.2 min in all with the 1 unfinished runs") in text
    assert suite_page._duration(5400.0) == "1.50 h"


def test_unfinished_runs_are_projected_at_their_arms_median():
    arm = suite.ArmResult("one", "", [], None, False)
    arm.rows = [suite.RunRow("e", "t", "one", s, 1.0, 10, "1", 600.0, "x", "r", "AVX2")
                for s in (0, 1)]
    result = suite.TaskResult(None, "t", [arm], {}, Interval(0, 0, 0))
    assert suite_page.projected_wall(result) == (600.0, 600.0, False)
    assert suite_page._wall_cell(result) == "10.0 min"
    result.missing = ["one/t/seed2"]
    assert suite_page._wall_cell(result) == "10.0 min done, about 15.0 min in all"
    result.missing = ["new/t/seed0"]  # an arm with no finished run: the slowest arm's median
    assert suite_page.projected_wall(result) == (600.0, 900.0, True)
    assert suite_page._wall_cell(result) == "10.0 min done, at least 15.0 min in all"


def test_csvs_hold_every_finished_run(page):
    folder = page.parent / "validation"
    with (folder / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["arm"], r["seed"], r["final_score"], r["env_steps"]) for r in rows] == [
        ("one", "0", "10", "200"), ("one", "1", "11", "200"), ("one", "2", "12", "200"),
        ("two", "0", "50", "200"), ("two", "1", "51", "200")]
    assert "wall_s" not in rows[0]  # the reproducible file has no wall time
    with (folder / "runs.csv").open() as f:
        runs = list(csv.DictReader(f))
    assert [r["wall_s"] for r in runs] == ["60", "120", "180", "60", "120"]
    # the machine kind a rerun must match; '?' for runs made before runs recorded it
    assert [(r["cpu"], r["cpu_capability"]) for r in runs] == [("AMD EPYC", "AVX2")] * 3 + [
        ("?", "?")] * 2
    assert ("Machines they ran on (CPU model / torch's CPU capability): AMD EPYC / AVX2 "
            "(3 runs), ? / ? (2 runs)") in page.read_text()


def test_runs_resumed_on_a_fresh_env_are_named(page):
    """Their episodes after a stop are not their seed's: the page and runs.csv say which."""
    assert ("Resumed on a fresh env (resumes in brackets), so not reproducible from their "
            "seed: `two/seed1` (2).") in page.read_text()
    with (page.parent / "validation" / "runs.csv").open() as f:
        assert [r["inexact_resumes"] for r in csv.DictReader(f)] == ["0"] * 4 + ["2"]


@pytest.mark.parametrize("iv, seeds, needle", [
    (Interval(0.9, 0.6, 1.0), 3, "beats"),
    (Interval(0.1, 0.0, 0.4), 3, "is worse than"),
    (Interval(0.6, 0.3, 0.9), 4, "no detectable difference at 4 seeds"),
    (Interval(1.0, 1.0, 1.0), 1, "too few seeds to compare (1 and 3 finished; 3 needed)"),
])
def test_verdict_follows_the_interval(iv, seeds, needle):
    arm = suite.ArmResult("two", "", [None] * seeds, Interval(1, 0, 2), True, poi=iv)
    base = suite.ArmResult("one", "", [None] * 3, Interval(1, 0, 2), True)
    assert needle in suite_page.verdict(arm, base)


def test_a_suite_file_with_an_unknown_baseline_fails_before_reading(tmp_path, mlflow_uri, capsys):
    path = tmp_path / "val.toml"
    path.write_text(TOML.replace('baseline = "one"', 'baseline = "three"'))
    code = cli.main(["report", "--suite", str(path), "--out", str(tmp_path / "p.md")])
    assert code == 2
    assert "baseline 'three' is not an arm" in capsys.readouterr().err
    assert not Path(tmp_path / "p.md").exists()


def test_sampled_evaluation_is_tabled_beside_the_greedy_score(page):
    text = page.read_text()
    assert "| arm | seed: greedy / sampled |" in text
    assert "| `two` | 0: 50.00 / 30.00, 1: 51.00 / 31.00 |" in text
    assert "| `one` | 0: 10.00 /" not in text  # arm one logged no sampled evaluation


def test_an_arm_run_on_fewer_seeds_is_complete_at_its_own(tmp_path, mlflow_uri):
    """Arm two runs seeds 0 and 1 only (``[arms.two] seeds``): its missing seed 2 is not owed,
    so nothing is listed as unfinished, and the page says which arm ran which seeds."""
    path = tmp_path / "val.toml"
    path.write_text(TOML.replace('[arms.two]\n', '[arms.two]\nseeds = [0, 1]\n'))
    client = MlflowClient(mlflow_uri)
    _log_runs(client, "val")
    out = tmp_path / "validation.md"
    suite.write_page(client, [experiment.load(path)], out, "CMD",
                     random_fn=lambda files, bindings, seeds: {s: RANDOM[s] for s in seeds},
                     reps=200, actions_fn=lambda files, bindings: 2)
    text = out.read_text()
    assert "Seeds: 0, 1, 2; `two`: 0, 1." in text
    assert "| `one` | 5 / 5 |" in text  # the summary row: 5 of the 5 runs the file asks for
    assert "Not run yet" not in text and "about" not in text.split("## Hierarchy")[0]


def _arm(name: str, levels: str, poi: Interval | None = None, **components: str):
    rows = [suite.RunRow("e", "t", name, s, 1.0, 10, levels, 60.0, "x", "r", "AVX2",
                         components={"env": "cartpole", "tracker": "mlflow", **components})
            for s in range(3)]
    return suite.ArmResult(name, "", rows, Interval(1, 0, 2), True, poi=poi)


def test_sequence_models_are_compared_with_the_baseline_and_other_differences_named():
    from types import SimpleNamespace

    base = _arm("s5_1level", "1", sequence="s5", sampler="etbs")
    rssm = _arm("dreamer", "1", Interval(0.84, 0.52, 1.0), sequence="rssm", sampler="uniform")
    mamba = _arm("mamba", "1", Interval(0.5, 0.2, 0.8), sequence="mamba", sampler="etbs")
    deeper = _arm("hieros_3", "3", Interval(0.1, 0.0, 0.3), sequence="rssm", sampler="etbs")
    same = _arm("s5_other", "1", Interval(0.9, 0.8, 1.0), sequence="s5", sampler="uniform")
    result = suite.TaskResult(SimpleNamespace(name="val", baseline="s5_1level"), "pinpad",
                              [base, rssm, mamba, deeper, same], {}, Interval(0, 0, 0))
    text = "\n".join(suite_page._sequence_models([result]))
    assert text.startswith("## Sequence models: which is best?")
    assert ("- **pinpad** (`val`; rssm vs s5, 1 level): `dreamer` beats `s5_1level`: "
            "P = 0.84 [0.52, 1.00], the interval is above 0.5. The two arms also differ in: "
            "sampler `uniform` vs `etbs`.") in text
    assert ("- **pinpad** (`val`; mamba vs s5, 1 level): `mamba` vs `s5_1level`: no detectable "
            "difference at 3 seeds (P = 0.50 [0.20, 0.80] contains 0.5).\n") in text
    # another level count is the hierarchy section's question; the same model is no comparison
    assert "hieros_3" not in text and "s5_other" not in text
    assert "better in 1, worse in 0, and not distinguishable in 1" in text
    # env and tracker are plumbing, not a difference between agents
    assert "cartpole" not in text and "mlflow" not in text
    # the hierarchy section names what else differs in the same way
    hier = "\n".join(suite_page._hierarchy([result]))
    assert ("- **pinpad** (3 levels): `hieros_3` is worse than `s5_1level`: P = 0.10 [0.00, "
            "0.30], the interval is below 0.5. The two arms also differ in: sequence `rssm` vs "
            "`s5`.") in hier


def test_no_sequence_model_section_when_every_arm_uses_the_baselines(page):
    text = page.read_text()  # both arms' runs built `s5` (and differ in levels)
    assert "## Hierarchy" in text and "## Sequence models" not in text


def test_rows_carry_the_components_their_runs_built():
    from types import SimpleNamespace

    rec = suite.runs.RunRecord("id", "one", "cart", "0", "FINISHED", 1.0, None, 0, 1000,
                               tags={keys.component_tag("sequence"): "mamba", "arm": "one"})
    exp = SimpleNamespace(name="val")
    row = suite._row(exp, rec, 10)
    assert row.components == {"sequence": "mamba"}
    assert suite.ArmResult("one", "", [row, row], None, False).components == {
        "sequence": "mamba"}
