"""Score math: aggregates vs hand computations, HNS vs the shipped table, bootstrap, PoI."""

from __future__ import annotations

import numpy as np
import pytest
from rliable import metrics as rly

from hieros_lab.analysis import scores as sc

# 2 runs x 4 games; pooled sorted: -0.5 0 0.25 0.5 1 1.5 2 3
FIXED = np.array([[0.0, 0.5, 1.0, 3.0],
                  [0.25, -0.5, 2.0, 1.5]])


def test_aggregates_match_hand_computation():
    got = sc.aggregate_point(FIXED)
    per_game = [0.125, 0.0, 1.5, 2.25]  # mean over the 2 runs of each game
    assert got["mean"] == pytest.approx(sum(per_game) / 4)
    assert got["median"] == pytest.approx((0.125 + 1.5) / 2)
    assert got["iqm"] == pytest.approx((0.25 + 0.5 + 1.0 + 1.5) / 4)  # middle 4 of 8
    gap = [1, 0.5, 0, 0, 0.75, 1.5, 0, 0]  # max(0, 1 - x)
    assert got["optimality_gap"] == pytest.approx(sum(gap) / 8)


def test_intervals_are_rliables_stratified_bootstrap():
    from rliable import library

    x = np.random.default_rng(1).normal(0.5, 1.0, size=(5, 6))
    got = sc.aggregate_intervals(x, reps=300, seed=7)
    np.random.seed(7)  # rliable also draws from the global RNG (see aggregate_intervals)
    _, ci = library.get_interval_estimates(
        {"a": x}, lambda m: np.array([rly.aggregate_iqm(m)]), reps=300,
        random_state=np.random.RandomState(7))
    assert got["iqm"].lo == pytest.approx(min(ci["a"][0][0], got["iqm"].point))
    assert got["iqm"].hi == pytest.approx(max(ci["a"][1][0], got["iqm"].point))


def test_human_normalised_scores_from_the_shipped_table():
    table = sc.load_reference()
    assert len(table.games) == 25 and "Pong" in table.games
    assert table.human_normalized(np.array([5.0]), "Pong")[0] == pytest.approx(
        (5.0 + 20.7) / (14.6 + 20.7))
    assert table.human_normalized(30.5, "Breakout") == pytest.approx(1.0)
    assert table.human_normalized(1.7, "Breakout") == pytest.approx(0.0)
    assert table.scores["hieros"]["Freeway"] == 31


@pytest.mark.parametrize("name, game", [("Pong", "Pong"), ("ALE/MsPacman-v5", "MsPacman"),
                                        ("breakout", "Breakout"),
                                        ("SeaquestNoFrameskip-v4", "Seaquest"),
                                        ("CartPole-v1", None), ("fake", None)])
def test_game_names_are_matched_to_the_table(name, game):
    assert sc.load_reference().canonical(name) == game


def test_bootstrap_interval_contains_point_and_is_reproducible():
    x = np.random.default_rng(0).normal(1.0, 0.3, size=(5, 4))
    a = sc.aggregate_intervals(x, reps=400, seed=3)
    assert a == sc.aggregate_intervals(x, reps=400, seed=3)
    for iv in a.values():
        assert iv.lo <= iv.point <= iv.hi and iv.lo < iv.hi
    same = sc.aggregate_intervals(np.ones((3, 4)) * 0.4, reps=100)
    assert same["mean"] == sc.Interval(pytest.approx(0.4), pytest.approx(0.4), pytest.approx(0.4))


def test_resampling_stays_within_each_game():
    x = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    boot = sc.stratified_resample(x, 50, np.random.default_rng(0))
    assert boot.shape == (50, 3, 2)
    assert set(np.unique(boot[:, :, 0])) <= {1.0, 2.0, 3.0}
    assert set(np.unique(boot[:, :, 1])) <= {10.0, 20.0, 30.0}


def test_probability_of_improvement_one_arm_always_better():
    y = np.random.default_rng(0).normal(size=(3, 5))
    iv = sc.improvement_interval(y + 10.0, y, reps=200)
    assert iv == sc.Interval(1.0, 1.0, 1.0)
    assert sc.improvement_interval(y, y + 10.0, reps=200).point == 0.0


def test_batched_improvement_equals_rliable_with_ties():
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 4, size=(5, 3, 4)).astype(float), rng.integers(0, 4, size=(5, 2, 4))
    batch = sc.improvement_batch(x, y.astype(float))
    for k in range(5):
        assert batch[k] == pytest.approx(rly.probability_of_improvement(x[k], y[k]))


def test_mean_ci_student_t():
    iv = sc.mean_ci(np.array([1.0, 2.0, 3.0]))
    assert iv.point == 2.0
    assert iv.hi - iv.point == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)
    assert np.isnan(sc.mean_ci(np.array([5.0])).lo)


def test_published_aggregates_one_run_per_game():
    table = sc.load_reference()
    got = sc.published_aggregates(table, ["Pong", "Breakout"])["iris"]
    hns = [(15 + 20.7) / 35.3, (84 - 1.7) / 28.8]
    assert got["mean"] == pytest.approx(np.mean(hns))
    assert got["optimality_gap"] == pytest.approx(np.mean([max(0, 1 - h) for h in hns]))


def test_curve_band_interpolates_on_common_steps():
    a = (np.array([0.0, 10.0, 20.0]), np.array([0.0, 1.0, 2.0]))
    b = (np.array([5.0, 15.0]), np.array([2.0, 4.0]))
    grid, mean, lo, hi = sc.curve_band([a, b], points=3)
    assert grid.tolist() == [5.0, 10.0, 15.0]
    assert mean.tolist() == pytest.approx([(0.5 + 2) / 2, (1 + 3) / 2, (1.5 + 4) / 2])
    assert np.all(lo <= mean) and np.all(hi >= mean)
