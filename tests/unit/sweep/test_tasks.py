"""``[tasks.*]`` tables: order of a task's delta in a child, and bad tasks failing at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from hieros_lab.config import ConfigError
from hieros_lab.sweep import experiment

TASKS = """name = "t"
base = ["debug.gin"]
seeds = [3]

[arms.a]
gin_files = ["presets/hieros.gin"]
bindings = ["Trainer.train_ratio = 8.0"]

[tasks.cart]
gin_files = ["envs/cartpole.gin"]
bindings = ["Trainer.train_ratio = 4.0", "Trainer.steps = 50"]

[tasks.breakout]
gin_files = ["envs/minatar.gin"]
bindings = ["minatar.game = 'breakout'", "minatar.size = 32"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_tasks_are_the_games_and_their_files_follow_the_arms(tmp_path):
    exp = experiment.load(write(tmp_path, TASKS))
    assert exp.games == ("cart", "breakout") and not exp.atari
    cart, breakout = exp.expand()
    assert cart.key == "a/cart/seed3" and breakout.key == "a/breakout/seed3"
    # The arm's preset includes envs/atari100k.gin: the task's env file must come after it.
    assert cart.gin_files == ("debug.gin", "presets/hieros.gin", "envs/cartpole.gin")
    # The arm's delta wins over the task's budget; the task's own bindings stay in the child.
    assert cart.bindings.index("Trainer.train_ratio = 4.0") < cart.bindings.index(
        "Trainer.train_ratio = 8.0")
    assert "Trainer.steps = 50" in cart.bindings
    assert "minatar.size = 32" in breakout.bindings
    assert "Trainer.steps = 50" not in breakout.bindings


def test_an_env_that_cannot_be_made_fails_at_load_naming_the_task_and_line(tmp_path):
    path = write(tmp_path, TASKS.replace("'breakout'", "'brekout'"))
    with pytest.raises(ConfigError) as err:
        experiment.load(path)
    msg = str(err.value)
    assert f"{path}:13: task 'breakout'" in msg and "unknown MinAtar game 'brekout'" in msg
    assert "\n" not in msg


def test_a_bad_binding_of_a_task_names_the_task(tmp_path):
    path = write(tmp_path, TASKS.replace("minatar.size = 32", "minatar.sise = 32"))
    with pytest.raises(ConfigError, match=rf"{path}:15: arm 'a', task 'breakout'.*sise"):
        experiment.load(path)


def test_a_missing_task_gin_file_is_named(tmp_path):
    path = write(tmp_path, TASKS.replace("envs/cartpole.gin", "envs/cartpol.gin"))
    with pytest.raises(ConfigError, match=rf"{path}:10: .*task 'cart'.*envs/cartpol.gin"):
        experiment.load(path)


@pytest.mark.parametrize("edit, needle", [
    (("seeds", 'games = ["pong"]\nseeds'), "either games"),
    (('gin_files = ["envs/cartpole.gin"]', "gin_files = []"), "tasks.cart must list its env"),
    (("[tasks.cart]", "[tasks.cart]\ngin_file = []"),
     r"tasks.cart: unknown key\(s\) \['gin_file'\]"),
    (("[tasks.breakout]", "[tasks.Cart]"), "duplicate task name 'Cart'"),
    (("[tasks.cart]", "[tasks.'c d']"), "task name 'c d'"),
    (("[tasks.cart]", "[tasks.cart]\ndescription = 3"), "tasks.cart.description must be a string"),
])
def test_structural_mistakes_in_tasks_are_named(tmp_path, edit, needle):
    with pytest.raises(ConfigError, match=needle):
        experiment.parse_experiment(write(tmp_path, TASKS.replace(*edit, 1)))
