"""Same seed on CPU -> identical metrics; a different seed -> different ones, on every env.

The validation suite's CSV is only reproducible if every env it uses (MinAtar's spawns and sticky
actions, Pinpad's start position) is seeded from ``Trainer.seed`` alone; a hierarchy adds the
higher levels' sampling to that. Each case trains twice with one seed and once with another.
"""

from __future__ import annotations

import pytest

from hieros_lab import config
from hieros_lab.tracking import keys
from hieros_lab.tracking.base import NullTracker
from hieros_lab.trainer.loop import Trainer

# Episodes are cut short so that both training and evaluation episodes end within the budget.
MINATAR = ("minatar.size = 32", "minatar.max_episode_steps = 30")
PINPAD = ("pinpad.length = 30",)
CASES = {
    "fake": ((), ()),
    "cartpole": (("envs/cartpole.gin",), ()),
    "minatar_breakout": (("envs/minatar.gin",), MINATAR),
    "minatar_freeway": (("envs/minatar.gin",), (*MINATAR, "minatar.game = 'freeway'")),
    "pinpad3": (("envs/pinpad.gin",), PINPAD),
    "pinpad3_2_levels": (("envs/pinpad.gin", "hierarchy/levels_2.gin"), (*PINPAD, "Agent.k = 2")),
    # continuous actions (bounded normal, gradients through the dynamics), and under codes
    "pendulum": (("envs/pendulum.gin",), ("control.max_episode_steps = 30",)),
    "pendulum_2_levels": (("envs/pendulum.gin", "hierarchy/levels_2.gin"),
                          ("control.max_episode_steps = 30", "Agent.k = 2")),
    "dmc_cartpole": (("envs/dmc.gin",), ("dmc.max_episode_steps = 30",)),
    "crafter": (("envs/crafter.gin",), ("crafter.length = 30", "crafter.size = 32")),
}


def _metrics(case: str, seed: int, tmp_path, extra: tuple[str, ...] = ()) -> list:
    files, bindings = CASES[case]
    config.parse(["debug.gin", *files], [*bindings, f"Trainer.seed = {seed}",
                                         "Trainer.steps = 80", "Trainer.eval_every = 40",
                                         "Trainer.eval_episodes = 1",
                                         "Trainer.tracker = @null", *extra])
    trainer = Trainer()
    trainer.build()
    tracker = NullTracker()
    tracker.start("det")
    trainer.fit(tracker, tmp_path / f"ckpt{seed}", progress=False)
    return [(step, {k: v for k, v in m.items() if not k.startswith("perf/")})
            for step, m in tracker.metrics_log()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_seed_same_metrics(case, tmp_path):
    a, b = _metrics(case, 3, tmp_path / "a"), _metrics(case, 3, tmp_path / "b")
    logged = {k for _, m in a for k in m}
    assert {"eval/score", "episode/score", "level0/world_model/loss"} <= logged
    assert a == b
    c = _metrics(case, 4, tmp_path / "c")
    assert a != c


def test_sampled_evaluation_changes_neither_training_nor_the_greedy_evaluation(tmp_path):
    """``Trainer.sampled_eval_episodes`` adds ``eval_sampled/*`` at every evaluation, from an env
    and a random stream of its own: every other metric stays bit-identical (a hierarchy case,
    whose greedy and sampled subgoals differ most)."""
    plain = _metrics("pinpad3_2_levels", 3, tmp_path / "a")
    with_sampled = _metrics("pinpad3_2_levels", 3, tmp_path / "b",
                            ("Trainer.sampled_eval_episodes = 2",))
    sampled_steps = [step for step, m in with_sampled if keys.EVAL_SAMPLED_SCORE in m]
    assert sampled_steps == [step for step, m in plain if keys.EVAL_SCORE in m] == [40, 80]
    assert all(m[f"{keys.EVAL_SAMPLED}/episodes"] == 2.0 for _, m in with_sampled
               if keys.EVAL_SAMPLED_SCORE in m)
    stripped = [(step, {k: v for k, v in m.items() if not k.startswith(keys.EVAL_SAMPLED)})
                for step, m in with_sampled]
    assert [(s, m) for s, m in stripped if m] == [(s, m) for s, m in plain if m]
