"""The full-size model has exactly the published keys, shapes and parameter count (model-reference.md §1)."""

from __future__ import annotations

import pytest
import torch

from yume_bridge.model.args import ModelArgs, YumeArgs
from yume_bridge.model.dit import WanModel


def published_dit_shapes() -> dict[str, tuple[int, ...]]:
    """The key list of §1.3, written out from the fact sheet (independent of dit.py)."""
    d, ffn, text, freq = 3072, 14336, 4096, 256
    shapes: dict[str, tuple[int, ...]] = {
        "patch_embedding.weight": (d, 48, 1, 2, 2),
        "patch_embedding.bias": (d,),
        "text_embedding.0.weight": (d, text),
        "text_embedding.0.bias": (d,),
        "text_embedding.2.weight": (d, d),
        "text_embedding.2.bias": (d,),
        "time_embedding.0.weight": (d, freq),
        "time_embedding.0.bias": (d,),
        "time_embedding.2.weight": (d, d),
        "time_embedding.2.bias": (d,),
        "time_projection.1.weight": (6 * d, d),
        "time_projection.1.bias": (6 * d,),
        "head.modulation": (1, 2, d),
        "head.head.weight": (192, d),
        "head.head.bias": (192,),
        "patch_embedding_2x_f.weight": (48, 48, 1, 4, 4),
        "patch_embedding_2x_f.bias": (48,),
    }
    for factor, side in ((2, 4), (4, 8), (8, 16), (16, 32)):
        shapes[f"patch_embedding_{factor}x.weight"] = (d, 48, 1, side, side)
        shapes[f"patch_embedding_{factor}x.bias"] = (d,)
    for i in range(30):
        block = f"blocks.{i}"
        shapes[f"{block}.modulation"] = (1, 6, d)
        for attn in ("self_attn", "cross_attn"):
            for proj in "qkvo":
                shapes[f"{block}.{attn}.{proj}.weight"] = (d, d)
                shapes[f"{block}.{attn}.{proj}.bias"] = (d,)
            shapes[f"{block}.{attn}.norm_q.weight"] = (d,)
            shapes[f"{block}.{attn}.norm_k.weight"] = (d,)
        shapes[f"{block}.norm3.weight"] = (d,)
        shapes[f"{block}.norm3.bias"] = (d,)
        shapes[f"{block}.ffn.0.weight"] = (ffn, d)
        shapes[f"{block}.ffn.0.bias"] = (ffn,)
        shapes[f"{block}.ffn.2.weight"] = (d, ffn)
        shapes[f"{block}.ffn.2.bias"] = (d,)
    return shapes


@pytest.fixture(scope="module")
def full_size_state() -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        model = WanModel(YumeArgs.preset("yume-5b").dit)
    return model.state_dict()


def test_full_size_dit_has_exactly_the_published_keys_and_shapes(full_size_state):
    found = {key: tuple(value.shape) for key, value in full_size_state.items()}
    assert found == published_dit_shapes()


def test_full_size_dit_has_5_200_377_072_parameters(full_size_state):
    assert sum(value.numel() for value in full_size_state.values()) == 5_200_377_072


def test_rope_split_is_22_21_21_pairs_at_head_dim_128_and_generalises():
    assert YumeArgs.preset("yume-5b").dit.rope_pairs == (22, 21, 21)
    tiny = YumeArgs.preset("tiny").dit
    assert tiny.head_dim == 16
    assert tiny.rope_pairs == (4, 2, 2)
    for heads in (4, 8, 16, 32):
        args = ModelArgs(dim=heads * 24, num_heads=heads)
        assert sum(args.rope_pairs) == args.head_dim // 2


def test_published_config_json_round_trips_to_the_same_sizes():
    args = YumeArgs.preset("yume-5b").dit
    assert ModelArgs.from_config(args.to_config()) == args


def test_config_with_settings_this_model_lacks_is_refused_with_a_reason():
    config = YumeArgs.preset("yume-5b").dit.to_config()
    with pytest.raises(ValueError, match="qk_norm"):
        ModelArgs.from_config(config | {"qk_norm": False})
    with pytest.raises(ValueError, match="window_size"):
        ModelArgs.from_config(config | {"window_size": [1024, 1024]})


def test_chunk_is_8_latents_and_29_frames():
    args = YumeArgs.preset("yume-5b")
    assert args.predicted_latents == 8
    assert args.frames_per_chunk == 29
