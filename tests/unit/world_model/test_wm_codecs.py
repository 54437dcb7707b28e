"""Encoders and decoders of the world model (spec §2.4, §5.2, §7.3): shapes, scaling, sizes."""

from __future__ import annotations

import pytest
import torch

from hieros_lab.nn.distributions import symlog
from hieros_lab.nn.mlp import MLP
from hieros_lab.world_model.decoder import ConvDecoder, MLPDecoder
from hieros_lab.world_model.encoder import ConvEncoder, MLPEncoder


def _images(*lead: int, size: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (*lead, size, size, 3), generator=gen, dtype=torch.uint8)


@pytest.mark.parametrize(("size", "embed"), [(64, 32 * 4 * 4), (16, 8 * 4 * 4), (8, 4 * 4 * 4)])
def test_conv_encoder_shapes(size: int, embed: int) -> None:
    # depth 4: channels 4 -> 8 -> 16 -> 32, one stride-2 stage per halving down to 4x4.
    enc = ConvEncoder((size, size, 3), depth=4, min_res=4)
    assert enc.embed_dim == embed
    assert enc(_images(2, 3, size=size)).shape == (2, 3, embed)
    assert enc(_images(5, size=size)).shape == (5, embed)


@pytest.mark.parametrize("size", [64, 16])
def test_conv_decoder_shapes(size: int) -> None:
    dec = ConvDecoder(20, (size, size, 3), depth=4, min_res=4)
    out = dec(torch.randn(2, 3, 20))
    assert out.shape == (2, 3, size, size, 3) and out.dtype == torch.float32
    assert dec(torch.randn(4, 20)).shape == (4, size, size, 3)


def test_paper_sizes_match_the_authors_parameter_counts() -> None:
    # spec §2.4/§7.3: 64x64x3, depth 24 -> embed 3072; encoder 388,944 and decoder 4,323,795
    # parameters for feat 1280.
    enc = ConvEncoder((64, 64, 3), depth=24, min_res=4)
    dec = ConvDecoder(1280, (64, 64, 3), depth=24, min_res=4)
    assert enc.embed_dim == 3072
    assert [m.out_channels for m in enc.net if isinstance(m, torch.nn.Conv2d)] == [24, 48, 96, 192]
    assert sum(p.numel() for p in enc.parameters()) == 388_944
    assert sum(p.numel() for p in dec.parameters()) == 4_323_795
    assert dec.out.bias is not None
    assert all(m.bias is None for m in dec.hidden if isinstance(m, torch.nn.ConvTranspose2d))


def test_encoder_input_scaling_and_channels_last_equivalence() -> None:
    torch.manual_seed(0)
    fast = ConvEncoder((16, 16, 3), depth=4, channels_last=True)
    slow = ConvEncoder((16, 16, 3), depth=4, channels_last=False)
    slow.load_state_dict(fast.state_dict())
    obs = _images(3, size=16)
    torch.testing.assert_close(fast(obs), slow(obs), atol=1e-5, rtol=1e-5)
    # uint8 input is scaled to x/255 - 0.5 before the first conv.
    scaled = obs.permute(0, 3, 1, 2).float() / 255.0 - 0.5
    first = torch.nn.functional.conv2d(scaled, fast.net[0].weight, stride=2, padding=1)
    hooked = []
    handle = fast.net[0].register_forward_hook(lambda m, i, o: hooked.append(o))
    fast(obs)
    handle.remove()
    torch.testing.assert_close(hooked[0], first, atol=1e-5, rtol=1e-5)


def test_decoder_channels_last_equivalence() -> None:
    torch.manual_seed(1)
    fast = ConvDecoder(10, (16, 16, 3), depth=4, channels_last=True)
    slow = ConvDecoder(10, (16, 16, 3), depth=4, channels_last=False)
    slow.load_state_dict(fast.state_dict())
    feat = torch.randn(3, 10)
    torch.testing.assert_close(fast(feat), slow(feat), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", [(12, 12, 3), (16, 8, 3), (4, 4, 3)])
def test_conv_codecs_reject_bad_image_sizes(shape: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        ConvEncoder(shape, depth=4)
    with pytest.raises(ValueError):
        ConvDecoder(8, shape, depth=4)


def test_mlp_encoder_symlogs_inputs() -> None:
    torch.manual_seed(0)
    enc = MLPEncoder(5, units=16, layers=2)
    plain = MLP(5, None, units=16, layers=2)
    plain.load_state_dict(enc.net.state_dict())
    obs = 100.0 * torch.randn(2, 3, 5)
    out = enc(obs)
    assert out.shape == (2, 3, 16) and enc.embed_dim == 16
    torch.testing.assert_close(out, plain(symlog(obs)))


def test_mlp_decoder_shape() -> None:
    dec = MLPDecoder(20, 5, units=16, layers=2)
    assert dec(torch.randn(2, 3, 20)).shape == (2, 3, 5)
