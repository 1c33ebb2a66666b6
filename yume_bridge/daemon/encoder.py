"""JPEG encoding beside the generation thread: frames go in and come out encoded in the same order.

The generation thread only hands each frame over (``submit``) and goes on
decoding the next latent; one encoder thread turns frames into JPEG in
submission order and calls each frame's ``deliver`` with the result. A chunk's
end is marked with ``flush``, which returns once every frame submitted before it
has been delivered.

Buffer: at most ``capacity`` frames wait. Overflow policy: ``submit`` blocks until
there is room, so a slow encoder slows generation down instead of growing
memory or dropping frames (a frame lost here would be a hole in the video).
Frames handed over must not be modified afterwards (backends yield fresh arrays).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from yume_bridge.daemon.frames import encode_jpeg

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 64
"""Two chunks of 29 frames and some room: the generator never waits on a healthy encoder."""

Deliver = Callable[[bytes, float, float], None]
"""``deliver(jpeg, encode_seconds, done_at)``, called on the encoder thread."""


@dataclass(frozen=True)
class _Frame:
    pixels: np.ndarray
    quality: int
    deliver: Deliver


@dataclass(frozen=True)
class _Flush:
    done: threading.Event


_STOP = object()


class FrameEncoder:
    """One encoding thread with a bounded, ordered inbox."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY, clock: Callable[[], float] = time.monotonic,
                 encode: Callable[[np.ndarray, int], bytes] = encode_jpeg) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._inbox: queue.Queue = queue.Queue(maxsize=capacity)
        self._clock = clock
        self._encode = encode
        self._thread = threading.Thread(target=self._run, name="yume-jpeg", daemon=True)
        self._thread.start()

    def submit(self, pixels: np.ndarray, quality: int, deliver: Deliver) -> None:
        """Queue one RGB uint8 frame; blocks while ``capacity`` frames are waiting."""
        self._inbox.put(_Frame(pixels, quality, deliver))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every frame submitted so far is delivered; False if ``timeout`` passed first."""
        done = threading.Event()
        self._inbox.put(_Flush(done))
        return done.wait(timeout)

    def close(self, timeout: float) -> bool:
        """Deliver what is queued, then end the thread; True if it ended in time."""
        try:
            self._inbox.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._inbox.get()
            match item:
                case _Frame(pixels=pixels, quality=quality, deliver=deliver):
                    started = self._clock()
                    try:
                        jpeg = self._encode(pixels, quality)
                    except Exception:  # noqa: BLE001 - a frame that cannot be encoded must not end the thread
                        log.exception("a frame could not be encoded; it is skipped")
                        continue
                    done = self._clock()
                    try:
                        deliver(jpeg, done - started, done)
                    except Exception:  # noqa: BLE001
                        log.exception("delivering an encoded frame failed")
                case _Flush(done=done):
                    done.set()
                case _:
                    return
