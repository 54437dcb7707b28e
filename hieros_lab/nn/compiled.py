"""Compiled training (``Trainer.compile``): the pure tensor parts of an update through
``torch.compile``.

What is compiled. Each learner compiles the functions that only compute tensors from tensors,
never the parts with host transfers or Python state:

* the world model's loss terms (encoder, sequence model over ``[B, T]``, decoder, heads, KL;
  :meth:`~hieros_lab.world_model.world_model.WorldModel.loss_terms`);
* the imagination rollout of the actor-critic (H states, actor with its graph;
  :meth:`~hieros_lab.behavior.actor_critic.ActorCritic.rollout`);
* each critic head's loss and the actor's loss.

Optimiser steps, the return normaliser's percentile update, the slow critic's EMA and every
``float(...)`` of the metrics stay eager, between the compiled calls. So the graphs have no
data-dependent Python and no host synchronisation inside; graph breaks are counted
(:func:`graph_breaks`) and logged as ``compile/graph_breaks``.

Modes: ``off`` (eager, the default), ``default`` and ``max-autotune`` (inductor), and
``reduce-overhead``, which on a CUDA device also captures the graphs as CUDA graphs: an
imagination step at paper sizes is a few small kernels, launch-bound on a GPU (issue #10).

Random numbers. Compiled code draws from the same global torch generator, in the same order, as
eager code (inductor's ``fallback_random``), so a compiled run differs from the eager run of the
same seed only by floating-point rounding, and the equivalence test can compare them directly.

Measured on CPU (session 16, AVX512 Xeon, one thread, two other processes on the cores): the
paper-size S5WM loss forward+backward took 5.4-5.8 s compiled against 4.8-5.2 s eager, after a
198 s compile. Inductor has no code generation for complex tensors, so S5's complex scan runs
as eager kernels inside the graph. On CPU ``off`` stays the default; ``hieros-lab bench``
measures both.

Acting stays eager. Compiling each level's ``observe`` and ``act`` for the paper-size Pong policy
(batch 1, session 16, same machine, the other core busy) gave 57 env steps/s against 91 eager,
with 10 graph breaks in the acting state's dataclasses: at batch 1 the graph's guards and
wrappers cost more than the Python overhead they remove.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

#: ``Trainer.compile`` values; all but ``off`` are ``torch.compile`` modes.
MODES = ("off", "default", "reduce-overhead", "max-autotune")

F = TypeVar("F", bound=Callable)


def check(mode: str) -> str:
    """``mode`` itself if it is a ``Trainer.compile`` value, else a ValueError naming it."""
    if mode not in MODES:
        raise ValueError(f"Trainer.compile must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def compile_fn(fn: F, mode: str) -> F:
    """``fn`` itself for ``off``, else ``torch.compile(fn, mode=mode)`` with static shapes.

    Shapes are fixed within a run (batch, window, horizon, starts), so ``dynamic=False``: one
    graph per function and level, no symbolic-shape guards.
    """
    if check(mode) == "off":
        return fn
    import torch._inductor.config as inductor_config

    inductor_config.fallback_random = True  # the eager RNG stream (module doc)
    return torch.compile(fn, mode=None if mode == "default" else mode, dynamic=False)


def graph_breaks() -> int:
    """Graph breaks dynamo has met in this process so far (all compiled functions)."""
    from torch._dynamo.utils import counters

    return int(sum(counters["graph_break"].values()))
