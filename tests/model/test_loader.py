"""Loading the published folder layout: strict, memory-mapped, cast once, with progress (§6)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from yume_bridge.model import layout
from yume_bridge.model.loader import LoadError, LoadOptions, load_models

from .conftest import CPU_FP32


def test_the_fixture_loads_strictly_with_the_values_in_its_files(tiny_folder, tiny_models):
    stored = load_file(str(tiny_folder / layout.DIT))
    state = tiny_models.dit.state_dict()
    assert set(state) == set(stored)
    for key in ("blocks.1.self_attn.q.weight", "patch_embedding_2x_f.weight", "head.modulation"):
        torch.testing.assert_close(state[key], stored[key].float())
    vae_stored = torch.load(tiny_folder / layout.VAE, weights_only=True)
    torch.testing.assert_close(tiny_models.vae.model.post_quant_conv.weight, vae_stored["conv2.weight"])


def test_the_fixture_describes_its_tiny_sizes_in_config_json_and_the_sidecar(tiny_models):
    assert tiny_models.args.name == "tiny"
    assert tiny_models.args.dit.dim == 64
    assert tiny_models.args.vae.base_dim == 4
    assert tiny_models.args.text.dim == 32


def test_compute_dtype_is_cast_once_and_norms_and_modulation_stay_fp32(tiny_folder):
    models = load_models(tiny_folder, LoadOptions(device="cpu", dtype=torch.bfloat16, text_dtype=torch.float32))
    dit = models.dit
    assert dit.blocks[0].self_attn.q.weight.dtype == torch.bfloat16
    assert dit.blocks[0].ffn[0].weight.dtype == torch.bfloat16
    assert dit.blocks[0].modulation.dtype == torch.float32
    assert dit.blocks[0].self_attn.norm_q.weight.dtype == torch.float32
    assert dit.time_projection[1].weight.dtype == torch.float32
    assert dit.head.head.weight.dtype == torch.float32
    assert not any(p.is_meta for p in dit.parameters())


def test_loading_reports_progress_for_every_stage_up_to_one(tiny_folder):
    reports = []
    load_models(tiny_folder, CPU_FP32, lambda stage, fraction: reports.append((stage, fraction)))
    stages = [stage for stage, _ in reports]
    assert list(dict.fromkeys(stages)) == ["check", "dit", "vae", "text_encoder"]
    for stage in ("check", "dit", "vae", "text_encoder"):
        fractions = [f for s, f in reports if s == stage]
        assert fractions[-1] == 1.0
        assert fractions == sorted(fractions)


def test_training_only_sideblock_and_mask_token_tensors_are_ignored(folder_copy):
    path = folder_copy / layout.DIT
    state = load_file(str(path))
    state["sideblock.0.weight"] = torch.zeros(3, 3)
    state["mask_token"] = torch.zeros(1, 1, 64)
    save_file(state, str(path))
    models = load_models(folder_copy, CPU_FP32)
    assert not hasattr(models.dit, "sideblock")


def test_a_bad_folder_raises_a_load_error_with_one_line_per_problem(folder_copy):
    (folder_copy / layout.VAE).unlink()
    with pytest.raises(LoadError) as info:
        load_models(folder_copy, CPU_FP32)
    assert info.value.problems == ["Wan2.2_VAE.pth is missing"]
    assert "Wan2.2_VAE.pth is missing" in str(info.value)
