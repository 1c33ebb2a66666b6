"""JPEG encoding beside the generation thread: same frames, same order, bounded, and chunk ends after its frames."""

from __future__ import annotations

import threading
import time

import numpy as np
import simplejpeg

from yume_bridge.actions import AxisQuantizer, CaptionTemplates
from yume_bridge.backends.base import StartRequest, WorldSpec
from yume_bridge.backends.preview import PreviewBackend
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.encoder import FrameEncoder
from yume_bridge.daemon.frames import encode_jpeg
from yume_bridge.daemon.results import ChunkDone, FrameReady, Readiness
from yume_bridge.daemon.worker import GenerationWorker

SPEC = WorldSpec("preview", "preview", "1", 160, 96, 16.0, 29)


def test_frames_come_out_encoded_in_the_order_they_went_in():
    encoder = FrameEncoder(capacity=4, encode=lambda pixels, quality: bytes([int(pixels[0, 0, 0]), quality]))
    delivered: list[bytes] = []
    for value in range(40):
        encoder.submit(np.full((2, 2, 3), value, np.uint8), 80, lambda jpeg, s, t: delivered.append(jpeg))
    assert encoder.flush(timeout=30)
    assert delivered == [bytes([value, 80]) for value in range(40)]
    assert encoder.close(timeout=30)


def test_a_full_inbox_makes_the_producer_wait_instead_of_dropping_frames():
    release = threading.Event()

    def slow_encode(pixels: np.ndarray, quality: int) -> bytes:
        release.wait(30)
        return b"x"

    encoder = FrameEncoder(capacity=2, encode=slow_encode)
    delivered: list[bytes] = []
    producer = threading.Thread(target=lambda: [encoder.submit(np.zeros((1, 1, 3), np.uint8), 85,
                                                               lambda j, s, t: delivered.append(j))
                                                for _ in range(6)])
    producer.start()
    producer.join(0.3)
    assert producer.is_alive()  # blocked: one frame being encoded, two waiting, the rest held back
    release.set()
    producer.join(30)
    assert encoder.flush(timeout=30) and len(delivered) == 6
    assert encoder.close(timeout=30)


def test_an_unencodable_frame_is_skipped_and_the_next_ones_still_arrive():
    def encode(pixels: np.ndarray, quality: int) -> bytes:
        if pixels[0, 0, 0] == 1:
            raise ValueError("broken frame")
        return bytes([int(pixels[0, 0, 0])])

    encoder = FrameEncoder(encode=encode)
    delivered: list[bytes] = []
    for value in range(3):
        encoder.submit(np.full((1, 1, 3), value, np.uint8), 85, lambda j, s, t: delivered.append(j))
    assert encoder.flush(timeout=30) and delivered == [b"\x00", b"\x02"]
    assert encoder.close(timeout=30)


def _wait_for(items: list, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(predicate(item) for item in list(items)):
        assert time.monotonic() < deadline, f"timed out; got {items[-3:]}"
        time.sleep(0.01)


def test_the_worker_sends_the_same_frames_as_encoding_serially_in_order_and_ends_the_chunk_after_them():
    posted: list[object] = []
    worker = GenerationWorker(backend=PreviewBackend(spec=SPEC), post=posted.append, max_image_pixels=10**7)
    worker.start()
    try:
        _wait_for(posted, lambda item: isinstance(item, Readiness) and item.state == "ready")
        worker.open_world(1, 1, None, "a harbour", 7)
        inbox = ConditioningInbox(templates=CaptionTemplates.load("camera"), quantizer=AxisQuantizer(), speed=None)
        for chunk in range(2):  # one chunk pending per session at a time, as the loop asks
            worker.request_chunk(1, 1, inbox)
            _wait_for(posted, lambda item, chunk=chunk: isinstance(item, ChunkDone) and item.chunk == chunk)
    finally:
        assert worker.stop(timeout=30)
    sent = [item for item in posted if isinstance(item, FrameReady | ChunkDone)]
    # Serially, on this thread: the same world (same seed), the same captions, encoded one by one.
    world = PreviewBackend(spec=SPEC).open_world(StartRequest(None, "a harbour", 7))
    inbox = ConditioningInbox(templates=CaptionTemplates.load("camera"), quantizer=AxisQuantizer(), speed=None)
    expected: list[tuple] = []
    for _ in range(2):
        number, request, _ = inbox.take()
        frames = world.generate_chunk(request)
        expected += [(number, index, encode_jpeg(frame, 85)) for index, frame in enumerate(frames)]
        expected.append(("done", number))
    got = [(item.chunk, item.frame_in_chunk, item.jpeg) if isinstance(item, FrameReady) else ("done", item.chunk)
           for item in sent]
    assert got == expected
    assert simplejpeg.decode_jpeg(sent[0].jpeg).shape == (96, 160, 3)
