"""WorldModel.act_context: acting from the last T real steps, as training sees replay windows."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
import torch

from hieros_lab.sequence.base import Latent
from hieros_lab.sequence.rssm import RSSMSequence
from hieros_lab.sequence.s5 import S5Sequence
from hieros_lab.world_model.acting_window import ActingWindow
from hieros_lab.world_model.entropy import prior_entropy
from hieros_lab.world_model.world_model import WorldModel, shift_actions

A, STEPS = 3, 12
VECTOR = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)
SEQUENCES = {
    "s5": functools.partial(S5Sequence, model_dim=16, state_dim=8, num_blocks=2, init_blocks=2,
                            deter_dim=16, hidden=16, stoch_groups=4, stoch_classes=4),
    "rssm": functools.partial(RSSMSequence, deter_dim=16, hidden=16, stoch_groups=4,
                              stoch_classes=4),
}


def _model(kind: str, act_context: int) -> WorldModel:
    torch.manual_seed(0)
    model = WorldModel(VECTOR, A, SEQUENCES[kind], entropy_input=prior_entropy, mlp_units=16,
                       head_units=16, warmup=0, act_context=act_context)
    with torch.no_grad():  # slow, non-trivial dynamics, so that old steps still matter
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _episode(seed: int = 1) -> dict[str, torch.Tensor]:
    """One episode ``[1, STEPS]`` (one start, at 0); ``action[:, t]`` follows ``obs[:, t]``."""
    gen = torch.Generator().manual_seed(seed)
    action = torch.nn.functional.one_hot(torch.randint(0, A, (1, STEPS), generator=gen), A)
    is_first = torch.zeros(1, STEPS, dtype=torch.bool)
    is_first[0, 0] = True
    return {"obs": 3.0 * torch.randn(1, STEPS, 5, generator=gen), "action": action.float(),
            "is_first": is_first}


def _act(model: WorldModel, ep: dict[str, torch.Tensor], obs: torch.Tensor | None = None
         ) -> list[Latent]:
    """The acting state after every step of ``ep``, through the level's memory."""
    state, window = model.initial(1), model.empty_window(1)
    prev = torch.zeros(1, A)
    out = []
    with torch.no_grad():
        for t in range(STEPS):
            o = ep["obs"][:, t] if obs is None else obs[:, t]
            first = ep["is_first"][:, t]
            if window is None:
                state = model.obs_step(state, prev, o, first, sample=False)
            else:
                state, window = model.window_step(window, prev, o, first, sample=False)
            out.append(state)
            prev = ep["action"][:, t]
    return out


def _window_state(model: WorldModel, ep: dict[str, torch.Tensor], start: int, end: int) -> Latent:
    """The last real state of the replay window ``ep[:, start:end]``, observed as in training."""
    window = {k: v[:, start:end] for k, v in ep.items()}
    embed = model.embed(window["obs"])
    prev = shift_actions(window["action"], window["is_first"])
    with torch.no_grad():
        post, prior = model.sequence.observe(embed, prev, window["is_first"], None, False)
    return model.real_state(post.map(lambda t: t[:, -1]), prior.map(lambda t: t[:, -1]))


@pytest.mark.parametrize("kind", SEQUENCES)
def test_acting_state_is_the_last_state_of_a_replay_window(kind: str) -> None:
    model, ep, context = _model(kind, 4), _episode(), 4
    states = _act(model, ep)
    for t in range(STEPS):
        expected = _window_state(model, ep, max(0, t + 1 - context), t + 1)
        torch.testing.assert_close(states[t].deter, expected.deter, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(states[t].logits, expected.logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", SEQUENCES)
def test_acting_state_forgets_what_lies_before_the_window(kind: str) -> None:
    model, ep = _model(kind, 4), _episode()
    changed = ep["obs"].clone()
    changed[:, :STEPS - 4] += 5.0  # everything but the last 4 steps
    last = _act(model, ep)[-1]
    last_changed = _act(model, ep, obs=changed)[-1]
    torch.testing.assert_close(last.deter, last_changed.deter, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", SEQUENCES)
def test_a_window_longer_than_the_episode_so_far_equals_the_carried_state(kind: str) -> None:
    ep = _episode()
    carried, windowed = _act(_model(kind, 0), ep), _act(_model(kind, 4), ep)
    for t in range(4):  # within the first window both have seen the whole episode
        torch.testing.assert_close(windowed[t].deter, carried[t].deter, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(windowed[-1].deter, carried[-1].deter, atol=1e-3)


def test_default_carries_the_state_and_has_no_window() -> None:
    model = _model("s5", 0)
    assert model.act_context == 0 and model.empty_window(2) is None


def test_a_negative_context_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="WorldModel.act_context"):
        _model("s5", -1)


def test_a_window_keeps_at_most_its_length_and_starts_each_context_fresh() -> None:
    window = ActingWindow.empty(1, 2, A)
    for t in range(5):
        window = window.push(torch.full((1, 2), float(t)), torch.ones(1, A),
                             torch.tensor([t == 0]), length=3)
    embed, prev, first = window.as_context()
    assert embed[0, :, 0].tolist() == [2.0, 3.0, 4.0]
    assert first[0].tolist() == [True, False, False]
    assert prev[0].sum(-1).tolist() == [0.0, A, A]
