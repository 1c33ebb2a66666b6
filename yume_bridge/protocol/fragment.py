"""Frames ↔ fragment datagrams (SPEC §6): splitting, and a bounded reassembler.

The reassembler keeps the receiver policy of SPEC §6.3: newest complete frame
wins, a few incomplete frames at most, and NACKs for what is missing.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from yume_bridge.protocol.wire import FRAME_HEADER_BYTES, FrameFlags, FrameHeader

_FRAGMENT_FIELDS = struct.Struct("<HHH")  # fragment_index, fragment_count, payload_length at offset 18
_SAME_FRAME_FLAGS = int(FrameFlags.LAST_IN_CHUNK | FrameFlags.AFTER_CUT)
"""Flag bits every fragment of a frame repeats (SPEC §6.2; reserved bits are not compared)."""
MAX_FRAME_BYTES = 4 * 1024 * 1024
MAX_INCOMPLETE_FRAMES = 4
MAX_FRAME_JUMP = 4096
"""Fragments this far beyond the newest complete frame are forgeries or garbage (SPEC §6.3)."""
MAX_NACKS_PER_FRAME = 8
NACK_QUIET_S = 0.005
"""Silence after which a frame's burst is over: what is missing then was lost."""
NACK_RETRY_S = 0.020
"""An index asked for is asked for again only after this long."""
REORDER_SLACK = 8
"""A gap this far below the highest index received is a loss, not reordering: NACK it at once."""


def fragment_count(frame_length: int, max_datagram: int) -> int:
    return -(-frame_length // (max_datagram - FRAME_HEADER_BYTES))


def split_frame(header: FrameHeader, jpeg: bytes, max_datagram: int) -> list[bytes]:
    """All fragment datagrams of one frame; ``header`` gives every field but the fragment ones."""
    if not jpeg:
        raise ValueError("a frame must have at least one byte")
    if max_datagram <= FRAME_HEADER_BYTES:
        raise ValueError(f"max_datagram must exceed the {FRAME_HEADER_BYTES}-byte header")
    count = fragment_count(len(jpeg), max_datagram)
    if count > 0xFFFF:
        raise ValueError(f"frame of {len(jpeg)} bytes needs {count} fragments, more than 65535")
    stride = -(-len(jpeg) // count)
    # Pack the shared header once and patch the three per-fragment fields: this runs ~70 times a frame.
    head = bytearray(replace(header, fragment_index=0, fragment_count=count, payload_length=0,
                             frame_length=len(jpeg)).pack())
    datagrams = []
    for index in range(count):
        piece = jpeg[index * stride:(index + 1) * stride]
        _FRAGMENT_FIELDS.pack_into(head, 18, index, count, len(piece))
        datagrams.append(bytes(head) + piece)
    return datagrams


def parse_fragment(data: bytes) -> tuple[FrameHeader, bytes] | None:
    """Header and payload of a valid fragment datagram; None for anything inconsistent."""
    header = FrameHeader.unpack(data)
    if header is None:
        return None
    expected = header.expected_payload_length()
    payload = data[FRAME_HEADER_BYTES:]
    if expected is None or header.payload_length != expected or len(payload) != expected:
        return None
    return header, payload


@dataclass(frozen=True)
class CompleteFrame:
    header: FrameHeader
    jpeg: bytes


@dataclass
class _Partial:
    first: FrameHeader
    raw: bytes  # the first fragment's header bytes
    stride: int = 0
    pieces: dict[int, bytes] = field(default_factory=dict)
    last_arrival: float = 0.0
    nacks_sent: int = 0
    highest_index: int = -1
    requested: dict[int, float] = field(default_factory=dict)

    @property
    def bytes_held(self) -> int:
        return sum(len(p) for p in self.pieces.values())

    def missing(self) -> list[int]:
        return [i for i in range(self.first.fragment_count) if i not in self.pieces]


@dataclass(frozen=True)
class NackRequest:
    frame: int
    missing: tuple[int, ...]


class Reassembler:
    """Collects fragments of one session into frames, newest-complete-frame first.

    Pure: time comes in as ``now``. ``push`` returns a frame when one completes
    that is newer than every frame returned before; ``nacks`` says what to ask for.
    """

    def __init__(self, session: int, *, max_incomplete: int = MAX_INCOMPLETE_FRAMES,
                 max_frame_bytes: int = MAX_FRAME_BYTES, deadline_s: float = 0.3,
                 max_nack_fragments: int = 128) -> None:
        self.session = session
        self.max_incomplete = max_incomplete
        self.max_frame_bytes = max_frame_bytes
        self.deadline_s = deadline_s
        self.max_nack_fragments = max_nack_fragments
        self.newest_complete = -1
        self.newest_seen = -1
        self.duplicates = 0
        self.dropped = 0
        self.evicted = 0
        self._partials: OrderedDict[int, _Partial] = OrderedDict()

    def push(self, data: bytes, now: float) -> CompleteFrame | None:
        if len(data) < FRAME_HEADER_BYTES:
            self.dropped += 1
            return None
        partial = self._partials.get(int.from_bytes(data[8:12], "little"))
        if partial is not None:
            # Fast path: a further fragment of a known frame must repeat the first one's header.
            raw = partial.raw
            index, count, payload_length = _FRAGMENT_FIELDS.unpack_from(data, 18)
            stride = partial.stride
            expected = min(stride, partial.first.frame_length - index * stride) if index < count else -1
            if (payload_length != expected or len(data) - FRAME_HEADER_BYTES != expected
                    or data[4:18] != raw[4:18] or data[24:43] != raw[24:43] or data[20:22] != raw[20:22]
                    or data[:3] != raw[:3] or (data[3] ^ raw[3]) & _SAME_FRAME_FLAGS):
                self.dropped += 1
                return None
            payload = data[FRAME_HEADER_BYTES:]
        else:
            parsed = parse_fragment(data)
            if parsed is None:
                self.dropped += 1
                return None
            header, payload = parsed
            if (header.session != self.session or header.frame <= self.newest_complete
                    or header.frame_length > self.max_frame_bytes
                    or (self.newest_complete >= 0 and header.frame > self.newest_complete + MAX_FRAME_JUMP)):
                self.dropped += 1
                return None
            partial = _Partial(first=header, raw=data[:FRAME_HEADER_BYTES], stride=header.stride)
            self._partials[header.frame] = partial
            self._evict()
            if header.frame not in self._partials:
                return None
            index = header.fragment_index
        header = partial.first
        self.newest_seen = max(self.newest_seen, header.frame)
        partial.last_arrival = now
        partial.highest_index = max(partial.highest_index, index)
        if index in partial.pieces:
            self.duplicates += 1
            return None
        partial.pieces[index] = payload
        if len(partial.pieces) < header.fragment_count:
            return None
        jpeg = b"".join(partial.pieces[i] for i in range(header.fragment_count))
        self.newest_complete = header.frame
        for number in [n for n in self._partials if n <= header.frame]:
            if number != header.frame:
                self.evicted += 1  # an older frame that can no longer be shown
            del self._partials[number]
        return CompleteFrame(replace(header, fragment_index=0, payload_length=len(jpeg),
                                     flags=header.flags & ~FrameFlags.RETRANSMISSION), jpeg)

    def _evict(self) -> None:
        # Oldest frames go first when there are too many or they hold too many bytes.
        while len(self._partials) > self.max_incomplete or (
                len(self._partials) > 1 and sum(p.bytes_held for p in self._partials.values()) > self.max_frame_bytes):
            oldest = min(self._partials)
            del self._partials[oldest]
            self.evicted += 1

    def nacks(self, now: float) -> list[NackRequest]:
        """Missing fragments worth asking for now (SPEC §6.3); marks them as asked.

        A gap well below the highest index received is asked for at once, while the
        burst is still arriving, so that the retransmission beats the next frame;
        the rest once the burst has gone quiet or a newer frame has begun.
        """
        requests = []
        for number, partial in self._partials.items():
            if partial.nacks_sent >= MAX_NACKS_PER_FRAME or now - partial.last_arrival > self.deadline_s:
                continue
            burst_over = self.newest_seen > number or now - partial.last_arrival >= NACK_QUIET_S
            limit = partial.first.fragment_count if burst_over else partial.highest_index - REORDER_SLACK
            missing = [i for i in range(max(limit, 0)) if i not in partial.pieces
                       and now - partial.requested.get(i, -1.0) >= NACK_RETRY_S][: self.max_nack_fragments]
            if missing:
                partial.nacks_sent += 1
                for index in missing:
                    partial.requested[index] = now
                requests.append(NackRequest(number, tuple(missing)))
        return requests

    def next_nack_time(self) -> float | None:
        """When ``nacks`` may next have something to say, or None."""
        times = []
        for partial in self._partials.values():
            if partial.nacks_sent < MAX_NACKS_PER_FRAME:
                times.append(partial.last_arrival + NACK_QUIET_S)
                times.extend(t + NACK_RETRY_S for t in partial.requested.values())
        return min(times) if times else None

    def arriving(self, now: float, within_s: float) -> bool:
        """True if the newest frame is incomplete and got a fragment within ``within_s``."""
        partial = self._partials.get(self.newest_seen)
        return partial is not None and now - partial.last_arrival <= within_s

    @property
    def incomplete_frames(self) -> int:
        return len(self._partials)
