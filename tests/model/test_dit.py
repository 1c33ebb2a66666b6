"""The DiT's TSCM forward: joint sequence, per-token timesteps, padding, RoPE, SDPA (model-reference.md §1–2)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from yume_bridge.model.args import YumeArgs
from yume_bridge.model.dit import WanModel, apply_rope, rope_angles, sinusoidal_embedding
from yume_bridge.model.tscm import history_token_count

ARGS = YumeArgs.preset("tiny").dit
LATENT = (8, 4, 8)  # predicted frames, latent height, latent width → 8 × 2 × 4 tokens


@pytest.fixture(scope="module")
def model() -> WanModel:
    torch.manual_seed(0)
    return WanModel(ARGS).eval()


def text(seed: int = 0) -> torch.Tensor:
    return torch.randn(1, ARGS.text_len, ARGS.text_dim, generator=torch.Generator().manual_seed(seed))


def latents(frames: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(1, ARGS.in_dim, frames, 4, 8, generator=torch.Generator().manual_seed(seed))


@torch.inference_mode()
@pytest.mark.parametrize("history", [0, 1, 5, 30])
def test_only_the_predicted_latents_come_back(model, history):
    inputs = model.prepare(text(), LATENT, latents(history) if history else None)
    out = model(latents(8, seed=2), torch.tensor([875.0]), inputs)
    assert out.shape == (1, ARGS.out_dim, *LATENT)
    assert out.dtype == torch.float32


@torch.inference_mode()
def test_history_and_predicted_tokens_go_through_the_blocks_as_one_sequence(model):
    seen = []
    hook = model.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    try:
        inputs = model.prepare(text(), LATENT, latents(13))
        model(latents(8, seed=2), torch.tensor([700.0]), inputs)
    finally:
        hook.remove()
    assert seen == [history_token_count(13, 4, 8) + 8 * 2 * 4]


@torch.inference_mode()
def test_history_tokens_get_timestep_zero_and_predicted_tokens_the_current_one(model):
    seen = []
    hook = model.time_embedding.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    try:
        model(latents(8, seed=2), torch.tensor([875.0]), model.prepare(text(), LATENT, latents(5)))
        model(latents(8, seed=2), torch.tensor([875.0]), model.prepare(text(), LATENT, None))
    finally:
        hook.remove()
    torch.testing.assert_close(seen[0], sinusoidal_embedding(ARGS.freq_dim, torch.tensor([0.0, 875.0])).float())
    torch.testing.assert_close(seen[1], sinusoidal_embedding(ARGS.freq_dim, torch.tensor([875.0])).float())


@torch.inference_mode()
def test_the_history_conditions_the_prediction(model):
    noisy, t = latents(8, seed=2), torch.tensor([954.5])
    a = model(noisy, t, model.prepare(text(), LATENT, latents(5, seed=3)))
    b = model(noisy, t, model.prepare(text(), LATENT, latents(5, seed=4)))
    plain = model(noisy, t, model.prepare(text(), LATENT, None))
    assert not torch.allclose(a, b)
    assert not torch.allclose(a, plain)


@torch.inference_mode()
def test_attention_runs_through_sdpa_unmasked_and_non_causal(model, monkeypatch):
    calls = []
    original = F.scaled_dot_product_attention

    def spy(q, k, v, *args, **kwargs):
        calls.append((q.shape, k.shape, args, kwargs))
        return original(q, k, v, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    inputs = model.prepare(text(), LATENT, latents(8))
    model(latents(8, seed=2), torch.tensor([700.0]), inputs)
    assert len(calls) == 2 * ARGS.num_layers  # self- and cross-attention per block
    length = history_token_count(8, 4, 8) + 64
    self_attention = [c for c in calls if c[1][2] == length]
    assert len(self_attention) == ARGS.num_layers
    assert all(args == () and kwargs == {} for _, _, args, kwargs in calls)  # no mask, not causal


@torch.inference_mode()
def test_coarse_patchify_pads_zeros_at_the_bottom_and_right(model):
    # A 2x conv that copies the top-left latent pixel of its 4×4 window into token channel 0.
    probe = WanModel(ARGS).eval()
    probe.patch_embedding_2x.weight.zero_()
    probe.patch_embedding_2x.bias.zero_()
    probe.patch_embedding_2x.weight[0, 0, 0, 0, 0] = 1.0
    frame = torch.arange(34 * 60, dtype=torch.float32).view(1, 1, 1, 34, 60).expand(1, ARGS.in_dim, 1, 34, 60)
    history = torch.cat([frame, frame + 10_000, frame + 20_000], dim=2)  # N = 3: full, 2x, full
    tokens, grids = probe.embed_history(history)
    assert grids[1] == (1, 9, 15)  # 34 → 36 rows after 2 padding rows
    middle = tokens[0, 510 : 510 + 135, 0].view(9, 15)
    torch.testing.assert_close(middle, (frame[0, 0, 0, ::4, ::4] + 10_000))


def test_rope_at_position_zero_is_the_identity():
    x = torch.randn(1, 5, 2, ARGS.head_dim)
    angles = rope_angles(ARGS, torch.zeros(5, 3, dtype=torch.long))
    torch.testing.assert_close(apply_rope(x, torch.cos(angles), torch.sin(angles)), x)


def test_rope_scores_depend_only_on_relative_position():
    q = torch.randn(1, 1, 1, ARGS.head_dim, dtype=torch.float64)
    k = torch.randn(1, 1, 1, ARGS.head_dim, dtype=torch.float64)

    def score(pq, pk):
        angles = rope_angles(ARGS, torch.tensor([pq, pk]))
        cos, sin = torch.cos(angles), torch.sin(angles)
        rq = apply_rope(q, cos[:1], sin[:1])
        rk = apply_rope(k, cos[1:], sin[1:])
        return (rq * rk).sum().item()

    assert score([3, 2, 5], [1, 0, 4]) == pytest.approx(score([900, 12, 40], [898, 10, 39]))
    assert score([3, 2, 5], [1, 0, 4]) != pytest.approx(score([3, 2, 5], [1, 0, 3]))


def test_rope_rotates_adjacent_pairs_with_the_temporal_ladder_first():
    x = torch.zeros(1, 1, 1, ARGS.head_dim, dtype=torch.float64)
    x[..., 0] = 1.0  # the first pair's real part
    angles = rope_angles(ARGS, torch.tensor([[1, 0, 0]]))
    out = apply_rope(x, torch.cos(angles), torch.sin(angles))
    # Pair 0 is the temporal pair with frequency θ^0 = 1: (1, 0) rotates by 1 radian to (cos 1, sin 1).
    expected = torch.tensor([1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(out[0, 0, 0, :2], torch.stack([expected[0].cos(), expected[1].sin()]))
    assert torch.count_nonzero(out[0, 0, 0, 2:]) == 0


def test_rope_tables_are_computed_for_positions_beyond_the_reference_table():
    angles = rope_angles(ARGS, torch.tensor([[5000, 0, 0]]))
    assert torch.isfinite(angles).all()
    assert angles[0, 0].item() == 5000.0
