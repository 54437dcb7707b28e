"""The ``entropy_input`` swap point: which distribution's entropy the actor sees at real states.

At imagined states only the prior exists; at real states (acting, and the imagination starts of
training) the world model has both, and :meth:`WorldModel.real_state` takes ``Latent.logits``
from the bound function (spec §2.4, §11.5).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from hieros_lab.registry import register
from hieros_lab.sequence.base import Latent

#: ``(post, prior) -> logits [*lead, G, C]`` whose entropy the actor sees at a real state.
EntropyInput = Callable[[Latent, Latent], torch.Tensor]


@register("entropy_input", "prior_entropy")
def prior_entropy(post: Latent, prior: Latent) -> torch.Tensor:
    """Paper: H(p(z|m)) at real states, as at imagined ones (the prior's logits)."""
    del post
    return prior.logits


@register("entropy_input", "posterior_entropy")
def posterior_entropy(post: Latent, prior: Latent) -> torch.Tensor:
    """Authors' code: H(q(z|o)) at real states (the posterior's logits; spec §2.4, §11.5)."""
    del prior
    return post.logits
