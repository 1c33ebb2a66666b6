"""Start images arriving in pieces (SPEC §5.4), sans-IO: one upload's byte ranges and the daemon's image cache.

A session holds at most one ``PartialUpload``; completed images live in one ``ImageCache`` per daemon endpoint,
shared by its sessions, so a start may name an image any session uploaded.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from yume_bridge.protocol.errors import RemoteProtocolError
from yume_bridge.protocol.messages import Upload
from yume_bridge.protocol.wire import ErrorCode

MAX_UPLOAD_RANGES = 1024
"""Disjoint pieces one upload may hold; beyond this the upload is refused (pieces must mostly be in order)."""
MAX_CACHED_IMAGES = 64


@dataclass
class PartialUpload:
    """One upload in progress: the bytes so far as sorted disjoint ranges (binary search, bounded count)."""

    digest: bytes
    buffer: bytearray
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    received: int = 0

    def add(self, offset: int, data: bytes) -> int:
        """Store a piece; returns the bytes held. RemoteProtocolError when the pieces are too scattered."""
        start, end = offset, offset + len(data)
        first = bisect.bisect_left(self.ends, start)  # ranges that end before the piece are untouched
        last = bisect.bisect_right(self.starts, end)  # ranges from first to last-1 touch or overlap it
        if first == last and len(self.starts) >= MAX_UPLOAD_RANGES:
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"upload has {MAX_UPLOAD_RANGES} separate pieces; "
                                      "send pieces in order")
        self.buffer[start:end] = data
        if first < last:
            start, end = min(start, self.starts[first]), max(end, self.ends[last - 1])
            self.received -= sum(self.ends[i] - self.starts[i] for i in range(first, last))
        self.starts[first:last] = [start]
        self.ends[first:last] = [end]
        self.received += end - start
        return self.received


def upload_for(in_progress: PartialUpload | None, piece: Upload) -> PartialUpload:
    """The upload a piece belongs to: the one in progress, or a new one when the piece names another image."""
    if in_progress is None or in_progress.digest != piece.hash:
        return PartialUpload(piece.hash, bytearray(piece.size))
    if len(in_progress.buffer) != piece.size:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "upload size changed between pieces")
    return in_progress


class ImageCache:
    """Completed uploads by SHA-256, bounded by bytes and by entries; the least recently used image goes first."""

    def __init__(self, *, max_bytes: int, image_problem: Callable[[bytes], str | None] | None = None):
        self.max_bytes = max_bytes
        self.image_problem = image_problem
        self._images: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._images)

    def get(self, digest: bytes) -> bytes | None:
        return self._images.get(digest)

    def refresh(self, digest: bytes) -> bool:
        """Whether the image is held; one that is counts as just used."""
        if digest not in self._images:
            return False
        self._images.move_to_end(digest)
        return True

    def add(self, digest: bytes, data: bytes) -> None:
        """Keep a completed upload; RemoteProtocolError when its bytes do not match the hash or are no image."""
        if hashlib.sha256(data).digest() != digest:
            raise RemoteProtocolError(ErrorCode.UPLOAD_MISMATCH, "uploaded bytes do not match their SHA-256")
        problem = self.image_problem(data) if self.image_problem is not None else None
        if problem is not None:
            raise RemoteProtocolError(ErrorCode.BAD_IMAGE, problem)
        self._images[digest] = data
        self._bytes += len(data)
        while len(self._images) > 1 and (self._bytes > self.max_bytes or len(self._images) > MAX_CACHED_IMAGES):
            self._bytes -= len(self._images.popitem(last=False)[1])
