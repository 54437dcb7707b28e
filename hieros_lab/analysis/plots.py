"""PNG figures for a report: per-game bars, aggregate intervals, improvement, learning curves.

Takes numbers already computed by :mod:`hieros_lab.analysis.scores`; no MLflow here. Figures are
``matplotlib.figure.Figure`` objects rendered by the Agg canvas directly, so nothing touches
pyplot's global state or needs a display.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hieros_lab.analysis.scores import METRICS, PUBLISHED, Interval

Curve = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # grid, mean, lo, hi
_COLS = 5
_DPI = 100


def _grid(n: int, cell: tuple[float, float] = (3.2, 2.4)) -> tuple[Figure, list]:
    cols = min(_COLS, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(cell[0] * cols, cell[1] * rows), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _err(iv: Interval) -> tuple[float, float]:
    if math.isnan(iv.lo):
        return 0.0, 0.0
    return iv.point - iv.lo, iv.hi - iv.point


def _colors(n: int) -> list:
    return [f"C{i % 10}" for i in range(n)]


def plot_game_scores(games: list[str], arms: list[str],
                     scores: Mapping[tuple[str, str], Interval],
                     reference: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """One panel per game: a bar per arm (mean over seeds, 95 % CI whiskers); dashed lines at
    the random and human reference scores where the game has them."""
    fig, axes = _grid(len(games))
    colors = _colors(len(arms))
    for ax, game in zip(axes, games, strict=True):
        for i, arm in enumerate(arms):
            iv = scores.get((arm, game))
            if iv is not None:
                lo, hi = _err(iv)
                ax.bar(i, iv.point, yerr=[[lo], [hi]], color=colors[i], capsize=3)
        for column, style in (("random", ":"), ("human", "--")):
            if game in reference.get(column, {}):
                ax.axhline(reference[column][game], color="grey", linestyle=style, lw=1)
        ax.set_title(game, fontsize=9)
        ax.set_xticks(range(len(arms)), arms, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("Final score per game (mean over seeds, 95 % CI); dotted: random, "
                 "dashed: human", fontsize=10)
    return _save(fig, path)


def plot_aggregates(intervals: Mapping[str, Mapping[str, Interval]],
                    published: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """One panel per aggregate metric: our arms as 95 % bootstrap intervals, published
    agents as points (their per-game table numbers, no interval)."""
    arms = list(intervals)
    fig, axes = _grid(len(METRICS), cell=(3.4, 0.45 * (len(arms) + len(published)) + 1.2))
    labels = arms + [PUBLISHED[c] for c in published]
    for ax, (metric, title) in zip(axes, METRICS.items(), strict=True):
        for i, arm in enumerate(arms):
            iv = intervals[arm][metric]
            ax.barh(i, iv.hi - iv.lo, left=iv.lo, height=0.6, color=f"C{i % 10}", alpha=0.6)
            ax.plot([iv.point], [i], "k|", markersize=12)
        for j, column in enumerate(published):
            ax.plot([published[column][metric]], [len(arms) + j], "kD", markersize=4)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0] else [""] * len(labels),
                      fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("human-normalised score", fontsize=8)
    return _save(fig, path)


def plot_improvement(poi: Mapping[tuple[str, str], Interval], path: Path) -> Path:
    """P(X > Y) per ordered pair with 95 % bootstrap intervals; 0.5 = no difference."""
    pairs = list(poi)
    fig = Figure(figsize=(6, 0.45 * len(pairs) + 1.2), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, pair in enumerate(pairs):
        iv = poi[pair]
        ax.barh(i, iv.hi - iv.lo, left=iv.lo, height=0.6, color="C0", alpha=0.6)
        ax.plot([iv.point], [i], "k|", markersize=12)
    ax.axvline(0.5, color="grey", linestyle="--", lw=1)
    ax.set_yticks(range(len(pairs)), [f"P({x} > {y})" for x, y in pairs], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability of improvement", fontsize=8)
    return _save(fig, path)


def plot_curves(curves: Mapping[str, Mapping[str, Curve]], ylabels: Mapping[str, str],
                path: Path, hlines: Mapping[str, float] | None = None,
                cell: tuple[float, float] = (3.2, 2.4), clip_bands: bool = False) -> Path:
    """One panel per game: mean score over seeds vs env steps per arm with a 95 % CI band;
    ``hlines[game]``: a dotted grey level labelled "random" (a baseline measured apart).
    ``clip_bands``: the y axis spans the means (and the random level) with a margin, so that
    the wide t-bands of 3 seeds run off the panel instead of flattening the curves."""
    games = list(curves)
    fig, axes = _grid(len(games), cell)
    arms = sorted({arm for per_arm in curves.values() for arm in per_arm})
    color = dict(zip(arms, _colors(len(arms)), strict=True))
    for ax, game in zip(axes, games, strict=True):
        for arm, (grid, mean, lo, hi) in curves[game].items():
            ax.plot(grid, mean, color=color[arm], label=arm, lw=1.2, marker="." if
                    grid.size == 1 else None)
            ax.fill_between(grid, lo, hi, color=color[arm], alpha=0.2, lw=0)
        if hlines and game in hlines:
            ax.axhline(hlines[game], color="grey", linestyle=":", lw=1.2, label="random")
        if clip_bands:
            levels = [v for _, mean, _, _ in curves[game].values() for v in mean]
            levels += [hlines[game]] if hlines and game in hlines else []
            lo, hi = min(levels), max(levels)
            pad = 0.25 * (hi - lo) or 1.0
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(game, fontsize=9)
        ax.set_xlabel("env steps", fontsize=7)
        ax.set_ylabel(ylabels[game], fontsize=7)
        ax.tick_params(labelsize=7)
    if axes:
        axes[0].legend(fontsize=7)
    return _save(fig, path)
