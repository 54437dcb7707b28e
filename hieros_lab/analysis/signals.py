"""Learning signals of a run: why an arm that did not learn did not.

A final score near random says *that* nothing was learned, not *why*. Four of a run's level-0
metrics, at their last logged value, tell the usual causes apart:

- ``actor_entropy``: near its maximum ln A (A env actions) the policy is still uniform, and a
  greedy evaluation of it plays one arbitrary action per state, which can score below random;
- ``rewards/extrinsic_mean``: the mean reward the world model predicts in imagination; 0 means
  it has not learned where reward comes from, so there is nothing to imagine towards;
- ``rewards/subgoal_mean``: beside it, in a hierarchy, the mean subgoal reward of the same
  imagined states. Far above the extrinsic one (Pinpad, session 8: 3.1-6.2 against at most
  0.007 at level 0 at the end of the runs), the level-0 actor is paid for reaching goals and
  hardly for the task, so it learns the task only if the goals point at it;
- ``advantage_std``: the spread of the actor's (normalised) advantages; near 0 the actor gets
  no signal to follow.

:func:`signals` averages them over an arm's runs; :func:`near_uniform` flags the first cause.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

#: ``(metric key, column name)`` of the signals, level 0, in the order the page shows them.
SIGNALS: tuple[tuple[str, str], ...] = (
    ("level0/behavior/actor_entropy", "actor entropy, end"),
    ("level0/rewards/extrinsic_mean", "imagined reward, end"),
    ("level0/rewards/subgoal_mean", "imagined subgoal reward, end"),
    ("level0/behavior/advantage_std", "advantage std, end"),
)
ENTROPY = SIGNALS[0][0]
#: An actor entropy at or above this fraction of ln A counts as a still-uniform policy.
UNIFORM_FRACTION = 0.95


def signals(metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean over runs of each signal present in every run's latest metrics ``{key: value}``."""
    if not metrics:
        return {}
    return {key: sum(m[key] for m in metrics) / len(metrics) for key, _ in SIGNALS
            if all(key in m for m in metrics)}


def near_uniform(values: Mapping[str, float], num_actions: int) -> bool:
    """Whether the mean final actor entropy is within 5 % of its maximum ln ``num_actions``."""
    if ENTROPY not in values or num_actions < 2:
        return False
    return values[ENTROPY] >= UNIFORM_FRACTION * math.log(num_actions)
