"""The acting context of a world model: the last T real steps, re-observed from a fresh state.

Why (``WorldModel.act_context``). The world model learns on replay windows of ``length`` steps,
each observed from the sequence model's initial state (spec §2.5, §6), but the spec's agent acts
with a state it carries through the whole episode (§1.6). A trained S5WM keeps slow modes
(measured in session 12 on the quickstart's CartPole runs: median time scale about 200 steps,
|Λ̄| up to 0.9995), so after a few windows' worth of steps the acting state lies where training
never put one. Measured on the quickstart preset, seed 0, after 9,000 steps (a run that
plateaued near 140): the posterior's cart-position reconstruction error was 0.03 in the first
64 steps of an episode, 0.62 in steps 64-127 and 1.86 in steps 128-255, and the predicted
continue probability fell to 0.90 and 0.44 there. Re-observing only the last 32 steps gave
0.32 and 0.77 and a continue of 0.98 and 0.86. With ``act_context = T`` the acting state is
the last state of the most recent T-step window, which is how every training start was made.

A window holds embeddings (``[B, t, E]``, t <= T), the actions before each step (``[B, t, A]``)
and the episode-start flags (``[B, t]``), oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ActingWindow:
    """The last ``t`` real steps of a stream: ``embed [B, t, E]``, ``prev_action [B, t, A]``,
    ``is_first [B, t]`` (bool)."""

    embed: torch.Tensor
    prev_action: torch.Tensor
    is_first: torch.Tensor

    @staticmethod
    def empty(batch: int, embed_dim: int, action_dim: int,
              device: torch.device | str = "cpu") -> ActingWindow:
        """A window of no steps, leading dims ``[batch, 0]``."""
        return ActingWindow(torch.zeros(batch, 0, embed_dim, device=device),
                            torch.zeros(batch, 0, action_dim, device=device),
                            torch.zeros(batch, 0, dtype=torch.bool, device=device))

    def __len__(self) -> int:
        return self.embed.shape[1]

    def push(self, embed: torch.Tensor, prev_action: torch.Tensor, is_first: torch.Tensor,
             length: int) -> ActingWindow:
        """The window after one more step (``[B, E]``, ``[B, A]``, ``[B]``), its oldest steps
        dropped so that at most ``length`` remain."""
        if length < 1:
            raise ValueError(f"ActingWindow.push: length must be >= 1, got {length}")
        cat = lambda old, new: torch.cat([old, new.unsqueeze(1).to(old.dtype)], 1)[:, -length:]  # noqa: E731
        return ActingWindow(cat(self.embed, embed), cat(self.prev_action, prev_action),
                            cat(self.is_first, is_first.bool()))

    def as_context(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(embed, prev_action, is_first)`` as a replay window is observed: the first step
        starts from the initial state and no action (``shift_actions`` zeroes a window's first
        action), and so does every episode start inside it."""
        is_first = self.is_first.clone()
        is_first[:, 0] = True
        prev_action = self.prev_action * (~is_first).unsqueeze(-1).to(self.prev_action.dtype)
        return self.embed, prev_action, is_first
