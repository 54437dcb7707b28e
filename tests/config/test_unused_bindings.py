"""A binding the built object graph never used is an error (for unbuilt parts: inactive)."""

from __future__ import annotations

from pathlib import Path

import gin
import pytest
from mlflow.tracking import MlflowClient

from hieros_lab import cli, config
from hieros_lab.binding_usage import MACRO, Reason, Unused, unused_bindings
from hieros_lab.trainer.session import RunSpec, run_training

# -- the pure rule, on synthetic dicts --------------------------------------------------------
WM = "pkg.WorldModel"


def test_unscoped_binding_used_by_a_scoped_call():
    assert unused_bindings({("", WM): {"lr": 0.1}}, {("level0", WM): {"lr": 0.1}}) == []


def test_binding_in_a_scope_never_entered():
    found = unused_bindings({("level5", WM): {"lr": 0.1}},
                            {("level0", WM): {"lr": 1.0}, ("level1", WM): {"lr": 1.0}})
    assert found == [Unused("level5", WM, "lr", Reason.WRONG_SCOPE, ("level0", "level1"))]
    assert not found[0].reason.inactive


def test_scopes_are_prefixes_by_components_not_characters():
    found = unused_bindings({("level1", WM): {"lr": 0.1}}, {("level10", WM): {"lr": 1.0}})
    assert [u.reason for u in found] == [Reason.WRONG_SCOPE]
    assert unused_bindings({("a", WM): {"lr": 0.1}}, {("a/b", WM): {"lr": 0.1}}) == []


def test_parameter_passed_by_the_caller():
    # gin leaves a caller-passed parameter out of the operative entry
    found = unused_bindings({("", WM): {"lr": 0.1}}, {("level0", WM): {"units": 8}})
    assert found == [Unused("", WM, "lr", Reason.CALLER, ("level0",))]


def test_passed_by_one_caller_but_used_by_another_is_used():
    operative = {("level0", WM): {"units": 8}, ("level1", WM): {"lr": 0.1, "units": 8}}
    assert unused_bindings({("", WM): {"lr": 0.1}}, operative) == []


def test_binding_shadowed_by_a_more_specific_scope_everywhere():
    bindings = {("", WM): {"lr": 0.1}, ("level0", WM): {"lr": 0.2}}
    found = unused_bindings(bindings, {("level0", WM): {"lr": 0.2}})
    assert found == [Unused("", WM, "lr", Reason.SHADOWED, ("level0",))]
    # with a second level the unscoped binding reaches level1: used
    assert unused_bindings(bindings, {("level0", WM): {"lr": 0.2},
                                      ("level1", WM): {"lr": 0.1}}) == []


def test_component_never_called_is_inactive():
    found = unused_bindings({("", "sequence.rssm"): {"hidden": 16}, ("", WM): {"lr": 0.1}},
                            {("level0", WM): {"lr": 0.1}, ("level0", "sequence.s5"): {}})
    assert found == [Unused("", "sequence.rssm", "hidden", Reason.NOT_BUILT)]
    assert found[0].reason.inactive


def test_macros_count_as_used_once_evaluated():
    bindings = {("SIZE", MACRO): {"value": 4}, ("SPARE", MACRO): {"value": 1}}
    found = unused_bindings(bindings, {("SIZE", MACRO): {"value": 4}})
    assert found == [Unused("SPARE", MACRO, "value", Reason.MACRO_UNUSED)]
    assert found[0].reason.inactive


# -- through gin, with throwaway configurables --------------------------------------------------
@gin.configurable(module="unused_probe")
class Inner:
    """Built by Outer inside the scope ``child``, which always passes ``seed`` itself."""

    def __init__(self, size: int = 1, seed: int = 0) -> None:
        self.size, self.seed = size, seed


@gin.configurable(module="unused_probe")
class Outer:
    def __init__(self, inner: type = Inner, width: int = 2) -> None:
        with gin.config_scope("child"):
            self.inner = inner(seed=3)


@gin.configurable(module="unused_probe")
class NeverBuilt:
    def __init__(self, depth: int = 1) -> None:
        self.depth = depth


def check(tmp_path: Path, text: str, bindings: tuple[str, ...] = ()) -> tuple[Path, list[str]]:
    """Parse ``text`` as a gin file, build Outer, run the check."""
    path = tmp_path / "probe.gin"
    path.write_text(text)
    paths = config.parse([path], bindings)
    Outer()
    return path, config.check_unused_bindings(paths, bindings)


def test_used_bindings_pass(tmp_path):
    _, inactive = check(tmp_path, "SIZE = 5\nOuter.width = %SIZE\nchild/Inner.size = 2\n"
                                  "unused_probe.Outer.inner = @Inner\n"
                                  "child/Inner.size = %SIZE\n")
    assert inactive == []


def test_explicit_caller_argument_is_an_error_naming_the_binding(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        check(tmp_path, "Outer.width = 3\n\nInner.seed = 5\n")
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'probe.gin'}:3: Inner.seed:") and "\n" not in msg
    assert "passes seed explicitly" in msg and "'child'" in msg


def test_scope_never_entered_is_an_error_naming_file_and_line(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        check(tmp_path, "Outer.width = 3\nnowhere/Inner.size = 2\n")
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'probe.gin'}:2: nowhere/Inner.size:")
    assert "never called in scope 'nowhere'" in msg and "only in 'child'" in msg


def test_command_line_binding_is_named_as_such(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        check(tmp_path, "Outer.width = 3\n", ("nowhere/Inner.size = 2",))
    assert str(err.value).startswith("--gin_binding 'nowhere/Inner.size = 2': nowhere/Inner.size")


def test_shadowed_binding_names_the_winner(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        check(tmp_path, "Inner.size = 2\nchild/Inner.size = 3\n")
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'probe.gin'}:1: Inner.size:")
    assert "child/Inner.size overrides it" in msg


def test_location_is_found_in_an_included_file_and_errors_are_counted(tmp_path):
    inner = tmp_path / "inner.gin"
    inner.write_text("# sizes\nnowhere/Inner.size = 2\n")
    with pytest.raises(config.ConfigError) as err:
        check(tmp_path, f"include '{inner}'\nInner.seed = 1\n")
    msg = str(err.value)
    assert msg.startswith(f"{inner}:2: nowhere/Inner.size:") and "(and 1 more" in msg


def test_unbuilt_component_and_configurable_are_inactive(tmp_path):
    path, inactive = check(tmp_path, "rssm.hidden = 8\nNeverBuilt.depth = 2\nSPARE = 1\n")
    assert len(inactive) == 3
    assert inactive[0].startswith(f"{path}:1: rssm.hidden: inactive: component sequence 'rssm'")
    assert inactive[1].startswith(f"{path}:2: NeverBuilt.depth: inactive:")
    assert inactive[2].startswith(f"{path}:3: macro SPARE: inactive:")


# -- the shipped presets and the CLI ---------------------------------------------------------
GIN = config.GIN_DIR
PRESETS = sorted(str(p.relative_to(GIN)) for p in (GIN / "presets").glob("*.gin"))
# 19 steps: the first update at tiny sizes (4 windows of 16 steps); a shorter run is rejected.
FAST = ("Trainer.steps = 19", "Trainer.tracker = @null", "Trainer.train_ratio = 64.0",
        "Trainer.eval_every = 0", "Trainer.eval_episodes = 1", "Trainer.checkpoint_every = 0",
        "Trainer.device = 'cpu'")


def _continuous(preset: str) -> bool:
    """A continuous-control preset keeps its own env (the fake env's actions are discrete, and a
    bounded-normal actor on it stops the build); DMC from proprioception is fast enough."""
    config.parse([preset], finalize=False)
    policy = str(config.query("ActorCritic.policy"))
    gin.clear_config()
    return "bounded_normal" in policy


RUNS = [("debug.gin",)] + [
    (p, "scale/tiny.gin") if _continuous(p) else (p, "scale/tiny.gin", "envs/fake.gin")
    for p in PRESETS] + [
    ("presets/hieros.gin", "hierarchy/levels_1.gin", "scale/tiny.gin", "envs/fake.gin")]


@pytest.mark.parametrize("files", RUNS, ids="+".join)
def test_every_preset_trains_without_an_unused_binding(files, tmp_path):
    spec = RunSpec(list(files), list(FAST), "test")
    run_training(spec, tmp_path / "run", resume=False, progress=False)
    assert all(": inactive: " in line for line in spec.inactive_bindings)
    if "hierarchy/levels_1.gin" in files:  # a 3-level preset's autoencoder sizes, one level
        assert any("SubgoalAutoencoder.code_groups" in line for line in spec.inactive_bindings)


def test_cli_binding_for_a_missing_level_exits_2_before_any_run(tmp_path, mlflow_uri,
                                                                monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["train", "--no_progress", "--gin_file", "debug.gin", "--run_dir", "run",
                     "--gin_binding", "level5/WorldModel.lr = 0.1"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "level5/WorldModel.lr" in err[0] and "--gin_binding" in err[0], err
    client = MlflowClient(tracking_uri=mlflow_uri)
    exp = client.get_experiment_by_name("hieros_lab")
    assert exp is None or not client.search_runs([exp.experiment_id])
