"""Subgoal autoencoder invariants (spec §5.3, §12.19) and its B13 fixes."""

from __future__ import annotations

import gin
import pytest
import torch

from hieros_lab.config import configurable
from hieros_lab.hierarchy.subgoals import SubgoalAutoencoder, kl_to_uniform


@pytest.fixture(autouse=True)
def _clear_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def _ae(seed=0, **kwargs):
    torch.manual_seed(seed)
    defaults = dict(deter_dim=16, code_groups=4, code_classes=5, units=32)
    defaults.update(kwargs)
    return SubgoalAutoencoder(**defaults)


@pytest.mark.parametrize("sample", [True, False])
def test_code_has_exactly_one_one_per_group(sample):
    ae = _ae()
    h = 3.0 * torch.randn(2, 7, 16)
    code = ae.encode(h, sample=sample)
    assert code.shape == (2, 7, 20) and ae.code_dim == 20
    groups = code.detach().unflatten(-1, (4, 5))
    assert torch.equal(groups.sum(-1), torch.ones(2, 7, 4))
    assert set(groups.unique().tolist()) == {0.0, 1.0}


def test_paper_default_code_is_8x8_and_decoder_width_is_the_deter():
    ae = SubgoalAutoencoder(deter_dim=24)
    assert ae.code_dim == 64
    assert ae.decoder.hidden[0].out_features == 24 and ae.encoder.hidden[0].out_features == 64
    code = ae.encode(torch.randn(5, 24), sample=False)
    assert ae.decode(code).shape == (5, 24)


def test_mode_is_argmax_and_sample_varies():
    ae = _ae()
    h = torch.randn(64, 16)
    logits = ae.encoder(h).unflatten(-1, (4, 5))
    mode = ae.encode(h, sample=False).detach().unflatten(-1, (4, 5))
    assert torch.equal(mode.argmax(-1), logits.argmax(-1))
    torch.manual_seed(1)
    samples = [ae.encode(h, sample=True).detach() for _ in range(3)]
    assert not torch.equal(samples[0], samples[1]) or not torch.equal(samples[1], samples[2])


def test_straight_through_gradient_reaches_the_encoder():
    ae = _ae()
    out = ae.decode(ae.encode(torch.randn(8, 16), sample=True)).sum()
    out.backward()
    assert ae.encoder.out.weight.grad is not None and ae.encoder.out.weight.grad.abs().sum() > 0


def test_output_layers_let_the_reconstruction_go_below_gelu_minimum():
    """B13 fix: a Linear output, so components below GELU's minimum (≈ -0.17) are reachable."""
    ae = _ae()
    with torch.no_grad():
        ae.decoder.out.bias.fill_(-2.0)
    assert (ae.decode(ae.encode(torch.randn(4, 16), sample=False)) < -0.5).any()


def test_kl_to_uniform_is_nonnegative_and_zero_only_at_uniform():
    uniform = torch.full((3, 4, 5), 0.2)
    assert torch.allclose(kl_to_uniform(uniform), torch.zeros(3, 4), atol=1e-6)
    probs = torch.softmax(torch.randn(3, 4, 5) * 3, -1)
    kl = kl_to_uniform(probs)
    assert (kl > 1e-4).all()
    onehot = torch.nn.functional.one_hot(torch.zeros(2, 1, dtype=torch.long), 5).float()
    assert torch.allclose(kl_to_uniform(onehot), torch.full((2, 1), torch.log(torch.tensor(5.0))))


def test_loss_metrics_and_kl_is_zero_for_a_uniform_encoder():
    ae = _ae()
    with torch.no_grad():  # constant logits: q is uniform for every input
        ae.encoder.out.weight.zero_()
        ae.encoder.out.bias.zero_()
    _, metrics = ae.loss(torch.randn(10, 16))
    assert metrics["kl"] == pytest.approx(0.0, abs=1e-6)
    ae2 = _ae(seed=3)
    with torch.no_grad():
        ae2.encoder.out.weight.mul_(20.0)
    loss, metrics = ae2.loss(torch.randn(10, 16))
    assert metrics["kl"] > 0.05
    expected = metrics["recon_loss"] + 0.5 * metrics["kl"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)


def test_loss_decreases_on_a_fixed_dataset():
    ae = _ae(lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    data = torch.randn(8, 16, generator=gen).repeat(16, 1)  # 8 distinct states, 128 rows
    torch.manual_seed(0)
    losses = [ae.train_step(data) for _ in range(150)]
    first = sum(m["loss"] for m in losses[:5]) / 5
    last = sum(m["loss"] for m in losses[-5:]) / 5
    assert last < 0.7 * first
    assert set(losses[-1]) == {"loss", "grad_norm", "recon_loss", "kl"}


def test_train_step_uses_its_own_optimizer_and_flattens_leading_dims():
    ae = _ae()
    assert list(ae.optimizers()) == ["subgoal_autoencoder"]
    before = [p.clone() for p in ae.parameters()]
    ae.train_step(torch.randn(3, 5, 16))
    assert ae.optimizers()["subgoal_autoencoder"].updates == 1
    assert all(not torch.equal(a, b) for a, b in zip(before, ae.parameters(), strict=True)
               if a.dim() > 1)


@pytest.mark.parametrize("binding, value", [("code_groups", 0), ("code_classes", 1),
                                            ("units", 0), ("deter_dim", 0)])
def test_bad_shapes_name_the_binding(binding, value):
    with pytest.raises(ValueError, match=f"SubgoalAutoencoder.{binding}"):
        _ae(**{binding: value})


def test_wrong_widths_are_rejected():
    ae = _ae()
    with pytest.raises(ValueError, match="input width"):
        ae.encode(torch.randn(2, 15), sample=False)
    with pytest.raises(ValueError, match="code width"):
        ae.decode(torch.zeros(2, 19))


def test_gin_bindings_apply():
    gin.parse_config("SubgoalAutoencoder.code_groups = 2\nSubgoalAutoencoder.code_classes = 3")
    # A registered part: the gin-configured wrapper applies bindings, the plain class does not.
    assert SubgoalAutoencoder(deter_dim=8).code_dim != 6
    ae = configurable("SubgoalAutoencoder")(deter_dim=8)
    assert ae.code_dim == 6
