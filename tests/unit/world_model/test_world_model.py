"""WorldModel (spec §2.3-§2.5; §12 item 8): action alignment (B1), training, acting, predictions."""

from __future__ import annotations

import dataclasses
import functools
import math

import gin
import gymnasium as gym
import numpy as np
import pytest
import torch

from hieros_lab.config import configurable
from hieros_lab.nn.distributions import symlog
from hieros_lab.sequence.base import Latent
from hieros_lab.sequence.rssm import RSSMSequence
from hieros_lab.world_model.entropy import posterior_entropy, prior_entropy
from hieros_lab.world_model.world_model import WorldModel, shift_actions

B, T, A, G, C, D, S = 2, 6, 3, 4, 4, 16, 16
IMAGE = gym.spaces.Box(0, 255, (S, S, 3), np.uint8)
VECTOR = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)
METRICS = {"loss", "reward_loss", "cont_loss", "dyn_loss", "rep_loss", "kl", "post_entropy",
           "prior_entropy", "grad_norm", "lr"}



def _sequence():
    return functools.partial(RSSMSequence, deter_dim=D, hidden=16, stoch_groups=G, stoch_classes=C)


def _model(space: gym.spaces.Box = IMAGE, seed: int = 0, **kw) -> WorldModel:
    torch.manual_seed(seed)
    args = dict(entropy_input=prior_entropy, cnn_depth=4, min_res=4, mlp_units=16,
                head_units=16, warmup=0)
    return WorldModel(space, A, _sequence(), **{**args, **kw})


def _batch(space: gym.spaces.Box = IMAGE, seed: int = 0, b: int = B, t: int = T) -> dict:
    gen = torch.Generator().manual_seed(seed)
    if space is IMAGE:
        obs = torch.randint(0, 256, (b, t, S, S, 3), generator=gen, dtype=torch.uint8)
    else:
        obs = 3.0 * torch.randn(b, t, *space.shape, generator=gen)
    is_first = torch.zeros(b, t, dtype=torch.bool)
    is_first[:, 0] = True
    is_first[0, 3] = True
    is_terminal = torch.zeros(b, t, dtype=torch.bool)
    is_terminal[0, 2] = True
    return {"obs": obs,
            "action": torch.nn.functional.one_hot(torch.randint(0, A, (b, t), generator=gen),
                                                  A).float(),
            "reward": torch.randn(b, t, generator=gen),
            "is_first": is_first, "is_last": is_terminal.clone(), "is_terminal": is_terminal}


def _close(x: Latent, y: Latent, atol: float = 1e-5) -> None:
    for name in ("stoch", "logits", "deter", "memory"):
        torch.testing.assert_close(getattr(x, name), getattr(y, name), atol=atol, rtol=0,
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_shift_actions() -> None:
    action = torch.arange(1, 2 * 5 + 1, dtype=torch.float32).reshape(2, 5, 1)
    is_first = torch.tensor([[True, False, False, True, False], [True] + [False] * 4])
    prev = shift_actions(action, is_first)
    assert prev[..., 0].tolist() == [[0, 1, 2, 0, 4], [0, 6, 7, 8, 9]]


@pytest.mark.parametrize("t", [1, 3, 5])
def test_prior_is_causal_in_obs_and_actions(t: int) -> None:
    # spec §12 item 8: the prior at t may not see o_{>=t} nor a_{>=t} (a_t is chosen after o_t).
    model = _model()
    batch = _batch()
    batch["is_first"][0, 3] = False
    changed = {**batch, "obs": batch["obs"].clone(), "action": batch["action"].clone()}
    changed["obs"][:, t:] = 255 - changed["obs"][:, t:]
    changed["action"][:, t:] = changed["action"][:, t:].roll(1, -1)
    with torch.no_grad():
        post, prior = model.observe(batch, sample=False)
        post2, prior2 = model.observe(changed, sample=False)
    _close(prior.map(lambda x: x[:, : t + 1]), prior2.map(lambda x: x[:, : t + 1]), atol=0)
    _close(post.map(lambda x: x[:, :t]), post2.map(lambda x: x[:, :t]), atol=0)
    # ... while the changes do reach the posterior at t and the prior after t.
    assert not torch.allclose(post.logits[:, t], post2.logits[:, t])
    if t + 1 < T:
        assert not torch.allclose(prior.logits[:, t + 1], prior2.logits[:, t + 1])


def test_causality_test_detects_official_alignment_b1() -> None:
    # Bug B1: the official observe pairs z_{t-1} with a_t. Feeding unshifted actions straight to
    # the sequence model must make the prior at t depend on a_t, which the check above forbids.
    model = _model()
    batch = _batch()
    changed = batch["action"].clone()
    changed[:, 2] = changed[:, 2].roll(1, -1)
    with torch.no_grad():
        embed = model.embed(batch["obs"])
        _, official = model.sequence.observe(embed, batch["action"], batch["is_first"],
                                             sample=False)
        _, official2 = model.sequence.observe(embed, changed, batch["is_first"], sample=False)
    assert not torch.allclose(official.logits[:, 2], official2.logits[:, 2])


def test_training_alignment_matches_acting() -> None:
    # Acting feeds (z_{t-1}, a_{t-1}); training must see exactly the same pairs (B1 fix).
    # obs_step returns the real state: the posterior with the entropy input's (prior) logits.
    model = _model()
    batch = _batch()
    with torch.no_grad():
        post, prior = model.observe(batch, sample=False)
        state, prev_action, steps = model.initial(B), torch.zeros(B, A), []
        for t in range(T):
            state = model.obs_step(state, prev_action, batch["obs"][:, t], batch["is_first"][:, t],
                                   sample=False)
            steps.append(state)
            prev_action = batch["action"][:, t]
    _close(dataclasses.replace(post, logits=prior.logits), Latent.stack(steps, 1))


def test_train_step_returns_finite_metrics() -> None:
    model = _model()
    post, prior, metrics = model.train_step(_batch())
    assert set(metrics) == METRICS | {"image_loss"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    assert metrics["dyn_loss"] >= 1.0 and metrics["rep_loss"] >= 1.0
    assert post.stoch.shape == (B, T, G * C) and prior.logits.shape == (B, T, G, C)
    assert not post.stoch.requires_grad and not prior.logits.requires_grad
    assert set(model.optimizers()) == {"world_model"}
    assert model.optimizers()["world_model"].updates == 1


def test_loss_decreases_on_a_fixed_batch() -> None:
    model = _model(lr=1e-3)
    batch = _batch(seed=1)
    first = model.train_step(batch)[2]
    for _ in range(29):
        last = model.train_step(batch)[2]
    assert last["loss"] < 0.8 * first["loss"], (first, last)
    assert last["image_loss"] < first["image_loss"] and last["reward_loss"] < first["reward_loss"]


def test_vector_world_model_trains() -> None:
    model = _model(VECTOR, lr=1e-3)
    assert model.embed(torch.randn(B, T, 5)).shape == (B, T, 16)
    batch = _batch(VECTOR)
    first = model.train_step(batch)[2]
    for _ in range(19):
        last = model.train_step(batch)[2]
    assert set(last) == METRICS | {"obs_loss"}
    assert last["obs_loss"] < first["obs_loss"]
    post, _ = model.observe(batch)
    assert model.decode(post).shape == (B, T, 5)


def test_predict_actor_input_and_decode() -> None:
    model = _model()
    with torch.no_grad():
        post, _ = model.observe(_batch())
        pred = model.predict(post)
        features = model.actor_input(post, pred)
        image = model.decode(post)
    assert {k: tuple(v.shape) for k, v in pred.items()} == {k: (B, T) for k in
                                                            ("reward", "cont", "entropy")}
    # Zero-initialised reward head predicts 0; probabilities and entropies are in range.
    torch.testing.assert_close(pred["reward"], torch.zeros(B, T), atol=1e-4, rtol=0)
    assert torch.all((pred["cont"] > 0) & (pred["cont"] < 1))
    assert torch.all((pred["entropy"] >= 0) & (pred["entropy"] <= G * math.log(C) + 1e-5))
    assert model.actor_input_dim == G * C + D + 3
    assert features.shape == (B, T, model.actor_input_dim)
    torch.testing.assert_close(features[..., :-3], post.feat())
    torch.testing.assert_close(features[..., -3:], symlog(torch.stack(
        [pred["reward"], pred["cont"], pred["entropy"]], -1)))
    assert image.shape == (B, T, S, S, 3) and image.min() >= 0 and image.max() <= 255


def test_start_states_use_prior_logits() -> None:
    model = _model()
    post, prior, _ = model.train_step(_batch())
    start = model.start_states(post, prior)
    assert start.stoch.shape == (B * T, G * C) and start.deter.shape == (B * T, D)
    torch.testing.assert_close(start.stoch, post.stoch.reshape(B * T, -1))
    torch.testing.assert_close(start.memory, post.memory.reshape(B * T, -1))
    torch.testing.assert_close(start.logits, prior.logits.reshape(B * T, G, C))
    assert not torch.allclose(start.logits, post.logits.reshape(B * T, G, C))
    imagined = model.img_step(start, torch.zeros(B * T, A))
    assert imagined.deter.shape == (B * T, D)


def test_gin_bindings_configure_the_world_model() -> None:
    gin.parse_config("\n".join([
        "WorldModel.sequence = @sequence.rssm", "WorldModel.entropy_input = @posterior_entropy",
        "sequence.rssm.deter_dim = 8", "sequence.rssm.hidden = 8",
        "sequence.rssm.stoch_groups = 2", "sequence.rssm.stoch_classes = 3",
        "WorldModel.cnn_depth = 2", "WorldModel.free_nats = 0.5", "WorldModel.head_units = 8",
    ]))
    model = configurable("WorldModel")(obs_space=IMAGE, num_actions=A)
    z = torch.zeros(1)
    post, prior = (Latent(stoch=z, logits=torch.full((1,), v), deter=z, memory=z) for v in (1, 2))
    assert model.entropy_input(post, prior) is posterior_entropy(post, prior) is post.logits
    assert model.free_nats == 0.5 and model.feat_dim == 2 * 3 + 8
    assert model.embed_dim == 2 * 2 * 4 * 4
