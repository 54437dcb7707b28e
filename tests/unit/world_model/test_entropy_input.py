"""One definition of the actor input at real states (issue 7 defect 2, DESIGN §8): the actor
sees the same input for a latent whether it is an imagination start (training) or the state it
acts from (acting), with the paper's prior entropy by default and the authors' posterior
entropy as the named variant ``posterior_entropy``."""

from __future__ import annotations

import pytest
import torch

from hieros_lab import config
from hieros_lab.world_model.world_model import latent_entropy


@pytest.fixture
def level(build_agent):
    """``(*bindings) -> Level``: level 0 of the debug agent."""
    return lambda *bindings: build_agent(*bindings)[0].levels[0]


def _batch(b: int = 2, t: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    is_first = torch.zeros(b, t, dtype=torch.bool)
    is_first[:, 0] = True
    return {"obs": torch.randint(0, 256, (b, t, 16, 16, 3), generator=gen, dtype=torch.uint8),
            "action": torch.nn.functional.one_hot(torch.randint(0, 3, (b, t), generator=gen),
                                                  3).float(),
            "reward": torch.zeros(b, t), "is_first": is_first,
            "is_last": torch.zeros(b, t, dtype=torch.bool),
            "is_terminal": torch.zeros(b, t, dtype=torch.bool)}


@pytest.mark.parametrize("variant", ["prior_entropy", "posterior_entropy"])
def test_training_starts_and_acting_give_the_same_actor_input(level, variant):
    level = level(f"WorldModel.entropy_input = @{variant}")
    wm, batch = level.world_model, _batch()
    b, t = batch["is_first"].shape
    with torch.no_grad():
        post, prior = wm.observe(batch, sample=False)
        start = wm.start_states(post, prior)  # [B*T]
        training_input = wm.actor_input(start, wm.predict(start)).unflatten(0, (b, t))
        state = level.initial_policy_state(b, torch.device("cpu"))
        for step in range(t):
            prev = torch.zeros(b, 3) if step == 0 else batch["action"][:, step - 1]
            latent = wm.obs_step(state.latent, prev, batch["obs"][:, step],
                                 batch["is_first"][:, step], sample=False)
            acting_input = wm.actor_input(latent, wm.predict(latent))
            torch.testing.assert_close(acting_input, training_input[:, step], atol=1e-4, rtol=0)
            state = type(state)(latent, batch["action"][:, step])


@pytest.mark.parametrize(("variant", "which"), [("prior_entropy", 1), ("posterior_entropy", 0)])
def test_the_entropy_input_is_the_named_distributions(level, variant, which):
    level = level(f"WorldModel.entropy_input = @{variant}")
    wm = level.world_model
    with torch.no_grad():
        post, prior = wm.observe(_batch(), sample=False)
        start = wm.start_states(post, prior)
        pred = wm.predict(start)
    expected = latent_entropy((post, prior)[which].logits).flatten()
    torch.testing.assert_close(pred["entropy"], expected)
    assert not torch.allclose(latent_entropy(post.logits), latent_entropy(prior.logits))


def test_presets_choose_paper_and_authors_entropy():
    config.parse(["presets/hieros.gin"], finalize=False)
    assert "prior_entropy" in str(config.query("WorldModel.entropy_input"))
    config.parse(["presets/hieros_official.gin"], finalize=False)
    assert "posterior_entropy" in str(config.query("WorldModel.entropy_input"))
