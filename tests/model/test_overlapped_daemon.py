"""The generation worker with the tiny Yume model decoding chunk k on its own thread while chunk k+1 is sampled.

Every test waits on recorded events, never on the clock: the order of what happened is what is asserted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np

from tests.conftest import jpeg_bytes
from tests.model.conftest import config
from yume_bridge.actions import AxisQuantizer, CaptionTemplates
from yume_bridge.backends.base import ChunkRequest, SampledChunk, StartRequest, World, WorldBackend
from yume_bridge.backends.yume import YumeBackend
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.results import ChunkDone, ChunkSampled, FrameReady, SessionFailed
from yume_bridge.daemon.worker import GenerationWorker

SESSION, WORLD = 1, 1
WORKER_THREADS = {"yume-generation", "yume-decode", "yume-jpeg"}
PATIENCE_S = 120.0
"""How long a test waits for one step on a heavily loaded machine before it says which step never came."""


class _ObservedWorld(World):
    """A Yume world that records, in order and with the thread that did it, every sampling and every frame.

    ``gates[(world chunk, frame)]`` holds that frame back until the event is set; ``fail_at`` raises there.
    """

    def __init__(self, inner: World, log: list, gates: dict, fail_at: tuple[int, int] | None) -> None:
        self.inner, self.log, self.gates, self.fail_at = inner, log, gates, fail_at

    @property
    def splits_chunks(self) -> bool:
        return self.inner.splits_chunks

    @property
    def timing(self):
        return self.inner.timing

    def _record(self, *event: object) -> None:
        self.log.append((*event, threading.current_thread().name))

    def generate_chunk(self, request: ChunkRequest) -> Iterator[np.ndarray]:
        return self._frames(request.index, self.inner.generate_chunk(request))

    def sample_chunk(self, request: ChunkRequest) -> SampledChunk:
        self._record("sampling begins", request.index)
        sampled = self.inner.sample_chunk(request)
        self._record("sampling ends", request.index)
        return sampled

    def decode_chunk(self, chunk: SampledChunk) -> Iterator[np.ndarray]:
        return self._frames(chunk.request.index, self.inner.decode_chunk(chunk))

    def _frames(self, chunk: int, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        try:
            for index, frame in enumerate(frames):
                if (chunk, index) in self.gates:
                    self._record("held", chunk, index)
                    if not self.gates[(chunk, index)].wait(PATIENCE_S):
                        self._record("gate timed out", chunk, index)
                if (chunk, index) == self.fail_at:
                    raise RuntimeError("decoder exploded")
                self._record("frame", chunk, index)
                yield frame
        finally:
            self._record("frames stop", chunk)

    def rollback(self, *, chunk: int, latents: int) -> None:
        self.inner.rollback(chunk=chunk, latents=latents)

    def close(self) -> None:
        self._record("closed")
        self.inner.close()


class _ObservedBackend(WorldBackend):
    def __init__(self, inner: YumeBackend, *, fail_at: tuple[int, int] | None = None) -> None:
        self.inner, self.spec = inner, inner.spec
        self.log: list = []
        self.gates: dict[tuple[int, int], threading.Event] = {}
        self.fail_at = fail_at

    def open_world(self, start: StartRequest) -> World:
        return _ObservedWorld(self.inner.open_world(start), self.log, self.gates, self.fail_at)


class _Loop:
    """Stands in for the event loop: starts a worker on the backend, keeps what it posts, waits for it."""

    def __init__(self, backend: WorldBackend) -> None:
        self.posted: list = []
        self.inbox = ConditioningInbox(templates=CaptionTemplates.load("camera"), quantizer=AxisQuantizer(),
                                       speed=None)
        self.worker = GenerationWorker(backend=backend, post=self.posted.append, max_image_pixels=10**7,
                                       stall_timeout_s=600)
        self.worker.start()
        self.worker.open_world(SESSION, WORLD, jpeg_bytes(), "", 5)

    def request(self) -> None:
        self.worker.request_chunk(SESSION, WORLD, self.inbox)

    def wait_for(self, what: str, condition) -> None:
        deadline = time.monotonic() + PATIENCE_S
        while not condition():
            assert time.monotonic() < deadline, f"the worker never got to: {what}"
            time.sleep(0.01)

    def sampled(self, chunk: int) -> bool:
        return any(isinstance(p, ChunkSampled) and p.chunk == chunk for p in self.posted)

    def done(self, chunk: int, epoch: int = 0) -> bool:
        return any(isinstance(p, ChunkDone) and p.chunk == chunk and p.epoch == epoch for p in self.posted)

    def shown(self) -> list[tuple[int, int, bytes]]:
        """The frames the loop would send: a cut drops the cut chunk's frames past the cut and every later chunk
        begun before it, as playback.py does; the chunks before the cut one were shown already."""
        cut_chunk = self.inbox.cut_keep[0]
        return [(f.world_chunk, f.frame_in_chunk, f.jpeg) for f in self.posted if isinstance(f, FrameReady)
                and (f.chunk < cut_chunk or not self.inbox.outdated(f.epoch, f.chunk, f.frame_in_chunk))]


def _session_with_a_cut(backend: YumeBackend) -> tuple[list[tuple[int, int, bytes]], _Loop]:
    """Chunk 0; chunk 1 held at frame 5 (with chunk 2 sampled ahead when the world splits); a cut that keeps 3
    latents (9 frames) of chunk 1; then the chunk that replaces what was cut."""
    observed = _ObservedBackend(backend)
    hold = observed.gates[(1, 5)] = threading.Event()
    loop = _Loop(observed)
    try:
        loop.request()
        loop.wait_for("chunk 0 done", lambda: loop.done(0))
        loop.request()
        if backend.config.overlap:
            loop.wait_for("chunk 1 sampled", lambda: loop.sampled(1))
            loop.request()  # sampled from a history that holds all of chunk 1, which the cut will shorten
            loop.wait_for("chunk 2 sampled", lambda: loop.sampled(2))
        loop.wait_for("chunk 1 held at frame 5", lambda: ("held", 1, 5) in [e[:3] for e in observed.log])
        epoch = loop.inbox.cut(chunk=1, keep_frames=9, next_world_chunk=2)
        loop.worker.preempt(SESSION, WORLD, chunk=1, latents=3, inbox=loop.inbox, epoch=epoch)
        hold.set()
        loop.wait_for("the chunk after the cut", lambda: any(isinstance(p, ChunkDone) and p.epoch == epoch
                                                             and not p.cancelled for p in loop.posted))
    finally:
        hold.set()
        loop.worker.stop(30)
    return loop.shown(), loop


def test_overlapped_decoding_sends_the_serial_frames_in_the_serial_order_across_a_cut(tiny_folder, backend):
    serial_backend = YumeBackend(config(tiny_folder, overlap=False))
    serial_backend.load(lambda stage, fraction: None)
    try:
        serial, _ = _session_with_a_cut(serial_backend)
    finally:
        serial_backend.close()
    frames, loop = _session_with_a_cut(backend)

    assert [(chunk, index) for chunk, index, _ in frames] == (
        [(0, i) for i in range(29)] + [(1, i) for i in range(9)] + [(2, i) for i in range(29)])
    assert [jpeg for *_, jpeg in frames] == [jpeg for *_, jpeg in serial]
    assert loop.sampled(2)  # the cut really discarded a chunk sampled ahead from the latents it dropped


def test_the_next_chunk_is_sampled_while_the_previous_one_decodes(backend):
    observed = _ObservedBackend(backend)
    gate = observed.gates[(0, 1)] = threading.Event()  # chunk 0's decode waits for chunk 1's sampling
    loop = _Loop(observed)
    try:
        loop.request()
        loop.wait_for("chunk 0 sampled", lambda: loop.sampled(0))
        loop.request()
        loop.wait_for("chunk 1 sampled", lambda: loop.sampled(1))
        gate.set()
        loop.wait_for("chunk 1 done", lambda: loop.done(1))
    finally:
        gate.set()
        loop.worker.stop(30)
    events = [event[:-1] for event in observed.log]
    assert ("gate timed out", 0, 1) not in events
    # Chunk 1 was sampled from start to end between two frames of chunk 0.
    assert events.index(("sampling begins", 1)) < events.index(("sampling ends", 1)) < events.index(("frame", 0, 1))
    assert events.index(("frame", 0, 28)) < events.index(("frame", 1, 0))  # chunks still leave in order
    threads = {event[0]: event[-1] for event in observed.log}
    assert (threads["sampling begins"], threads["frame"]) == ("yume-generation", "yume-decode")


def test_closing_a_session_mid_decode_stops_the_decode_and_leaves_no_thread_behind(backend):
    before = set(threading.enumerate())
    observed = _ObservedBackend(backend)
    gate = observed.gates[(0, 3)] = threading.Event()
    loop = _Loop(observed)
    events = lambda: [event[:-1] for event in observed.log]  # noqa: E731
    try:
        loop.request()
        loop.wait_for("chunk 0 held at frame 3", lambda: ("held", 0, 3) in events())
        loop.worker.close_world(SESSION)
        loop.wait_for("the world closed", lambda: ("closed",) in events())
        gate.set()
        loop.wait_for("chunk 0's decoding stopped", lambda: ("frames stop", 0) in events())
    finally:
        gate.set()
        stopped = loop.worker.stop(30)
    assert stopped
    assert [e for e in events() if e[0] == "frame"] == [("frame", 0, i) for i in range(4)]  # frame 3 went nowhere
    assert [p.frame_in_chunk for p in loop.posted if isinstance(p, FrameReady)] == [0, 1, 2]
    assert not any(isinstance(p, ChunkDone) for p in loop.posted)
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert [name for name in left if name in WORKER_THREADS] == []


def test_a_decode_failure_reaches_the_session_as_a_generator_failure_after_the_frames_before_it(backend):
    observed = _ObservedBackend(backend, fail_at=(0, 2))
    loop = _Loop(observed)
    try:
        loop.request()
        loop.wait_for("the failure", lambda: any(isinstance(p, SessionFailed) for p in loop.posted))
    finally:
        loop.worker.stop(30)
    reported = [p for p in loop.posted if isinstance(p, FrameReady | SessionFailed)]
    assert [type(p) for p in reported] == [FrameReady, FrameReady, SessionFailed]
    failure = reported[-1]
    assert (failure.session, failure.world, failure.code) == (SESSION, WORLD, "generator_failed")
    assert "decoder exploded" in failure.message and not failure.world_lost
    assert not any(isinstance(p, ChunkDone) for p in loop.posted)
