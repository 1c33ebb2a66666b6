"""Each network can be loaded alone from a folder, and only needs its own files there."""

from __future__ import annotations

import pytest
import torch

from yume_bridge.model import layout
from yume_bridge.model.dit import DitOptions
from yume_bridge.model.loader import LoadError, LoadOptions, load_dit, load_text_encoder, load_vae

from .conftest import CPU_FP32


def test_the_dit_alone_equals_the_one_loaded_with_the_others(folder_copy, tiny_models):
    (folder_copy / layout.VAE).unlink()
    (folder_copy / layout.T5).unlink()
    dit = load_dit(folder_copy, CPU_FP32)
    mine, theirs = dit.state_dict(), tiny_models.dit.state_dict()
    assert set(mine) == set(theirs)
    assert all(torch.equal(mine[key], theirs[key]) for key in mine)


def test_the_dit_comes_with_the_speed_options_it_was_loaded_with(tiny_folder):
    options = LoadOptions(device="cpu", dtype=torch.float32, dit_options=DitOptions(rope_dtype=torch.float64))
    assert load_dit(tiny_folder, options).options.rope_dtype == torch.float64


def test_the_vae_alone_decodes_like_the_one_loaded_with_the_others(tiny_folder, tiny_models):
    vae = load_vae(tiny_folder, CPU_FP32)
    latent = torch.randn(1, 48, 2, 2, 4, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(vae.decode(latent), tiny_models.vae.decode(latent))


def test_the_text_encoder_alone_encodes_like_the_one_loaded_with_the_others(tiny_folder, tiny_models):
    encoder = load_text_encoder(tiny_folder, CPU_FP32)
    caption = "A medieval castle on a hill at sunset."
    torch.testing.assert_close(encoder.encode([caption])[0], tiny_models.text.encode([caption])[0])


def test_a_missing_file_of_the_component_asked_for_is_a_load_error(folder_copy):
    (folder_copy / layout.DIT).unlink()
    with pytest.raises(LoadError, match="diffusion_pytorch_model.safetensors is missing"):
        load_dit(folder_copy, CPU_FP32)
    load_vae(folder_copy, CPU_FP32)  # the other components do not need it
