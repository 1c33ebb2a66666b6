"""The preview world: a walkable, CPU-only stand-in with the model's cadence."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import jpeg_bytes
from yume_bridge.actions import Action, Look, Movement
from yume_bridge.backends.base import BackendError, ChunkRequest, StartRequest, WorldSpec
from yume_bridge.backends.preview import PreviewBackend
from yume_bridge.daemon.start_images import decode_start_image

SPEC = WorldSpec("preview", "preview", "1", 320, 192, 16.0, 29)


def chunk(world, action=None, events=(), index=0):
    action = action or Action()
    return list(world.generate_chunk(ChunkRequest(index, action, events, "")))


def test_a_chunk_has_the_models_length_and_the_negotiated_size():
    world = PreviewBackend(spec=SPEC).open_world(StartRequest(None, "a harbour", 1))
    frames = chunk(world)
    assert len(frames) == 29 and all(f.shape == (192, 320, 3) and f.dtype == np.uint8 for f in frames)


def test_walking_forward_changes_the_view_and_standing_still_does_not():
    image = decode_start_image(jpeg_bytes(), 10**7)
    still = PreviewBackend(spec=SPEC).open_world(StartRequest(image, "", 1))
    frames = chunk(still)
    assert np.array_equal(frames[5][40:150], frames[25][40:150])  # below the caption, above the HUD
    walking = PreviewBackend(spec=SPEC).open_world(StartRequest(image, "", 1))
    frames = chunk(walking, Action(Movement.W, Look.RIGHT))
    assert not np.array_equal(frames[5][40:150], frames[25][40:150])


def test_an_event_prompt_is_drawn_into_the_frame():
    world_a = PreviewBackend(spec=SPEC).open_world(StartRequest(None, "", 3))
    world_b = PreviewBackend(spec=SPEC).open_world(StartRequest(None, "", 3))
    plain = chunk(world_a)[0]
    with_event = chunk(world_b, events=("a dragon circles the tower",))[0]
    assert not np.array_equal(plain[:30], with_event[:30])


def test_the_same_seed_and_prompt_draw_the_same_scene():
    a = chunk(PreviewBackend(spec=SPEC).open_world(StartRequest(None, "castle", 5)))[0]
    b = chunk(PreviewBackend(spec=SPEC).open_world(StartRequest(None, "castle", 5)))[0]
    c = chunk(PreviewBackend(spec=SPEC).open_world(StartRequest(None, "castle", 6)))[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_a_fault_drill_fails_every_nth_chunk_with_a_readable_reason():
    world = PreviewBackend(spec=SPEC, fail_every=2).open_world(StartRequest(None, "", 1))
    chunk(world)
    with pytest.raises(BackendError, match="simulated generator failure"):
        chunk(world, index=1)


def test_start_images_are_checked_before_decoding():
    with pytest.raises(BackendError, match="cannot be decoded"):
        decode_start_image(jpeg_bytes()[:200], 10**7)
    with pytest.raises(BackendError, match="not a JPEG or PNG file") as caught:
        decode_start_image(b"not an image at all", 10**7)
    assert "0x" not in str(caught.value)  # no Python repr leaks to the client
    with pytest.raises(BackendError, match="over the limit"):
        decode_start_image(jpeg_bytes(), 1000)
    buffer = io.BytesIO()
    Image.new("RGBA", (40, 30), (255, 0, 0, 0)).save(buffer, format="PNG")
    rgb = decode_start_image(buffer.getvalue(), 10**7)
    assert rgb.shape == (30, 40, 3) and rgb.max() == 0  # transparent pixels composite on black
