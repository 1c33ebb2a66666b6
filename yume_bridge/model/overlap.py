"""Chunk k's VAE decode beside chunk k+1's DiT: a decode thread (its own CUDA stream) behind the sampling thread.

Two pieces, used by the daemon's decode thread and by ``overlapped_frames``:

- ``hand_over(sampled)`` runs on the sampling thread right after
  ``Session.sample_chunk`` and marks (a CUDA event) the point where the chunk's
  latents are complete, so the sampling thread goes on without waiting for them.
- ``DecodeStream(device).frames(session, handed)`` runs on the decode thread:
  its own CUDA stream waits for that event, copies the latents to the decode
  device (the VAE may sit on another GPU) and decodes them latent by latent.

Frames come out exactly as ``Session.generate_chunk`` would give them, in the
same order: sampling alone touches the history and the noise stream, decoding
reads only the chunk's own latents.

``overlapped_frames(session, captions)`` is the standalone loop (the GPU
benchmark's): it samples each chunk on the calling thread and hands its latents
to one decode thread. Buffers: the hand-off holds at most one sampled chunk (the
caller waits, still passing frames on, while the decoder is busy with the
previous one), so at most two chunks' frames are ever waiting to be taken.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from yume_bridge.model.pipeline import SampledChunk, Session

__all__ = ["DecodeStream", "HandedOver", "OverlappedFrame", "hand_over", "overlapped_frames"]

_POLL_S = 0.005


@dataclass(frozen=True)
class HandedOver:
    """A sampled chunk on its way to the decode thread."""

    sampled: SampledChunk
    ready: torch.cuda.Event | None
    """Recorded on the sampling thread's stream once the latents are complete (None on a CPU)."""


def hand_over(sampled: SampledChunk) -> HandedOver:
    """Called on the sampling thread right after ``sample_chunk``: never waits for the device."""
    latents = sampled.latents
    if not latents.is_cuda:
        return HandedOver(sampled, None)
    ready = torch.cuda.Event()
    ready.record(torch.cuda.current_stream(latents.device))
    return HandedOver(sampled, ready)


class DecodeStream:
    """Decodes handed-over chunks on a CUDA stream of the decode device of its own (plain calls on a CPU).

    One thread uses it; the stream is current only while a latent is being decoded, never across a yield.
    """

    def __init__(self, device: torch.device) -> None:
        self._stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def frames(self, session: Session, handed: HandedOver) -> Iterator[np.ndarray]:
        if self._stream is None:
            yield from session.decode_chunk(handed.sampled)
            return
        latents = handed.sampled.latents
        with torch.cuda.stream(self._stream):
            if handed.ready is not None:
                self._stream.wait_event(handed.ready)  # the latents are complete on the sampling stream
            if latents.device == self._stream.device:
                latents.record_stream(self._stream)  # not reused by the sampling stream while decoded here
        frames = session.decode_chunk(handed.sampled)
        try:
            while True:
                with torch.cuda.stream(self._stream):
                    frame = next(frames, None)
                if frame is None:
                    return
                yield frame
        finally:
            frames.close()


@dataclass(frozen=True)
class OverlappedFrame:
    chunk: int
    """Index of the chunk within this call (0 for the first caption)."""
    index: int
    """Frame number within its chunk."""
    pixels: np.ndarray
    ready_at: float
    """``time.perf_counter()`` when the frame reached the host (a consumer on another thread could send it then)."""


@dataclass(frozen=True)
class _Handoff:
    chunk: int
    handed: HandedOver


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def _decode_loop(session: Session, inbox: queue.Queue, outbox: queue.Queue) -> None:
    decoder = DecodeStream(session.models.decode_device)
    try:
        while (item := inbox.get()) is not _END:
            for index, pixels in enumerate(decoder.frames(session, item.handed)):
                outbox.put(OverlappedFrame(item.chunk, index, pixels, time.perf_counter()))
    except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
        outbox.put(_Failed(exc))
    outbox.put(_END)


def _take_ready(outbox: queue.Queue) -> Iterator[OverlappedFrame]:
    """The frames decoded so far, without waiting."""
    while True:
        try:
            item = outbox.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, _Failed):
            raise item.error
        if item is _END:
            raise RuntimeError("the decode thread ended before its last chunk")
        yield item


def _hand_over(inbox: queue.Queue, outbox: queue.Queue, item: object) -> Iterator[OverlappedFrame]:
    """Put ``item`` for the decode thread, passing on finished frames while it is still busy."""
    while True:
        try:
            inbox.put(item, timeout=_POLL_S)
            return
        except queue.Full:
            yield from _take_ready(outbox)


def overlapped_frames(session: Session, captions: Iterable[torch.Tensor]) -> Iterator[OverlappedFrame]:
    """Generate one chunk per text-state tensor in ``captions``, decoding each beside the next one's sampling."""
    inbox: queue.Queue = queue.Queue(maxsize=1)
    outbox: queue.Queue = queue.Queue()  # bounded by the one-chunk hand-off: ≤ 2 chunks of frames wait here
    decoder = threading.Thread(target=_decode_loop, args=(session, inbox, outbox), name="yume-decode", daemon=True)
    decoder.start()
    try:
        for chunk, states in enumerate(captions):
            sampled = session.sample_chunk(states)  # the DiT of this chunk runs while the previous one decodes
            yield from _hand_over(inbox, outbox, _Handoff(chunk, hand_over(sampled)))
            yield from _take_ready(outbox)
        yield from _hand_over(inbox, outbox, _END)
        while (item := outbox.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        if decoder.is_alive():  # abandoned early: drop the chunk not yet begun, let the thread leave
            with contextlib.suppress(queue.Empty):
                inbox.get_nowait()
            with contextlib.suppress(queue.Full):
                inbox.put_nowait(_END)
