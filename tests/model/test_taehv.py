"""The tiny streaming decoder: the published taew2_2 key layout, strict loading, streaming = whole-clip decode."""

from __future__ import annotations

import pytest
import torch

from yume_bridge.model.taehv import (
    TinyDecoderError,
    TinyStreamingDecoder,
    load_tiny_decoder,
    taehv_decoder_shapes,
)
from yume_bridge.model.testing import write_tiny_decoder


@pytest.fixture(scope="module")
def tiny_decoder_file(tmp_path_factory):
    return write_tiny_decoder(tmp_path_factory.mktemp("taehv") / "taew2_2.pth")


@pytest.fixture(scope="module")
def decoder(tiny_decoder_file):
    return load_tiny_decoder(tiny_decoder_file)


def test_the_decoder_keys_follow_the_published_sequential_layout():
    shapes = taehv_decoder_shapes()
    # Written out from the published layer list: soft clamp (0), conv 48→256 (1), three memory blocks (3–5),
    # upsample, time upsample ×1 (7), conv 256→128 (8), …, time upsamples ×2 at 13 and 19, last conv at 22.
    assert shapes["decoder.1.weight"] == (256, 48, 3, 3)
    assert shapes["decoder.3.conv.0.weight"] == (256, 512, 3, 3)
    assert shapes["decoder.5.conv.4.bias"] == (256,)
    assert shapes["decoder.7.conv.weight"] == (256, 256, 1, 1)
    assert shapes["decoder.8.weight"] == (128, 256, 3, 3) and "decoder.8.bias" not in shapes
    assert shapes["decoder.13.conv.weight"] == (256, 128, 1, 1)
    assert shapes["decoder.19.conv.weight"] == (128, 64, 1, 1)
    assert shapes["decoder.22.weight"] == (12, 64, 3, 3)
    memory_blocks = {3, 4, 5, 9, 10, 11, 15, 16, 17}
    assert {int(k.split(".")[1]) for k in shapes if ".conv.0." in k} == memory_blocks
    assert len(shapes) == 2 + 9 * 6 + 3 + 3 + 2


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_a_file_in_the_published_layout_loads_strictly_and_ignores_the_encoder_half(tmp_path, suffix, decoder):
    path = write_tiny_decoder(tmp_path / f"taew2_2{suffix}")
    loaded = load_tiny_decoder(path)
    for key, value in decoder.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_a_renamed_or_missing_tensor_is_named_in_the_error(tmp_path, tiny_decoder_file):
    state = torch.load(tiny_decoder_file, weights_only=True)
    state["decoder.9.convs.0.weight"] = state.pop("decoder.9.conv.0.weight")
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(TinyDecoderError, match=r"missing tensor decoder\.9\.conv\.0\.weight.*unexpected tensor "
                                               r"decoder\.9\.convs\.0\.weight"):
        load_tiny_decoder(tmp_path / "bad.pth")


def test_a_wrongly_shaped_tensor_and_a_missing_file_are_refused_readably(tmp_path, tiny_decoder_file):
    state = torch.load(tiny_decoder_file, weights_only=True)
    state["decoder.1.weight"] = torch.zeros(256, 16, 3, 3)  # a 16-channel (Wan2.1) decoder
    torch.save(state, tmp_path / "taew2_1.pth")
    with pytest.raises(TinyDecoderError, match=r"decoder\.1\.weight has shape \[256, 16, 3, 3\]"):
        load_tiny_decoder(tmp_path / "taew2_1.pth")
    with pytest.raises(TinyDecoderError, match="does not exist"):
        load_tiny_decoder(tmp_path / "nothing.pth")


def test_a_wider_time_upsample_keeps_the_rows_of_its_last_frame(tmp_path, tiny_decoder_file):
    state = torch.load(tiny_decoder_file, weights_only=True)
    narrow = state["decoder.7.conv.weight"]
    state["decoder.7.conv.weight"] = torch.cat([torch.zeros_like(narrow), narrow])  # trained with stride 2
    torch.save(state, tmp_path / "wide.pth")
    torch.testing.assert_close(load_tiny_decoder(tmp_path / "wide.pth").decoder[7].conv.weight, narrow)


@torch.inference_mode()
def test_latent_by_latent_decode_yields_1_then_4_frames_and_equals_the_whole_clip_decode(decoder):
    latents = torch.randn(1, 48, 8, 4, 8, generator=torch.Generator().manual_seed(1))
    stream = TinyStreamingDecoder(decoder, latents)
    pieces = []
    while stream.remaining:
        pieces.append(stream.decode_next())
    assert [p.shape[2] for p in pieces] == [1, 4, 4, 4, 4, 4, 4, 4]
    streamed = torch.cat(pieces, dim=2)
    assert streamed.shape == (1, 3, 29, 64, 128)  # the full VAE's 4T − 3 frames at 16× the latent size
    torch.testing.assert_close(streamed, decoder.decode(latents), rtol=1e-5, atol=1e-5)
    assert streamed.min() >= -1 and streamed.max() <= 1 and streamed.std() > 0


@torch.inference_mode()
def test_each_frame_depends_only_on_its_own_and_earlier_latents(decoder):
    latents = torch.randn(2, 48, 6, 2, 3, generator=torch.Generator().manual_seed(2))
    changed = latents.clone()
    changed[:, :, 4] += 1.0
    before, after = decoder.decode(latents), decoder.decode(changed)
    frames_of_first_four = 1 + 4 * 3
    torch.testing.assert_close(after[:, :, :frames_of_first_four], before[:, :, :frames_of_first_four])
    assert not torch.allclose(after[:, :, frames_of_first_four:], before[:, :, frames_of_first_four:])
    # The batch is independent: the second clip alone decodes to the same frames.
    torch.testing.assert_close(decoder.decode(latents[1:]), before[1:], rtol=1e-5, atol=1e-5)
