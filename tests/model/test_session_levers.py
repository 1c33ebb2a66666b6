"""The chunk loop with the DiT's levers: cached history embeddings change no latent; options reach the DiT."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from yume_bridge.backends.base import BackendError
from yume_bridge.backends.yume import YumeBackend, YumeBackendConfig
from yume_bridge.model.pipeline import GenerationOptions, Session

STATES = torch.randn(12, 32, generator=torch.Generator().manual_seed(0))
"""T5 states [tokens, text_dim] of the tiny model: the loop pads them itself."""


def image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, size=(32, 64, 3), dtype=np.uint8)


def history_after(models, chunks: int, *, cache_history: bool, rollback_after: int | None = None) -> torch.Tensor:
    dit = models.dit
    before = dit.options
    dit.configure(replace(before, cache_history=cache_history))
    try:
        options = GenerationOptions(steps=1, max_history_latents=20)
        session = Session(models, height=32, width=64, seed=9, options=options)
        session.start_from_image(image())
        for index in range(chunks):
            assert len(list(session.generate_chunk(STATES))) == 29
            if index == rollback_after:
                session.history = session.history[:, :, :-8].clone()  # a chunk taken back from outside
        return session.history
    finally:
        dit.configure(before)


def test_a_session_with_cached_history_embeddings_makes_the_same_latents_as_without(tiny_models):
    # 5 → 37 latents, bounded at 20: crosses the 6- and 22-latent schedule branches and the bound.
    cached = history_after(tiny_models, 4, cache_history=True)
    fresh = history_after(tiny_models, 4, cache_history=False)
    assert cached.shape[2] == 20
    torch.testing.assert_close(cached, fresh, rtol=1e-5, atol=1e-5)


def test_a_history_replaced_from_outside_the_loop_does_not_reuse_stale_embeddings(tiny_models):
    cached = history_after(tiny_models, 4, cache_history=True, rollback_after=1)
    fresh = history_after(tiny_models, 4, cache_history=False, rollback_after=1)
    torch.testing.assert_close(cached, fresh, rtol=1e-5, atol=1e-5)


def backend_config(folder, **overrides) -> YumeBackendConfig:
    values = dict(weights=folder, resolution="32x64", device="cpu", dtype="float32", text_dtype="float32",
                  allow_any_resolution=True)
    return YumeBackendConfig(**(values | overrides))


def test_on_a_cpu_the_dit_is_not_compiled_unless_asked_and_keeps_pytorchs_attention(tiny_folder):
    backend = YumeBackend(backend_config(tiny_folder))
    backend.load(lambda stage, fraction: None)
    try:
        options = backend.models.dit.options
        assert not options.compile and options.rope_dtype == torch.float32
        assert backend.models.dit.attention_backend_used == "default"
    finally:
        backend.close()


def test_an_unknown_attention_backend_is_a_configuration_error(tiny_folder):
    with pytest.raises(ValueError, match="attention must be one of"):
        backend_config(tiny_folder, attention="fastest")


def test_fp8_on_a_cpu_fails_the_load_with_a_reason(tiny_folder):
    backend = YumeBackend(backend_config(tiny_folder, fp8=True))
    with pytest.raises(BackendError, match="FP8"):
        backend.load(lambda stage, fraction: None)


def test_with_compiled_blocks_every_compile_happens_in_warm_up_and_none_in_a_session(tiny_folder):
    import torch._dynamo as dynamo

    from yume_bridge.actions import Action, CaptionTemplates
    from yume_bridge.backends.base import ChunkRequest, StartRequest

    backend = YumeBackend(backend_config(tiny_folder))
    backend.load(lambda stage, fraction: None)
    dit = backend.models.dit
    # Dynamo's own tracing and guards without generating kernels: the same graphs, seconds instead of minutes.
    dit.configure(replace(dit.options, compile=True, compile_backend="eager"))
    dynamo.reset()
    dynamo.utils.counters.clear()
    try:
        backend.warm_up()
        warmed = dynamo.utils.counters["stats"]["unique_graphs"]
        caption = CaptionTemplates.load("camera").caption(Action())
        starts = (StartRequest(image=image(), prompt="", seed=1), StartRequest(image=None, prompt="a castle", seed=2))
        for start in starts:
            world = backend.open_world(start)
            for index in range(2):
                list(world.generate_chunk(ChunkRequest(index=index, action=Action(), events=(), caption=caption)))
            world.close()
        assert warmed == 3  # image start: every block, and the last (drops the history); text start: one
        assert dynamo.utils.counters["stats"]["unique_graphs"] == warmed
    finally:
        dynamo.reset()
        backend.close()
