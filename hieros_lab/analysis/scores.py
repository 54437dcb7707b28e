"""Score math for reports: reference table, human-normalised scores, aggregates, bootstrap CIs.

Pure functions on numpy arrays (no MLflow, no plotting), so every number in a report can be
checked against a hand computation. Score matrices are ``(R, G)``: R runs (seeds) x G games, as in
``rliable``. Point estimates come from ``rliable.metrics``; the aggregate intervals are rliable's
stratified-bootstrap percentile intervals (``rliable.library.get_interval_estimates``).
Probability of improvement uses the same stratified resampling (within each game, runs drawn
with replacement, X and Y independently) but vectorised here over the replicates: rliable's path
makes one Mann-Whitney call per game per replicate, minutes for a 25-game x 5-arm report.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from rliable import library as rly_library
from rliable import metrics as rly
from scipy import stats

#: Published-score columns of the reference table, in table order, with display names.
PUBLISHED = {"simple": "SimPLe", "twm": "TWM", "iris": "IRIS", "dreamerv3": "DreamerV3",
             "hieros": "HIEROS (paper)"}
#: Aggregate metrics on human-normalised scores, in report order, with display names.
METRICS = {"mean": "Mean", "median": "Median", "iqm": "IQM", "optimality_gap": "Optimality gap"}
_TABLE_FILE = "atari100k_published_scores.csv"


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval ``[lo, hi]`` (NaN where undefined)."""

    point: float
    lo: float
    hi: float


@dataclass(frozen=True)
class ReferenceTable:
    """Per-game reference scores: ``scores[column][game]``, columns random, human + PUBLISHED."""

    games: tuple[str, ...]
    scores: dict[str, dict[str, float]]
    ale_ids: dict[str, str]

    def canonical(self, name: str) -> str | None:
        """The table's game name for ``Pong``, ``pong``, ``ALE/Pong-v5``, ``PongNoFrameskip-v4``."""
        key = _game_key(name)
        for game in self.games:
            if key in (_game_key(game), _game_key(self.ale_ids[game])):
                return game
        return None

    def human_normalized(self, scores: np.ndarray, game: str) -> np.ndarray:
        """HNS = (score - random) / (human - random) for a game of the table (any shape)."""
        rand, human = self.scores["random"][game], self.scores["human"][game]
        return (np.asarray(scores, dtype=float) - rand) / (human - rand)


def _game_key(name: str) -> str:
    base = name.split("/")[-1].split("-v")[0]
    base = base.removesuffix("NoFrameskip").removesuffix("Deterministic")
    return base.replace("_", "").lower()


def load_reference(path: Path | None = None) -> ReferenceTable:
    """Read the reference table (default: the copy shipped in ``hieros_lab/data``)."""
    if path is None:
        text = resources.files("hieros_lab").joinpath("data", _TABLE_FILE).read_text()
    else:
        text = Path(path).read_text()
    rows = list(csv.DictReader(io.StringIO(
        "\n".join(ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")))))
    columns = ["random", "human", *PUBLISHED]
    scores = {c: {r["game"]: float(r[c]) for r in rows} for c in columns}
    return ReferenceTable(tuple(r["game"] for r in rows), scores,
                          {r["game"]: r["ale_id"] for r in rows})


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean over seeds with a Student-t confidence interval (NaN bounds for fewer than 2 values)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, float("nan"), float("nan"))
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return Interval(mean, mean - half, mean + half)


def aggregate_point(scores: np.ndarray) -> dict[str, float]:
    """rliable's aggregates of an ``(R, G)`` matrix of human-normalised scores."""
    return {"mean": float(rly.aggregate_mean(scores)),
            "median": float(rly.aggregate_median(scores)),
            "iqm": float(rly.aggregate_iqm(scores)),
            "optimality_gap": float(rly.aggregate_optimality_gap(scores))}


def stratified_resample(scores: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``(R, G)`` -> ``(K, R, G)``: per game, R runs drawn with replacement (rliable's strata)."""
    r, g = scores.shape
    idx = rng.integers(0, r, size=(reps, r, g))
    return scores[idx, np.arange(g)[None, None, :]]


def _percentile(point: float, reps: np.ndarray, confidence: float) -> Interval:
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(reps, [tail, 100 - tail])
    return Interval(point, float(lo), float(hi))


def aggregate_intervals(scores: np.ndarray, reps: int = 2000, seed: int = 0,
                        confidence: float = 0.95) -> dict[str, Interval]:
    """Aggregates of an ``(R, G)`` HNS matrix with rliable's stratified-bootstrap intervals."""
    point = aggregate_point(scores)

    def all_metrics(x: np.ndarray) -> np.ndarray:
        return np.array([rly.aggregate_mean(x), rly.aggregate_median(x), rly.aggregate_iqm(x),
                         rly.aggregate_optimality_gap(x)])

    # rliable 1.2's StratifiedBootstrap also draws from numpy's global RNG despite
    # random_state: seed it for reproducible reports, then put the caller's state back.
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        _, ci = rly_library.get_interval_estimates(
            {"arm": scores}, all_metrics, reps=reps, confidence_interval_size=confidence,
            random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(saved)
    lo, hi = ci["arm"]  # each (4,), in the order of METRICS
    return {m: Interval(point[m], float(min(lo[i], point[m])), float(max(hi[i], point[m])))
            for i, m in enumerate(METRICS)}


def improvement_batch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) averaged over games, for K pairs at once: (K, Rx, G), (K, Ry, G) -> (K,).

    Per game this is the Mann-Whitney U statistic over Rx*Ry, ties counting one half, which is
    what ``rliable.metrics.probability_of_improvement`` computes with one scipy call per game.
    """
    diff = x[:, :, None, :] - y[:, None, :, :]  # (K, Rx, Ry, G)
    per_game = (diff > 0).mean(axis=(1, 2)) + 0.5 * (diff == 0).mean(axis=(1, 2))
    return per_game.mean(axis=1)


def improvement_interval(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0,
                         confidence: float = 0.95) -> Interval:
    """Probability of improvement of X over Y, ``(Rx, G)`` and ``(Ry, G)`` raw scores, same games.

    Per-game ranks make it scale-free, so raw scores (also of games without human scores) work.
    X and Y are resampled independently (rliable's ``StratifiedIndependentBootstrap``).
    """
    rng = np.random.default_rng(seed)
    point = float(rly.probability_of_improvement(x, y))
    boot = improvement_batch(stratified_resample(x, reps, rng), stratified_resample(y, reps, rng))
    return _percentile(point, boot, confidence)


def published_aggregates(table: ReferenceTable, games: list[str]) -> dict[str, dict[str, float]]:
    """Aggregates of each published column over ``games``, one "run" per game (point estimates)."""
    out = {}
    for column in PUBLISHED:
        hns = np.array([[table.human_normalized(table.scores[column][g], g) for g in games]])
        out[column] = aggregate_point(hns)
    return out


def curve_band(series: list[tuple[np.ndarray, np.ndarray]], points: int = 50,
               confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean learning curve over seeds with a t-interval band.

    ``series``: per seed, (steps, values) sorted by step. Curves are linearly interpolated onto a
    common grid spanning the steps every seed covers (no extrapolation). Returns (grid, mean, lo,
    hi), each ``(P,)``; a single seed or a single common step gives a degenerate band.
    """
    start = max(float(s[0]) for s, _ in series)
    stop = min(float(s[-1]) for s, _ in series)
    grid = np.linspace(start, stop, points if stop > start else 1)
    ys = np.stack([np.interp(grid, s, v) for s, v in series])  # (seeds, P)
    mean = ys.mean(axis=0)
    if len(series) < 2:
        return grid, mean, mean.copy(), mean.copy()
    half = stats.t.ppf(0.5 + confidence / 2, len(series) - 1) * ys.std(axis=0, ddof=1)
    half = half / np.sqrt(len(series))
    return grid, mean, mean - half, mean + half
