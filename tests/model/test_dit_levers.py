"""Every DiT speed lever gives the outputs of the plain path: caches, skipped work, RoPE precision, backends."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from tests.model.dit_reference_outputs import LATENT_SHAPE, TIMESTEP, reference_inputs, reference_model
from yume_bridge.model.attention import AttentionBackend
from yume_bridge.model.dit import DitOptions, HistoryEmbeddingCache, WanModel, _embed_padded, _pad_to_multiple
from yume_bridge.model.fp8 import Fp8Unavailable
from yume_bridge.model.tscm import Rate, compression_schedule

PLAIN = DitOptions(
    rope_dtype=torch.float64, cache_cross_attention=False, skip_history_in_last_block=False, cache_history=False
)
"""Every lever off: the DiT as first written."""


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.fixture(scope="module")
def model() -> WanModel:
    return reference_model()


@torch.inference_mode()
def run(model: WanModel, options: DitOptions, history: int, **prepare) -> torch.Tensor:
    model.configure(options)
    try:
        text, clean, noisy = reference_inputs(history)
        inputs = model.prepare(text, LATENT_SHAPE, clean, **prepare)
        return model(noisy, torch.tensor([TIMESTEP]), inputs)
    finally:
        model.configure(DitOptions())


@pytest.mark.parametrize("history", [0, 5, 100])
@pytest.mark.parametrize(
    "lever", [{"cache_cross_attention": True}, {"skip_history_in_last_block": True}, {"rope_dtype": torch.float32}]
)
def test_each_lever_alone_keeps_the_output_of_the_plain_path(model, history, lever):
    assert relative_error(run(model, replace(PLAIN, **lever), history), run(model, PLAIN, history)) <= 1e-6


def test_fp32_rope_stays_within_a_loose_bound_of_fp64_rope(model):
    # The figure itself is printed by benchmarks/bench_dit_levers.py; this only guards against a broken rotation.
    fp32 = run(model, replace(PLAIN, rope_dtype=torch.float32), 350)
    assert relative_error(fp32, run(model, PLAIN, 350)) <= 1e-4


@torch.inference_mode()
def test_the_last_block_sends_only_predicted_tokens_through_its_cross_attention_and_ffn(model):
    seen = []
    hook = model.blocks[-1].ffn.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    try:
        run(model, DitOptions(), 30)
    finally:
        hook.remove()
    frames, height, width = LATENT_SHAPE
    assert seen == [frames * (height // 2) * (width // 2)]


@torch.inference_mode()
def test_cross_attention_keys_and_values_are_computed_once_per_chunk_not_per_step(model):
    calls = []
    hook = model.blocks[0].cross_attn.k.register_forward_hook(lambda *args: calls.append(1))
    try:
        text, clean, noisy = reference_inputs(5)
        inputs = model.prepare(text, LATENT_SHAPE, clean)
        for t in (1000.0, 954.5, 875.0, 700.0):
            model(noisy, torch.tensor([t]), inputs)
    finally:
        hook.remove()
    assert len(calls) == 1


SESSION_LATENTS = torch.randn(1, 48, 360, *LATENT_SHAPE[1:], generator=torch.Generator().manual_seed(7))
"""One session's latents in order; latent i has id i."""


def chunk_histories(start: int, chunks: int) -> list[tuple[torch.Tensor, list[int]]]:
    """The histories (and latent ids) a session holds before each chunk: 8 new latents per chunk."""
    stops = range(start, start + 8 * chunks + 1, 8)
    return [(SESSION_LATENTS[:, :, :n], list(range(n))) for n in stops]


@torch.inference_mode()
def test_cached_history_embeddings_equal_a_fresh_embedding_chunk_after_chunk(model):
    cache = HistoryEmbeddingCache()
    # 5 → 349 crosses every schedule branch boundary: 6, 22, 86 and 342 latents.
    for history, ids in chunk_histories(5, 43)[::3] + chunk_histories(333, 2):
        cached, cached_grids = model.embed_history(history, cache=cache, ids=ids)
        fresh, fresh_grids = model.embed_history(history)
        assert cached_grids == fresh_grids
        assert relative_error(cached, fresh) <= 1e-6
        assert len(cache) == sum(segment.frames for segment in compression_schedule(history.shape[2]))


@torch.inference_mode()
def test_a_new_chunk_embeds_only_the_latents_whose_rate_changed(model, monkeypatch):
    cache = HistoryEmbeddingCache()
    histories = chunk_histories(93, 1)  # 93 then 101 latents: the 86 < N ≤ 342 branch, every tier in use
    model.embed_history(histories[0][0], cache=cache, ids=histories[0][1])
    embedded = []
    original = model._patchify

    def counting(frames, rate):
        embedded.append(frames.shape[2])
        return original(frames, rate)

    monkeypatch.setattr(model, "_patchify", counting)
    model.embed_history(histories[1][0], cache=cache, ids=histories[1][1])
    def placements(n: int) -> set[tuple[int, Rate]]:
        return {(i, s.rate) for s in compression_schedule(n) for i in range(s.start, s.stop)}

    changed = placements(101) - placements(93)
    assert sum(embedded) == len(changed) == 29  # 3 new at full rate, 2 new at 2x, 8 each into 4x, 8x, 16x; not 101


@torch.inference_mode()
def test_a_history_cache_needs_one_id_per_latent(model):
    history, ids = chunk_histories(5, 0)[0]
    with pytest.raises(ValueError, match="ids"):
        model.embed_history(history, cache=HistoryEmbeddingCache(), ids=ids[:-1])


@torch.inference_mode()
def test_the_128x_rate_crops_its_kernel_instead_of_padding_and_gives_the_same_token(model):
    frame = torch.randn(1, 48, 2, 9, 15, generator=torch.Generator().manual_seed(3))  # 544×960 after the 4×4 step
    conv = model.patch_embedding_16x
    cropped = _embed_padded(conv, frame)
    padded = conv(_pad_to_multiple(frame, conv.kernel_size))
    assert cropped.shape == padded.shape == (1, model.args.dim, 2, 1, 1)
    assert relative_error(cropped, padded) <= 1e-6
    assert Rate.X128 in {s.rate for s in compression_schedule(350)}


@torch.inference_mode()
def test_prepare_pads_short_text_states_itself(model):
    text, clean, noisy = reference_inputs(5)
    short = text[:, :20]
    padded = F.pad(short, (0, 0, 0, model.args.text_len - 20))
    a = model(noisy, torch.tensor([TIMESTEP]), model.prepare(short, LATENT_SHAPE, clean))
    b = model(noisy, torch.tensor([TIMESTEP]), model.prepare(padded, LATENT_SHAPE, clean))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("text_shape", "latent_shape", "history_hw", "message"),
    [
        ((1, 513, 32), LATENT_SHAPE, (6, 10), "exceed text_len"),
        ((1, 10, 31), LATENT_SHAPE, (6, 10), "text states"),
        ((1, 10, 32), (2, 5, 10), (5, 10), "multiple of the patch"),
        ((1, 10, 32), LATENT_SHAPE, (6, 12), "history must be"),
    ],
)
def test_prepare_refuses_inputs_that_do_not_fit_the_model(model, text_shape, latent_shape, history_hw, message):
    history = torch.zeros(1, 48, 3, *history_hw)
    with pytest.raises(ValueError, match=message):
        model.prepare(torch.zeros(text_shape), latent_shape, history)


@torch.inference_mode()
def test_forward_refuses_latents_of_another_shape_than_prepared(model):
    text, clean, noisy = reference_inputs(5)
    inputs = model.prepare(text, LATENT_SHAPE, clean)
    with pytest.raises(ValueError, match="as prepared"):
        model(noisy[:, :, :, :4], torch.tensor([TIMESTEP]), inputs)


@torch.inference_mode()
def test_the_history_timestep_is_a_parameter_of_prepare(model):
    default = run(model, DitOptions(), 5)
    assert relative_error(run(model, DitOptions(), 5, history_timestep=0.0), default) == 0.0
    assert relative_error(run(model, DitOptions(), 5, history_timestep=100.0), default) > 1e-3


def test_auto_attention_keeps_pytorchs_own_choice_on_cpu(model):
    model.configure(DitOptions())
    assert model.attention_backend_used == "default"


def test_a_named_sdpa_backend_runs_and_is_reported(model):
    out = run(model, DitOptions(attention=AttentionBackend.MATH), 13)
    model.configure(DitOptions(attention=AttentionBackend.MATH))
    assert model.attention_backend_used == "math"
    model.configure(DitOptions())
    assert relative_error(out, run(model, DitOptions(), 13)) <= 1e-6


def test_a_named_backend_that_cannot_run_here_is_refused_with_the_reason(model):
    with pytest.raises(ValueError, match="flash_attn_interface"):
        model.configure(DitOptions(attention=AttentionBackend.FA3))
    assert model.attention_backend_used == "default"


def test_fp8_is_refused_with_a_clear_message_when_torchao_is_missing(model, monkeypatch):
    import importlib

    real = importlib.import_module

    def without_torchao(name, *args):
        if name.startswith("torchao"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_torchao)
    before = model.blocks[0].ffn[0].weight.clone()
    with pytest.raises(Fp8Unavailable, match="torchao"):
        model.configure(DitOptions(fp8=True))
    assert torch.equal(model.blocks[0].ffn[0].weight, before)
    assert isinstance(model.blocks[0].ffn[0], torch.nn.Linear)


def test_fp8_is_refused_on_a_cpu_even_with_torchao_installed(model, monkeypatch):
    import importlib
    import types

    real = importlib.import_module
    installed = types.SimpleNamespace(quantize_=lambda *args, **kwargs: pytest.fail("nothing may be converted"))
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: installed if name.startswith("torchao") else
                        real(name, *a))
    with pytest.raises(Fp8Unavailable, match="CUDA"):
        model.configure(DitOptions(fp8=True))
    assert isinstance(model.blocks[0].ffn[0], torch.nn.Linear)
