"""A small deterministic stand-in for the world model's imagination interface.

``ToyModel`` satisfies ``hieros_lab.behavior.imagination.ImaginationModel``:
* ``img_step``: deter' = tanh(Linear([deter; action])), stoch = one-hot argmax of a linear head
  (deterministic), memory = the action that led to the state;
* ``predict``: reward = ``memory[..., good]`` (1 exactly when the previous action was ``good``),
  constant continue probability ``cont``, entropy of the latent's logits;
* ``actor_input`` = [stoch ; deter ; symlog(r, c, H)].
It counts its ``img_step`` calls.
"""

from __future__ import annotations

import gin
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hieros_lab.nn.distributions import symlog
from hieros_lab.sequence.base import Latent


class ToyModel(nn.Module):
    def __init__(self, actions: int = 3, deter: int = 8, groups: int = 2, classes: int = 3,
                 good: int = 0, cont: float = 0.9) -> None:
        super().__init__()
        self.actions, self.deter, self.groups, self.classes = actions, deter, groups, classes
        self.good, self.cont = good, cont
        self.dyn = nn.Linear(deter + actions, deter)
        self.head = nn.Linear(deter, groups * classes)
        self.calls = 0
        self.requires_grad_(False)

    @property
    def actor_input_dim(self) -> int:
        return self.groups * self.classes + self.deter + 3

    def _latent(self, deter: torch.Tensor, memory: torch.Tensor) -> Latent:
        logits = torch.log_softmax(self.head(deter).unflatten(-1, (self.groups, self.classes)), -1)
        stoch = F.one_hot(logits.argmax(-1), self.classes).to(deter.dtype).flatten(-2)
        return Latent(stoch=stoch, logits=logits, deter=deter, memory=memory)

    def start(self, n: int, seed: int = 0) -> Latent:
        gen = torch.Generator().manual_seed(seed)
        return self._latent(torch.randn(n, self.deter, generator=gen), torch.zeros(n, self.actions))

    def img_step(self, state: Latent, prev_action: torch.Tensor, sample: bool = True) -> Latent:
        self.calls += 1
        deter = torch.tanh(self.dyn(torch.cat([state.deter, prev_action], -1)))
        return self._latent(deter, prev_action)

    def predict(self, latent: Latent) -> dict[str, torch.Tensor]:
        probs = latent.logits.exp()
        return {"reward": latent.memory[..., self.good],
                "cont": torch.full_like(latent.deter[..., 0], self.cont),
                "entropy": -(probs * latent.logits).sum((-2, -1))}

    def actor_input(self, latent: Latent, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        extra = symlog(torch.stack([pred["reward"], pred["cont"], pred["entropy"]], -1))
        return torch.cat([latent.stoch, latent.deter, extra], -1)


@pytest.fixture(autouse=True)
def _clear_gin():
    gin.clear_config()
    yield
    gin.clear_config()


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from threads, and on a shared 2-core machine oversubscribed
    intra-op threads make them ~20x slower; restore the caller's setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def toy_model():
    """Factory: ``toy_model(**kwargs) -> ToyModel`` (seeded construction)."""

    def make(seed: int = 0, **kwargs) -> ToyModel:
        torch.manual_seed(seed)
        return ToyModel(**kwargs)

    return make
