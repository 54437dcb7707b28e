"""Distributions: unimix sampling matches its probabilities; two-hot and symlog basics."""

from __future__ import annotations

import torch

from hieros_lab.nn.distributions import UnimixCategorical, symexp, symlog, two_hot


def test_unimix_samples_follow_the_probabilities():
    logits = torch.tensor([[2.0, 0.0, -1.0, -30.0]]).expand(40_000, 1, 4)
    dist = UnimixCategorical(logits, unimix=0.01)
    sample = dist.sample(torch.Generator().manual_seed(0))
    assert torch.equal(sample.sum(-1), torch.ones(40_000, 1))
    freq = sample.mean(0)[0]
    assert torch.allclose(freq, dist.probs[0, 0], atol=0.01)
    assert freq[3] > 0  # the uniform mix reaches even a -30 logit


def test_two_hot_expectation_is_the_value():
    bins = torch.linspace(-20, 20, 255)
    y = torch.tensor([-3.3, 0.0, 0.01, 7.5, 19.99])
    enc = two_hot(y, bins)
    assert torch.allclose(enc.sum(-1), torch.ones(5))
    assert ((enc > 0).sum(-1) <= 2).all()
    assert torch.allclose((enc * bins).sum(-1), y, atol=1e-5)
    assert torch.allclose(symexp(symlog(y)), y, atol=1e-5)
