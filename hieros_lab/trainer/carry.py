"""What a checkpoint carries besides weights, optimizers and replay, so that a resumed run is
the run that never stopped: the envs, inside their drivers (the episode in progress, the env's
RNG, the greedy and sampled evaluation envs between their evaluations), and the training
stream's acting memory (every level's latent, acting window, held outputs and abstractions).

Without them a resume starts a fresh env mid-budget: the episodes after it are not those of the
seed, and a suite rerun from a clean clone cannot reproduce a run that was once interrupted.
Envs are carried only when their factory declares that a pickle continues them exactly
(:func:`hieros_lab.envs.base.mark_carried`); otherwise :func:`save` writes nothing and the
trainer falls back to a fresh env, counting the resume as inexact (``resume.inexact``). The
same happens when the env's settings (its factory's gin bindings, the seed) differ from those the
carried env was built with, e.g. a ``--gin_binding`` on the resume: a carried env would silently
keep the old ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gin
import torch

from hieros_lab.envs.base import carries_exactly
from hieros_lab.trainer import checkpoint as ckpt
from hieros_lab.trainer.driver import Driver

FILE = "acting.pt"


@dataclass
class Acting:
    """The acting side of a run at a safe point (top of an env step, or before an evaluation)."""

    train: Driver | list[Driver]  # a list with several env streams (Trainer.num_envs)
    eval: Driver | None
    sampled_eval: Driver | None
    agent_state: dict[str, Any] | None  # Agent.acting_state()
    env_config: str  # env_config() of the run that saved it

    def train_drivers(self) -> list[Driver]:
        """The training streams' drivers, stream 0 first."""
        return list(self.train) if isinstance(self.train, list) else [self.train]

    def drivers(self) -> list[Driver]:
        return [d for d in (*self.train_drivers(), self.eval, self.sampled_eval)
                if d is not None]


def env_config(factory: Any, seed: int) -> str:
    """What the envs were built from: the factory's name, its gin bindings and the seed."""
    try:
        bindings = sorted(gin.get_bindings(factory).items())
    except (ValueError, TypeError):  # a factory that is not gin-configurable: its name only
        bindings = []
    name = getattr(factory, "__name__", type(factory).__name__)
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in bindings)}), seed {seed}"


def carried(drivers: list[Driver | None]) -> bool:
    """True when every driver's env may be carried in a checkpoint."""
    return all(carries_exactly(d.env) for d in drivers if d is not None)


def save(directory: Path, acting: Acting) -> bool:
    """Write ``acting`` into the checkpoint ``directory``; False (nothing written) when one of
    its envs cannot be carried."""
    if not carried(acting.drivers()):
        return False
    ckpt.atomic_torch_save(acting, directory / FILE)
    return True


def load(directory: Path, device: torch.device) -> Acting | None:
    """The :class:`Acting` of checkpoint ``directory`` (tensors on ``device``), or None when
    the checkpoint has none (an env that could not be carried, or an older checkpoint)."""
    path = directory / FILE
    if not path.is_file():
        return None
    try:
        acting = torch.load(path, map_location=device, weights_only=False)
    except Exception as err:
        raise ckpt.CheckpointError(f"corrupted checkpoint {path}: {type(err).__name__}: "
                                   f"{err}") from None
    if not isinstance(acting, Acting):
        raise ckpt.CheckpointError(f"checkpoint {path} holds {type(acting).__name__}, not the "
                                   "acting state")
    return acting
