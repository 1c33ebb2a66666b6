"""The Wan2.2 VAE through diffusers: key table, normalisation, frame counts, streaming decode (§3, §11)."""

from __future__ import annotations

import pytest
import torch

from yume_bridge.model.args import YumeArgs
from yume_bridge.model.vae import (
    LATENTS_MEAN,
    LATENTS_STD,
    YumeVAE,
    build_vae,
    convert_wan_vae_state_dict,
    wan_vae_shapes,
)


@pytest.mark.parametrize("preset", ["tiny", "yume-5b"])
def test_published_vae_keys_rename_onto_exactly_the_diffusers_keys_and_shapes(preset):
    args = YumeArgs.preset(preset).vae
    with torch.device("meta"):
        model = build_vae(args)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    renamed = {key: shape for key, shape in convert_wan_vae_state_dict(wan_vae_shapes(args)).items()}
    assert renamed == expected


def test_a_wan_format_vae_state_dict_loads_strictly_into_diffusers():
    args = YumeArgs.preset("tiny").vae
    wan_state = {key: torch.randn(shape) for key, shape in wan_vae_shapes(args).items()}
    model = build_vae(args)
    model.load_state_dict(convert_wan_vae_state_dict(wan_state), strict=True)
    torch.testing.assert_close(model.decoder.conv_in.weight, wan_state["decoder.conv1.weight"])
    torch.testing.assert_close(
        model.encoder.down_blocks[1].downsampler.time_conv.bias,
        wan_state[f"encoder.downsamples.1.downsamples.{args.num_res_blocks}.time_conv.bias"],
    )
    torch.testing.assert_close(
        model.decoder.up_blocks[0].resnets[2].norm2.gamma, wan_state["decoder.upsamples.0.upsamples.2.residual.3.gamma"]
    )


def test_the_48_latent_constants_normalise_and_invert(tiny_models):
    vae: YumeVAE = tiny_models.vae
    assert len(LATENTS_MEAN) == len(LATENTS_STD) == 48
    mu = torch.randn(1, 48, 2, 3, 4)
    z = vae.normalize(mu)
    expected = (mu[0, :, 0, 0, 0] - torch.tensor(LATENTS_MEAN)) / torch.tensor(LATENTS_STD)
    torch.testing.assert_close(z[0, :, 0, 0, 0], expected)
    torch.testing.assert_close(vae.denormalize(z), mu)


@torch.inference_mode()
def test_seventeen_frames_encode_to_five_latents(tiny_models):
    video = torch.rand(1, 3, 17, 64, 128) * 2 - 1
    assert tiny_models.vae.encode(video).shape == (1, 48, 5, 4, 8)


@torch.inference_mode()
def test_streaming_decode_yields_1_then_4_frames_per_latent_and_equals_whole_clip_decode(tiny_models):
    vae: YumeVAE = tiny_models.vae
    latents = torch.randn(1, 48, 8, 4, 8, generator=torch.Generator().manual_seed(0))
    pieces = list(vae.decode_stream(latents))
    assert [p.shape[2] for p in pieces] == [1, 4, 4, 4, 4, 4, 4, 4]
    streamed = torch.cat(pieces, dim=2)
    assert streamed.shape == (1, 3, 29, 64, 128)
    whole = vae.model.decode(vae.denormalize(latents)).sample  # diffusers' own whole-clip loop
    torch.testing.assert_close(streamed, whole)
    assert streamed.min() >= -1 and streamed.max() <= 1


@torch.inference_mode()
def test_padding_inside_the_convolutions_gives_diffusers_own_frames_and_latents(tiny_models):
    from diffusers import AutoencoderKLWan

    from yume_bridge.model.vae import InPlacePaddingCausalConv3d

    vae: YumeVAE = tiny_models.vae
    assert any(isinstance(m, InPlacePaddingCausalConv3d) for m in vae.model.modules())
    args = YumeArgs.preset("tiny").vae
    plain = AutoencoderKLWan(**args.diffusers_config()).eval()  # diffusers' modules untouched: F.pad copies
    plain.load_state_dict(vae.model.state_dict(), strict=True)
    latents = torch.randn(1, 48, 3, 4, 8, generator=torch.Generator().manual_seed(3))
    expected = plain.decode(vae.denormalize(latents)).sample.clamp(-1, 1)
    torch.testing.assert_close(vae.decode(latents), expected)
    video = torch.rand(1, 3, 5, 64, 128, generator=torch.Generator().manual_seed(4)) * 2 - 1
    torch.testing.assert_close(vae.encode(video), vae.normalize(plain.encode(video).latent_dist.mean))


@torch.inference_mode()
def test_channels_last_weights_decode_the_same_frames(tiny_models):
    import copy

    from yume_bridge.model.vae import use_channels_last

    vae: YumeVAE = tiny_models.vae
    latents = torch.randn(1, 48, 2, 4, 8, generator=torch.Generator().manual_seed(5))
    expected = vae.decode(latents)
    reordered = YumeVAE(copy.deepcopy(vae.model))
    use_channels_last(reordered)
    assert reordered.model.decoder.conv_in.weight.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(reordered.decode(latents), expected, rtol=1e-4, atol=1e-5)


# The Wan2.2 VAE's published per-channel constants (vae2_2.py of the reference code, as written down in the
# model notes to four decimals): an independent source for the values the VAE module carries.
PUBLISHED_MEAN = (
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891,
    0.1570, -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
    -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230, -0.0313, -0.1649, 0.0117, 0.0723,
    -0.2839, -0.2083, -0.0520, 0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667)
PUBLISHED_STD = (
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901,
    0.6885, 0.6165, 0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
    0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944,
    0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744)


def test_the_48_latent_constants_are_the_published_wan22_values():
    assert len(PUBLISHED_MEAN) == len(PUBLISHED_STD) == 48
    for index, (ours, published) in enumerate(zip(LATENTS_MEAN, PUBLISHED_MEAN, strict=True)):
        assert abs(ours - published) <= 5e-5, f"mean[{index}] is {ours}, published {published}"
    for index, (ours, published) in enumerate(zip(LATENTS_STD, PUBLISHED_STD, strict=True)):
        assert abs(ours - published) <= 5e-5, f"std[{index}] is {ours}, published {published}"
