"""The world model of one level: encoder -> sequence model -> decoder, reward and continue heads.

Spec §2.3-§2.5. The sequence model is the swap point (kind ``sequence``: S5WM, RSSM); encoder and
decoder follow the observation space (CNN for uint8 images, symlog MLP for vectors).

Replay batches are dicts of ``[B, T, ...]`` tensors where ``action[:, t]`` is the action chosen
*after* seeing ``obs[:, t]``. :func:`shift_actions` turns them into the ``prev_action`` the
sequence model expects, which is the correct alignment (fix of bug B1, spec §2.3/§9).

Real states and the actor's entropy input. The actor input carries the entropy of a latent
distribution (spec §2.4). At imagined states that is the prior's. At *real* states (acting, and
the imagination starts of training) the world model has a posterior and a prior, and
:meth:`WorldModel.real_state` is the one definition both paths use: it keeps the posterior's z
and h and takes ``Latent.logits`` from the bound ``entropy_input`` (kind ``entropy_input``):
``prior_entropy`` (the paper's H(p(z|m)), default) or ``posterior_entropy`` (the authors' code).

Acting context (``act_context``). By default (0, the spec) acting carries the sequence model's
state through the episode; ``act_context = T`` instead re-observes the last T real steps from the
initial state at every step, as training observes its replay windows
(:mod:`hieros_lab.world_model.acting_window` has the measurements behind the option).

Modes. The world model is in eval mode except while its loss is computed (dropout off in
imagination, acting and evaluation; spec §1.5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import gin
import gymnasium as gym
import torch
from torch import nn

from hieros_lab.envs.base import is_image_space
from hieros_lab.nn import compiled
from hieros_lab.nn.distributions import symexp, symlog
from hieros_lab.nn.modes import training
from hieros_lab.nn.optim import Optimizer
from hieros_lab.sequence.base import Latent, SequenceModel
from hieros_lab.world_model import losses
from hieros_lab.world_model.acting_window import ActingWindow
from hieros_lab.world_model.decoder import ConvDecoder, MLPDecoder
from hieros_lab.world_model.encoder import ConvEncoder, MLPEncoder
from hieros_lab.world_model.entropy import EntropyInput
from hieros_lab.world_model.heads import ContinueHead, RewardHead

Batch = dict[str, torch.Tensor]
def shift_actions(action: torch.Tensor, is_first: torch.Tensor) -> torch.Tensor:
    """``action [B, T, A]`` (a_t chosen after o_t) -> ``prev_action [B, T, A]``.

    prev_action[:, t] = action[:, t-1], prev_action[:, 0] = 0, and 0 where ``is_first [B, T]``
    (the action before an episode's first observation belongs to the previous episode).
    """
    prev = torch.cat([torch.zeros_like(action[:, :1]), action[:, :-1]], 1)
    return prev * (~is_first.bool()).unsqueeze(-1).to(prev.dtype)


def latent_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the ``G`` categoricals of ``logits [*lead, G, C]``, summed -> ``[*lead]``.

    Normalises with log_softmax, so for a deterministic latent (raw logits, spec §8 ``no_stoch``)
    it is the entropy of softmax(logits): finite, and the actor's entropy input in that mode.
    """
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp).sum((-2, -1))


@gin.register
class WorldModel(nn.Module):
    """Encoder, sequence model, decoder and heads, trained with one optimiser (spec §2.5, §7.1).

    Args:
        obs_space: uint8 ``(H, W, C)`` image Box (CNN) or float ``(D,)`` vector Box (MLP).
        num_actions: A, size of the one-hot action.
        sequence: factory of the sequence model, called as ``sequence(embed_dim=E, action_dim=A)``.
        entropy_input: which distribution's entropy the actor sees at real states.
        cnn_depth, min_res: CNN width and final resolution (24, 4 -> embed 3072 at 64x64).
        mlp_units, mlp_layers: vector encoder/decoder width and depth.
        head_units, head_layers, reward_bins: reward/continue head sizes.
        kl_dyn, kl_rep, free_nats: KL balancing scales and free bits (0.5, 0.1, 1.0).
        lr, eps, clip, warmup, weight_decay: optimiser (spec §7.1).
        act_context: 0 (spec) carries the acting state through the episode; T > 0 re-observes
            the last T real steps from the initial state at every acting step (module doc).
    """

    def __init__(self, obs_space: gym.spaces.Box, num_actions: int,
                 sequence: Callable[..., SequenceModel], entropy_input: EntropyInput,
                 cnn_depth: int = 24, min_res: int = 4,
                 mlp_units: int = 512, mlp_layers: int = 2, head_units: int = 256,
                 head_layers: int = 2, reward_bins: int = 255, kl_dyn: float = 0.5,
                 kl_rep: float = 0.1, free_nats: float = 1.0, lr: float = 1e-4,
                 eps: float = 1e-8, clip: float = 1000.0, warmup: int = 1000,
                 weight_decay: float = 0.0, act_context: int = 0) -> None:
        super().__init__()
        if act_context < 0:
            raise ValueError(f"WorldModel.act_context must be >= 0 (0 = carry the state), got "
                             f"{act_context}")
        self.act_context = act_context
        self.image = is_image_space(obs_space)
        self.obs_shape = tuple(obs_space.shape)
        self.num_actions = num_actions
        if self.image:
            self.encoder: nn.Module = ConvEncoder(self.obs_shape, cnn_depth, min_res)
        else:
            self.encoder = MLPEncoder(self.obs_shape[0], mlp_units, mlp_layers)
        self.sequence = sequence(embed_dim=self.encoder.embed_dim, action_dim=num_actions)
        feat_dim = self.sequence.feat_dim
        if self.image:
            self.decoder: nn.Module = ConvDecoder(feat_dim, self.obs_shape, cnn_depth, min_res)
        else:
            self.decoder = MLPDecoder(feat_dim, self.obs_shape[0], mlp_units, mlp_layers)
        self.reward = RewardHead(feat_dim, head_units, head_layers, reward_bins)
        self.cont = ContinueHead(feat_dim, head_units, head_layers)
        self.kl_dyn, self.kl_rep, self.free_nats = kl_dyn, kl_rep, free_nats
        self.entropy_input = entropy_input
        self._opt = Optimizer(self.parameters(), lr=lr, eps=eps, clip=clip, warmup=warmup,
                              weight_decay=weight_decay)
        self.set_compile("off")
        self.eval()  # train mode only inside its own loss (DESIGN §8)

    def optimizers(self) -> dict[str, Optimizer]:
        return {"world_model": self._opt}

    @property
    def embed_dim(self) -> int:
        return self.encoder.embed_dim

    @property
    def feat_dim(self) -> int:
        return self.sequence.feat_dim

    @property
    def actor_input_dim(self) -> int:
        """feat_dim + 3 (symlog reward, continue and entropy, spec §2.4)."""
        return self.sequence.feat_dim + 3

    # ----------------------------------------------------------------------------- training
    def embed(self, obs: torch.Tensor) -> torch.Tensor:
        """``[*lead, H, W, C]`` uint8 (or ``[*lead, D]`` float) -> ``[*lead, E]``."""
        return self.encoder(obs)

    def observe(self, batch: Batch, sample: bool = True) -> tuple[Latent, Latent]:
        """Posterior and prior ``[B, T]`` of a replay batch, with shifted actions (B1 fix)."""
        is_first = batch["is_first"].bool()
        embed = self.embed(batch["obs"])
        prev_action = shift_actions(batch["action"].to(embed.dtype), is_first)
        return self.sequence.observe(embed, prev_action, is_first, None, sample)

    def loss(self, batch: Batch) -> tuple[torch.Tensor, Latent, Latent, dict[str, float]]:
        """Total loss (spec §2.5), ``post``/``prior`` ``[B, T]`` and metrics (no grad_norm/lr)."""
        total, post, prior, metrics = self._loss_terms(batch)
        # One device->host transfer for all metrics, outside the (possibly compiled) terms.
        values = torch.stack(list(metrics.values())).tolist()
        return total, post, prior, dict(zip(metrics, values, strict=True))

    def loss_terms(self, batch: Batch
                   ) -> tuple[torch.Tensor, Latent, Latent, dict[str, torch.Tensor]]:
        """:meth:`loss` with its metrics as detached float32 scalars on the device: tensors in,
        tensors out, what ``Trainer.compile`` compiles (:mod:`hieros_lab.nn.compiled`)."""
        post, prior = self.observe(batch)
        feat = post.feat()
        pred = self.decoder(feat)
        if self.image:
            obs_key, obs_term = "image_loss", losses.image_loss(pred, batch["obs"])
        else:
            obs_key, obs_term = "obs_loss", losses.vector_loss(pred, batch["obs"])
        rew = losses.reward_loss(self.reward(feat), batch["reward"])
        cont = losses.cont_loss(self.cont(feat), batch["is_terminal"])
        # no_stoch (spec §2.5, §8): deterministic latents get logit squared errors; "kl" then
        # reports that error.
        balance = losses.kl_balance if self.sequence.stochastic else losses.logit_mse_balance
        dyn, rep, kl = balance(post.logits, prior.logits, self.free_nats)
        total = obs_term + rew + cont + self.kl_dyn * dyn + self.kl_rep * rep
        with torch.no_grad():
            metrics = {
                "loss": total, obs_key: obs_term, "reward_loss": rew, "cont_loss": cont,
                "dyn_loss": dyn, "rep_loss": rep, "kl": kl.mean(),
                "post_entropy": latent_entropy(post.logits).mean(),
                "prior_entropy": latent_entropy(prior.logits).mean(),
            }
        return total, post, prior, {k: v.detach().float() for k, v in metrics.items()}

    def set_compile(self, mode: str) -> None:
        """Run :meth:`loss_terms` through ``torch.compile`` in ``mode`` (``off``: eager)."""
        self._loss_terms = compiled.compile_fn(self.loss_terms, mode)

    def train_step(self, batch: Batch) -> tuple[Latent, Latent, dict[str, float]]:
        """One optimiser step on ``batch``; returns detached ``post``, ``prior`` ``[B, T]``."""
        with training(self):
            total, post, prior, metrics = self.loss(batch)
        metrics.update(self._opt.step(total))
        return post.detach(), prior.detach(), metrics

    def real_state(self, post: Latent, prior: Latent) -> Latent:
        """The state of a real (observed) step, ``[*lead]``: the posterior's z, h and memory with
        ``logits`` from ``entropy_input`` (the actor's entropy input; see the module doc)."""
        return dataclasses.replace(post, logits=self.entropy_input(post, prior))

    def start_states(self, post: Latent, prior: Latent) -> Latent:
        """Imagination starts ``[N = B*T]``: the detached :meth:`real_state` of every position."""
        return self.real_state(post.detach(), prior.detach()).flatten(2)

    # ----------------------------------------------------------------------------- acting
    def initial(self, batch: int) -> Latent:
        """Initial state ``[batch]`` of the sequence model."""
        return self.sequence.initial(batch)

    def obs_step(self, state: Latent, prev_action: torch.Tensor, obs: torch.Tensor,
                 is_first: torch.Tensor, sample: bool = True) -> Latent:
        """:meth:`real_state` ``[B]`` after ``obs [B, ...]`` given ``state [B]``, ``prev_action
        [B, A]``, ``is_first [B]`` (state reset and action zeroed there)."""
        embed = self.embed(obs)
        post, prior = self.sequence.obs_step(state, prev_action.to(embed.dtype), embed,
                                             is_first.bool(), sample)
        return self.real_state(post, prior)

    def empty_window(self, batch: int) -> ActingWindow | None:
        """The acting window of a new stream ``[batch, 0]``; None when acting carries its state
        (``act_context = 0``)."""
        if self.act_context == 0:
            return None
        device = next(self.parameters()).device
        return ActingWindow.empty(batch, self.embed_dim, self.num_actions, device)

    def window_step(self, window: ActingWindow, prev_action: torch.Tensor, obs: torch.Tensor,
                    is_first: torch.Tensor, sample: bool = True) -> tuple[Latent, ActingWindow]:
        """:meth:`real_state` ``[B]`` after ``obs [B, ...]``, from the last ``act_context``
        steps of ``window`` and this one observed from the initial state; and the new window.

        ``prev_action [B, A]`` and ``is_first [B]`` as in :meth:`obs_step`.
        """
        window = window.push(self.embed(obs), prev_action, is_first, self.act_context)
        embed, actions, firsts = window.as_context()
        post, prior = self.sequence.observe(embed, actions.to(embed.dtype), firsts, None, sample)
        last = lambda t: t[:, -1]  # noqa: E731
        return self.real_state(post.map(last), prior.map(last)), window

    def img_step(self, state: Latent, prev_action: torch.Tensor, sample: bool = True) -> Latent:
        """Prior ``[N]`` one step after ``state [N]`` with ``prev_action [N, A]``."""
        return self.sequence.img_step(state, prev_action, sample)

    # ----------------------------------------------------------------------------- predictions
    def predict(self, latent: Latent) -> dict[str, torch.Tensor]:
        """``reward``, ``cont`` (probability), ``entropy`` of ``latent.logits``; each ``[*lead]``.

        Computed with gradients; callers that only read them wrap the call in ``no_grad``.
        """
        feat = latent.feat()
        return {"reward": self.reward(feat).mean(),
                "cont": torch.sigmoid(self.cont(feat)),
                "entropy": latent_entropy(latent.logits)}

    def actor_input(self, latent: Latent, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """``[*lead, feat_dim + 3]`` = [z ; h ; symlog(r) ; symlog(c) ; symlog(H)] (spec §2.4)."""
        extras = torch.stack([pred["reward"], pred["cont"], pred["entropy"]], -1)
        return torch.cat([latent.feat(), symlog(extras)], -1)

    def decode(self, latent: Latent) -> torch.Tensor:
        """Reconstruction ``[*lead, H, W, C]`` in [0, 255] (float) or raw vector ``[*lead, D]``."""
        return self.decode_feat(latent.feat())

    def decode_feat(self, feat: torch.Tensor) -> torch.Tensor:
        """:meth:`decode` from features ``[*lead, G*C + D]`` (e.g. a decoded subgoal's)."""
        pred = self.decoder(feat)
        if self.image:
            return ((pred + 0.5) * 255.0).clamp(0.0, 255.0)
        return symexp(pred)
