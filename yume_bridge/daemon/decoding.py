"""A chunk's frames on their way to the loop, and the decode thread that lets the next chunk be sampled meanwhile.

``ChunkStreamer`` is the one frame loop of the worker: it labels each frame,
hands it to the JPEG encoder, stops a chunk that a cut discarded and ends the
chunk with ``ChunkDone`` (or ``SessionFailed``). The generation thread runs it
for a world that makes whole chunks (``run_whole``). For a world that splits its
chunks into sampling and decoding, the generation thread only samples and hands
the chunk to the ``DecodeThread``, which runs the same loop (``run_decode``)
while the generation thread goes on with its next job: the next chunk of the
same session or another session's work.

Buffer: one sampled chunk waits for the decode thread besides the one it is
decoding. Overflow policy: the generation thread waits for room (and gives up
when the worker stops or abandons it), so sampling never runs more than one
chunk ahead of decoding and at most three chunks' latents are held at once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from yume_bridge.backends.base import BackendError, ChunkRequest, ChunkTiming, SampledChunk, World
from yume_bridge.daemon.encoder import FrameEncoder
from yume_bridge.daemon.results import ChunkDone, ChunkTimes, FrameReady, SessionFailed

log = logging.getLogger(__name__)

POLL_S = 0.25
"""How often a waiting thread looks whether it should stop."""


class Cuts(Protocol):
    def outdated(self, epoch: int, chunk: int, frame_in_chunk: int) -> bool:
        """True for a frame of a chunk begun before a cut that the cut did not keep."""


@dataclass
class Progress:
    """What one of the worker's threads is busy with and when it last moved on (the stall watchdog reads it)."""

    session: int
    world: int
    progress_at: float


@dataclass(frozen=True)
class ChunkJob:
    """One chunk begun on the generation thread: its conditioning, and what its frames and reports carry."""

    session: int
    world: int
    number: int
    """Session-wide chunk number."""
    request: ChunkRequest
    input_seq: int
    epoch: int
    events_version: int
    quality: int
    frames: int
    """Frames per chunk."""
    asked_at: float
    started_at: float
    cuts: Cuts
    generation: int
    """The worker thread generation that began it: reports of an abandoned one are dropped."""


class _ChunkOutput:
    """Per-chunk figures shared with the encoder thread, which delivers the frames."""

    def __init__(self, streamer: ChunkStreamer, job: ChunkJob) -> None:
        self._streamer, self._job = streamer, job
        self.encode_s = 0.0
        self.timing: ChunkTiming | None = None

    def deliver(self, index: int, cost_s: float, jpeg: bytes, seconds: float, done: float) -> None:  # encoder thread
        job = self._job
        self.encode_s += seconds
        times = ChunkTimes(job.asked_at, job.started_at, self.timing, seconds) if index == 0 else None
        self._streamer.emit(job.generation, FrameReady(
            job.session, job.world, job.number, index, index == job.frames - 1, jpeg, job.input_seq,
            job.request.action.id, done, job.request.index, job.epoch, job.events_version, cost_s, times))


class ChunkStreamer:
    """Frames of one chunk at a time → JPEG encoder → ``FrameReady``; then ``ChunkDone`` (or the failure)."""

    def __init__(self, *, encoder: FrameEncoder, emit: Callable[[int, object], bool],
                 wanted: Callable[[ChunkJob, World], bool], clock: Callable[[], float]) -> None:
        self._encoder = encoder
        self.emit = emit
        self._wanted = wanted
        """False once the chunk's thread was abandoned, the worker stops, or its world was closed or replaced."""
        self._clock = clock

    def run_whole(self, job: ChunkJob, world: World, progress: Progress | None) -> None:
        """Sample and decode on this thread (a world that does not split its chunks)."""
        self._stream(job, world, lambda: world.generate_chunk(job.request), progress, sample_s=0.0, apart=False)

    def run_decode(self, job: ChunkJob, world: World, chunk: SampledChunk, progress: Progress | None) -> None:
        """Decode a chunk the generation thread sampled."""
        self._stream(job, world, lambda: world.decode_chunk(chunk), progress, sample_s=chunk.sample_s, apart=True)

    def fail(self, job: ChunkJob, exc: Exception) -> None:
        """Report a chunk that failed as the session's failure, after the frames made before it."""
        if isinstance(exc, BackendError):
            message = str(exc)
        else:  # a backend bug must not kill the daemon for everyone
            log.error("backend raised while generating", exc_info=exc)
            message = f"generator error: {exc}"
        self._encoder.flush()
        self.emit(job.generation, SessionFailed(job.session, job.world, "generator_failed", message))

    def _stream(self, job: ChunkJob, world: World, frames_of: Callable[[], Iterator[np.ndarray]],
                progress: Progress | None, *, sample_s: float, apart: bool) -> None:
        began = self._clock() - sample_s  # the chunk's own generator time starts with its sampling
        if not self._wanted(job, world):
            return
        if job.cuts.outdated(job.epoch, job.number, 0):  # cut before a frame was made: not even decoded
            self._done(job, began, began + sample_s, began, cancelled=True, apart=apart, encode_s=0.0)
            return
        output = _ChunkOutput(self, job)
        last = began
        frames: Iterator[np.ndarray] | None = None
        try:
            frames = frames_of()
            for index, frame in enumerate(frames):
                made = self._clock()
                if progress is not None:
                    progress.progress_at = made
                if not self._wanted(job, world):
                    return
                if job.cuts.outdated(job.epoch, job.number, index):  # cut: this frame would never be shown
                    self._done(job, began, made, last, cancelled=True, apart=apart, encode_s=output.encode_s)
                    return
                if index == 0:
                    output.timing = world.timing
                self._encoder.submit(frame, job.quality, _bind(output.deliver, index, made - last))
                last = made
        except Exception as exc:  # noqa: BLE001 - reported to the session, see fail()
            self.fail(job, exc)
            return
        finally:
            if isinstance(frames, Generator):
                frames.close()  # a chunk left early stops decoding now, on this thread
        self._done(job, began, self._clock(), last, cancelled=False, apart=apart, encode_s=output.encode_s)

    def _done(self, job: ChunkJob, began: float, end: float, last: float, *, cancelled: bool, apart: bool,
              encode_s: float) -> None:
        self._encoder.flush()  # ChunkDone follows the chunk's last frame
        self.emit(job.generation, ChunkDone(job.session, job.world, job.number, job.started_at - job.asked_at,
                                            end - began, encode_s, job.epoch, cancelled=cancelled,
                                            unreported_s=end - last, sampled_apart=apart))


def _bind(deliver: Callable[..., None], index: int, cost_s: float) -> Callable[[bytes, float, float], None]:
    return lambda jpeg, seconds, done: deliver(index, cost_s, jpeg, seconds, done)


@dataclass(frozen=True)
class _Decode:
    job: ChunkJob
    world: World
    chunk: SampledChunk


class DecodeThread:
    """The worker's second thread: decodes sampled chunks one at a time, in the order they were handed over.

    Started by the first hand-over, so a backend whose worlds never split their chunks never starts it.
    """

    def __init__(self, streamer: ChunkStreamer, clock: Callable[[], float]) -> None:
        self._streamer = streamer
        self._clock = clock
        self._slot: queue.Queue[_Decode] = queue.Queue(maxsize=1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="yume-decode", daemon=True)
        self.busy: Progress | None = None
        """The chunk being decoded, for the stall watchdog."""

    def hand_over(self, job: ChunkJob, world: World, chunk: SampledChunk, *,
                  keep_waiting: Callable[[], bool]) -> bool:
        """Queue ``chunk`` for decoding; waits while one is already queued. False (dropped) if told to stop."""
        if self._thread.ident is None and not self._closed.is_set():
            self._thread.start()
        while not self._closed.is_set():
            try:
                self._slot.put(_Decode(job, world, chunk), timeout=POLL_S)
                return True
            except queue.Full:
                if not keep_waiting():
                    return False
        return False

    def close(self, timeout: float) -> bool:
        """Drop the chunk not yet begun, let the one being decoded stop at its next frame; True once ended."""
        self._closed.set()
        try:
            self._slot.get_nowait()
        except queue.Empty:
            pass
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                item = self._slot.get(timeout=POLL_S)
            except queue.Empty:
                continue
            self.busy = Progress(item.job.session, item.job.world, self._clock())
            try:
                self._streamer.run_decode(item.job, item.world, item.chunk, self.busy)
            finally:
                self.busy = None
