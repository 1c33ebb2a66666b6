"""The generation thread's scheduling: per-session slots, round-robin turns, no wedged sessions."""

from __future__ import annotations

import threading
import time

import numpy as np

from yume_bridge.actions import AxisQuantizer, CaptionTemplates
from yume_bridge.backends.base import BackendError, StartRequest, World, WorldBackend, WorldSpec
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.results import ChunkDone, ChunkSkipped, FrameReady, SessionFailed
from yume_bridge.daemon.worker import GenerationWorker

SPEC = WorldSpec("fake", "fake", "1", 32, 16, 16.0, 2)


class _RecordingWorld(World):
    def __init__(self, log: list, name: str) -> None:
        self.log, self.name = log, name

    def generate_chunk(self, request):
        self.log.append(("chunk", self.name))
        for _ in range(SPEC.frames_per_chunk):
            yield np.zeros((SPEC.height, SPEC.width, 3), np.uint8)


class _GatedBackend(WorldBackend):
    """Opens worlds only when the test lets it, and records what it was asked in order."""

    spec = SPEC

    def __init__(self) -> None:
        self.log: list = []
        self.gate = threading.Event()

    def open_world(self, start: StartRequest) -> World:
        self.gate.wait(10)
        if start.prompt == "broken":
            raise BackendError("cannot open this one")
        self.log.append(("open", start.prompt))
        return _RecordingWorld(self.log, start.prompt)


def _inbox() -> ConditioningInbox:
    return ConditioningInbox(templates=CaptionTemplates.load("camera"), quantizer=AxisQuantizer(), speed=None)


def _run(backend: WorldBackend):
    posted: list = []
    worker = GenerationWorker(backend=backend, post=posted.append, max_image_pixels=10**6)
    worker.start()
    return worker, posted


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there"
        time.sleep(0.01)


def test_a_flood_of_starts_from_one_session_opens_only_the_newest_world_and_never_raises():
    backend = _GatedBackend()
    worker, posted = _run(backend)
    worker.open_world(1, 1, None, "first", 0)
    _wait_for(lambda: worker.stall_deadline() is not None)  # the first open is in progress
    for world in range(2, 302):
        worker.open_world(1, world, None, f"world {world}", 0)
    backend.gate.set()
    worker.request_chunk(1, 301, _inbox())
    _wait_for(lambda: any(isinstance(p, ChunkDone) for p in posted))
    worker.stop(5)
    assert [entry for entry in backend.log if entry[0] == "open"] == [("open", "first"), ("open", "world 301")]


def test_a_world_open_takes_its_turn_with_the_other_sessions_chunks():
    backend = _GatedBackend()
    worker, posted = _run(backend)
    worker.open_world(1, 1, None, "a", 0)
    worker.open_world(2, 1, None, "b", 0)
    backend.gate.set()
    _wait_for(lambda: len(backend.log) == 2)
    worker.request_chunk(1, 1, _inbox())
    worker.open_world(3, 1, None, "c", 0)
    worker.request_chunk(2, 1, _inbox())
    _wait_for(lambda: sum(isinstance(p, ChunkDone) for p in posted) == 2)
    worker.stop(5)
    assert backend.log[2:] == [("chunk", "a"), ("open", "c"), ("chunk", "b")]


def test_a_chunk_for_a_replaced_world_is_reported_skipped_so_the_session_asks_again():
    backend = _GatedBackend()
    backend.gate.set()
    worker, posted = _run(backend)
    worker.open_world(1, 1, None, "a", 0)
    worker.request_chunk(1, 7, _inbox())  # a world the worker never opened
    _wait_for(lambda: any(isinstance(p, ChunkSkipped) for p in posted))
    worker.stop(5)
    assert ChunkSkipped(1, 7) in posted


def test_a_failed_start_keeps_the_running_world():
    backend = _GatedBackend()
    backend.gate.set()
    worker, posted = _run(backend)
    worker.open_world(1, 1, None, "running", 0)
    _wait_for(lambda: backend.log == [("open", "running")])
    worker.open_world(1, 2, None, "broken", 0)
    _wait_for(lambda: any(isinstance(p, SessionFailed) for p in posted))
    worker.request_chunk(1, 1, _inbox())
    _wait_for(lambda: any(isinstance(p, FrameReady) for p in posted))
    worker.stop(5)
    (failure,) = [p for p in posted if isinstance(p, SessionFailed)]
    assert (failure.world_lost, failure.kept_world) == (False, 1)
