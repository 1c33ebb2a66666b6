"""check_weights reads headers only and explains each problem in one line."""

from __future__ import annotations

import shutil

import torch
from safetensors.torch import load_file, save_file

from yume_bridge.model import layout
from yume_bridge.model.checkweights import check_weights, read_safetensors_index, read_torch_zip_index


def test_the_fixture_folder_passes(tiny_folder):
    assert check_weights(tiny_folder) == []


def test_a_missing_file_is_one_line(folder_copy):
    (folder_copy / layout.T5).unlink()
    assert check_weights(folder_copy) == ["models_t5_umt5-xxl-enc-bf16.pth is missing"]


def test_a_missing_tokenizer_folder_is_one_line(folder_copy):
    shutil.rmtree(folder_copy / layout.TOKENIZER)
    assert check_weights(folder_copy) == ["google/umt5-xxl/ is missing (the umT5 tokenizer folder)"]


def test_a_renamed_dit_key_is_one_line_naming_both(folder_copy):
    path = folder_copy / layout.DIT
    state = load_file(str(path))
    state["blocks.0.self_attn.query.weight"] = state.pop("blocks.0.self_attn.q.weight")
    save_file(state, str(path))
    assert check_weights(folder_copy) == [
        f"{layout.DIT}: tensor blocks.0.self_attn.query.weight should be named blocks.0.self_attn.q.weight"
    ]


def test_a_renamed_vae_key_is_one_line_naming_both(folder_copy):
    path = folder_copy / layout.VAE
    state = torch.load(path, weights_only=True)
    state["decoder.head.2.kernel"] = state.pop("decoder.head.2.weight")
    torch.save(state, path)
    expected = f"{layout.VAE}: tensor decoder.head.2.kernel should be named decoder.head.2.weight"
    assert check_weights(folder_copy) == [expected]


def test_a_wrong_shape_is_one_line_with_both_shapes(folder_copy):
    path = folder_copy / layout.DIT
    state = load_file(str(path))
    state["blocks.1.ffn.0.weight"] = torch.zeros(127, 64, dtype=torch.bfloat16)
    save_file(state, str(path))
    expected = f"{layout.DIT}: blocks.1.ffn.0.weight has shape [127, 64], expected [128, 64]"
    assert check_weights(folder_copy) == [expected]


def test_a_truncated_safetensors_file_is_one_line(folder_copy):
    path = folder_copy / layout.DIT
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    problems = check_weights(folder_copy)
    assert len(problems) == 1
    assert problems[0].startswith(f"{layout.DIT} is truncated: its header describes {len(data):,} bytes")


def test_a_truncated_pth_file_is_one_line(folder_copy):
    path = folder_copy / layout.VAE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    problems = check_weights(folder_copy)
    assert problems == [f"{layout.VAE} is truncated or not a torch zip archive (no zip directory at its end)"]


def test_a_wrong_dtype_is_one_line(folder_copy):
    path = folder_copy / layout.DIT
    state = load_file(str(path))
    state["head.head.bias"] = state["head.head.bias"].to(torch.int64)
    save_file(state, str(path))
    assert check_weights(folder_copy) == [f"{layout.DIT}: head.head.bias has dtype I64, expected BF16/F16/F32"]


def test_an_unreadable_config_is_reported_and_tensors_are_still_checked(folder_copy):
    (folder_copy / layout.CONFIG).write_text("{not json", "utf-8")
    problems = check_weights(folder_copy)
    assert problems[0].startswith("config.json is not readable JSON")
    assert any("has shape" in line for line in problems[1:])  # compared against the full-size defaults


def test_indexes_read_shapes_and_dtypes_without_loading(tiny_folder):
    dit = read_safetensors_index(tiny_folder / layout.DIT)
    assert dit["patch_embedding_16x.weight"].shape == (64, 48, 1, 32, 32)
    assert dit["patch_embedding_16x.weight"].dtype == "BF16"
    t5 = read_torch_zip_index(tiny_folder / layout.T5)
    assert t5["token_embedding.weight"].shape == (256, 32)
    assert t5["token_embedding.weight"].dtype == "BF16"
    vae = read_torch_zip_index(tiny_folder / layout.VAE)
    assert vae["conv1.weight"].dtype == "F32"


def test_a_tiny_decoder_in_the_folder_is_checked_by_the_command(folder_copy):
    from click.testing import CliRunner

    from yume_bridge.cli import main
    from yume_bridge.model.testing import write_tiny_decoder

    path = write_tiny_decoder(folder_copy / "taew2_2.pth")
    runner = CliRunner()
    assert runner.invoke(main, ["check-weights", str(folder_copy)]).exit_code == 0
    state = torch.load(path, weights_only=True)
    del state["decoder.22.bias"]
    torch.save(state, path)
    result = runner.invoke(main, ["check-weights", str(folder_copy)])
    assert result.exit_code == 1
    assert "taew2_2.pth: missing tensor decoder.22.bias [12]" in result.output


def test_a_tiny_decoder_file_is_checked_from_its_header_alone(tmp_path, tiny_folder):
    from yume_bridge.model.testing import write_tiny_decoder

    good = write_tiny_decoder(tmp_path / "taew2_2.safetensors")
    assert check_weights(tiny_folder, tiny_decoder=good) == []
    state = load_file(str(good))
    state["decoder.1.weight"] = state["decoder.1.weight"][:, :16].contiguous()
    save_file(state, str(good))
    assert check_weights(tiny_folder, tiny_decoder=good) == [
        "taew2_2.safetensors: decoder.1.weight has shape [256, 16, 3, 3], expected [256, 48, 3, 3]"
    ]
