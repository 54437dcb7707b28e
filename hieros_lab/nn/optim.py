"""Optimiser wrapper of the authors' code (spec §7.1): AdamW, global-norm clip, linear warm-up.

Learner modules (world model, actor-critic) own their ``Optimizer`` s and expose them through
``optimizers() -> dict[str, Optimizer]`` so the trainer can checkpoint them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class Optimizer:
    """``step(loss)`` = zero grads, backward, clip, step; returns metrics (loss, grad_norm, lr)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, eps: float,
                 clip: float, warmup: int = 0, weight_decay: float = 0.0) -> None:
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("Optimizer got no trainable parameters")
        self.opt = torch.optim.AdamW(self.params, lr=lr, eps=eps, weight_decay=weight_decay)
        self.lr, self.clip, self.warmup = lr, clip, warmup
        self.updates = 0

    def step(self, loss: torch.Tensor, retain_graph: bool = False) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        loss.backward(retain_graph=retain_graph)
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        lr = self.lr * min(1.0, (self.updates + 1) / self.warmup) if self.warmup else self.lr
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.updates += 1
        return {"loss": float(loss.detach()), "grad_norm": float(norm), "lr": lr}

    def state_dict(self) -> dict[str, Any]:
        return {"opt": self.opt.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["opt"])
        self.updates = int(state["updates"])
