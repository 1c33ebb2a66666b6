"""Pre-emption on the tiny Yume model: a rollback is exact, shorter chunks, the decoder's state as an object."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.model.conftest import config
from yume_bridge.actions import Action, CaptionTemplates, Look, Movement
from yume_bridge.backends.base import BackendError, ChunkRequest, StartRequest
from yume_bridge.backends.yume import YumeBackend, YumeWorld
from yume_bridge.model.pipeline import Session
from yume_bridge.model.vae import StreamingDecoder

TEMPLATES = CaptionTemplates.load("camera")
FORWARD = Action(Movement.W, Look.NONE)
TURN = Action(Movement.D, Look.RIGHT)


def request(index: int, action: Action) -> ChunkRequest:
    return ChunkRequest(index=index, action=action, events=(), caption=TEMPLATES.caption(action))


def picture() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, size=(90, 160, 3), dtype=np.uint8)


def test_a_cut_world_continues_exactly_like_a_world_whose_history_was_the_truncated_one(backend):
    shown_latents = 3
    cut = backend.open_world(StartRequest(image=picture(), prompt="", seed=11))
    list(cut.generate_chunk(request(0, FORWARD)))
    shown = list(cut.generate_chunk(request(1, FORWARD)))[:9]  # latents 0-2 of chunk 1 were on screen
    ahead = cut.generate_chunk(request(2, FORWARD))  # the chunk made ahead, begun and then abandoned
    next(ahead)
    ahead.close()
    cut.rollback(chunk=1, latents=shown_latents)
    after_cut = list(cut.generate_chunk(request(2, TURN)))

    # The reference: the same two chunks made again, the history cut by hand, then a world that only ever
    # knew that history.
    full = backend.open_world(StartRequest(image=picture(), prompt="", seed=11))
    list(full.generate_chunk(request(0, FORWARD)))
    again = list(full.generate_chunk(request(1, FORWARD)))
    assert all(np.array_equal(a, b) for a, b in zip(shown, again, strict=False))
    truncated = full.session.history[:, :, : full.session.num_history_latents - (8 - shown_latents)]
    session = Session.from_history(backend.models, truncated, chunks_generated=2, height=64, width=128, seed=11,
                                   options=backend.options)
    reference = list(YumeWorld(backend, session).generate_chunk(request(2, TURN)))

    assert len(after_cut) == len(reference) == 29
    assert all(np.array_equal(a, b) for a, b in zip(after_cut, reference, strict=True))
    assert torch.equal(cut.session.history, session.history)
    for world in (cut, full):
        world.close()


def test_the_forgotten_latents_change_what_comes_next(backend):
    """Guards the test above: without the rollback the next chunk differs."""
    world = backend.open_world(StartRequest(image=picture(), prompt="", seed=11))
    list(world.generate_chunk(request(0, FORWARD)))
    list(world.generate_chunk(request(1, FORWARD)))
    kept = world.session.history
    world.rollback(chunk=1, latents=3)
    assert world.session.num_history_latents == kept.shape[2] - 5
    assert torch.equal(world.session.history, kept[:, :, :-5])
    world.close()


def test_a_chunk_older_than_the_rollback_window_cannot_be_rolled_back_to(backend):
    world = backend.open_world(StartRequest(image=picture(), prompt="", seed=2))
    for index in range(6):
        list(world.generate_chunk(request(index, FORWARD)))
    with pytest.raises(BackendError, match="not among the last"):
        world.rollback(chunk=0, latents=2)
    world.close()


def test_four_latents_per_chunk_give_chunks_of_13_frames(tiny_folder):
    short = YumeBackend(config(tiny_folder, latents_per_chunk=4))
    short.load(lambda stage, fraction: None)
    assert short.spec.frames_per_chunk == 13
    world = short.open_world(StartRequest(image=picture(), prompt="", seed=1))
    frames = list(world.generate_chunk(request(0, FORWARD)))
    assert len(frames) == 13
    assert world.session.num_history_latents == 5 + 4
    world.close()
    short.close()


def test_more_latents_per_chunk_than_the_model_predicts_is_refused(tiny_folder):
    with pytest.raises(ValueError, match="latents_per_chunk"):
        config(tiny_folder, latents_per_chunk=9)


def test_a_decoder_restored_from_a_snapshot_decodes_the_same_frames_again(tiny_models):
    vae = tiny_models.vae
    latents = torch.randn(1, tiny_models.args.vae.z_dim, 4, 4, 8, generator=torch.Generator().manual_seed(5))
    straight = StreamingDecoder(vae, latents)
    reference = [straight.decode_next() for _ in range(4)]

    decoder = StreamingDecoder(vae, latents)
    decoder.decode_next()
    snapshot = decoder.snapshot()
    first_try = [decoder.decode_next() for _ in range(2)]
    decoder.restore(snapshot)
    assert decoder.next_latent == 1
    second_try = [decoder.decode_next() for _ in range(3)]

    assert all(torch.equal(a, b) for a, b in zip(first_try, second_try[:2], strict=True))
    assert all(torch.equal(a, b) for a, b in zip(reference[1:], second_try, strict=True))
