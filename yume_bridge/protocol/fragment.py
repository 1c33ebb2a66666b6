"""Frames ↔ fragment datagrams (SPEC §6): splitting, and a bounded reassembler.

The reassembler keeps the receiver policy of SPEC §6.3: frames are shown in
order and never older than one shown, a few incomplete frames at most, NACKs for
what is missing, and a playout delay: a frame that completes while an older one
is being repaired waits for the repair, at most as long as repairs take.
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
MAX_FRAMES_IN_REPAIR = 8
"""Incomplete frames a receiver with a playout delay keeps: a quarter-second of repairs at 30 fps."""
MAX_FRAME_JUMP = 4096
"""Fragments this far beyond the newest complete frame are forgeries or garbage (SPEC §6.3)."""
MAX_NACKS_PER_FRAME = 8
NACK_QUIET_S = 0.005
"""Silence after which a frame's burst is over: what is missing then was lost."""
NACK_RETRY_S = 0.020
"""An index asked for is asked for again only after this long, or after a repair's measured time if longer."""
REORDER_SLACK = 8
"""A gap this far below the highest index received is a loss, not reordering: NACK it at once."""
MAX_HELD_FRAMES = 8
"""Complete frames held back behind a frame under repair (SPEC §6.3 playout delay); at most 4 MiB of them."""
PLAYOUT_INITIAL_S = 0.1
"""Playout delay before the first repair has been timed."""
PLAYOUT_MIN_S = 0.01


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
    first_asked: dict[int, float] = field(default_factory=dict)

    @property
    def bytes_held(self) -> int:
        return sum(len(p) for p in self.pieces.values())

    def missing(self) -> list[int]:
        return [i for i in range(self.first.fragment_count) if i not in self.pieces]


@dataclass(frozen=True)
class NackRequest:
    frame: int
    missing: tuple[int, ...]


class RepairClock:
    """How long a repair takes: NACK sent → fragment back, smoothed as TCP smooths its RTT (RFC 6298).

    A repair is timed from the first time its index was asked for: when that
    request or its answer was lost the sample is too long by a retry, which errs
    on the side of waiting longer, never of giving a repair up too early.
    """

    def __init__(self) -> None:
        self.smoothed_s: float | None = None
        self.variation_s = 0.0

    def sample(self, seconds: float) -> None:
        if self.smoothed_s is None:
            self.smoothed_s, self.variation_s = seconds, seconds / 2
            return
        self.variation_s += (abs(self.smoothed_s - seconds) - self.variation_s) / 4
        self.smoothed_s += (seconds - self.smoothed_s) / 8

    def retry_interval(self) -> float:
        """How long to wait for a repair before asking again: asking sooner only spends the daemon's resends."""
        if self.smoothed_s is None:
            return NACK_RETRY_S
        return max(NACK_RETRY_S, self.smoothed_s + 4 * self.variation_s)

    def playout_delay(self, limit_s: float) -> float:
        """How long a complete frame waits for an older one under repair: a repair's time and its spread."""
        if self.smoothed_s is None:
            return min(PLAYOUT_INITIAL_S, limit_s)
        return min(max(self.smoothed_s + 4 * self.variation_s + NACK_QUIET_S, PLAYOUT_MIN_S), limit_s)


@dataclass(frozen=True)
class _Held:
    frame: CompleteFrame
    until: float


class Reassembler:
    """Collects fragments of one session into frames, shown in order.

    Pure: time comes in as ``now``. ``push`` and ``release`` return the frames
    that may be shown now, oldest first, each newer than every frame returned
    before; ``nacks`` says what to ask for.

    Playout delay (SPEC §6.3): with ``max_playout_delay_s`` above 0, a frame that
    completes while an older frame is still being repaired is held until that
    frame completes or for the measured repair time (at most the limit), then
    shown; an older frame still incomplete then is dropped. With 0 the newest
    complete frame is shown at once and older incomplete frames are dropped
    (the v1.0 policy).
    """

    def __init__(self, session: int, *, max_incomplete: int = MAX_INCOMPLETE_FRAMES,
                 max_frame_bytes: int = MAX_FRAME_BYTES, deadline_s: float = 0.3,
                 max_nack_fragments: int = 128, max_playout_delay_s: float = 0.0) -> None:
        self.session = session
        self.max_incomplete = max_incomplete
        self.max_frame_bytes = max_frame_bytes
        self.deadline_s = deadline_s
        self.max_nack_fragments = max_nack_fragments
        self.max_playout_delay_s = max_playout_delay_s
        self.newest_complete = -1
        """The newest frame returned (shown)."""
        self.newest_seen = -1
        self.duplicates = 0
        self.dropped = 0
        self.evicted = 0
        self.held = 0
        """Frames that were held back behind a repair (counted once each)."""
        self.repairs = RepairClock()
        self._partials: OrderedDict[int, _Partial] = OrderedDict()
        self._held: dict[int, _Held] = {}

    def push(self, data: bytes, now: float) -> list[CompleteFrame]:
        """Take one fragment datagram; the frames that may be shown now, oldest first."""
        completed = self._collect(data, now)
        if completed is not None:
            number = completed.header.frame
            wait = self.max_playout_delay_s > 0 and (self._held or self._repairing_before(number, now))
            if not wait:
                self._show(number)
                return [completed]
            self.held += 1
            self._held[number] = _Held(completed, now + self.repairs.playout_delay(self.max_playout_delay_s))
        return self.release(now)

    def release(self, now: float) -> list[CompleteFrame]:
        """Held frames whose wait is over, oldest first: the older frame was repaired, dropped, or took too long."""
        shown = []
        while self._held:
            number = min(self._held)
            held = self._held[number]
            within_bounds = (len(self._held) <= MAX_HELD_FRAMES
                             and sum(len(h.frame.jpeg) for h in self._held.values()) <= self.max_frame_bytes)
            # Frames leave in order, so the oldest goes as soon as any held frame has waited long enough.
            waited_enough = now >= self.next_release_time()
            if within_bounds and not waited_enough and self._repairing_before(number, now):
                break
            del self._held[number]
            self._show(number)
            shown.append(held.frame)
        return shown

    def next_release_time(self) -> float | None:
        """When a held frame's wait runs out, or None."""
        return min((held.until for held in self._held.values()), default=None)

    def _repairing_before(self, number: int, now: float) -> bool:
        """Is a frame older than ``number`` (and newer than any shown) incomplete and still being asked for?"""
        return any(older < number and partial.nacks_sent < MAX_NACKS_PER_FRAME
                   and now - partial.last_arrival <= self.deadline_s
                   for older, partial in self._partials.items())

    def _show(self, number: int) -> None:
        self.newest_complete = number
        for older in [n for n in self._partials if n < number]:
            del self._partials[older]
            self.evicted += 1  # an older frame that can no longer be shown

    def _collect(self, data: bytes, now: float) -> CompleteFrame | None:
        """File one fragment; the frame it completes, if any."""
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
                    or header.frame in self._held or header.frame_length > self.max_frame_bytes
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
        if data[3] & FrameFlags.RETRANSMISSION and index in partial.first_asked:
            self.repairs.sample(now - partial.first_asked[index])
        partial.pieces[index] = payload
        if len(partial.pieces) < header.fragment_count:
            return None
        jpeg = b"".join(partial.pieces[i] for i in range(header.fragment_count))
        del self._partials[header.frame]
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
        retry_s = self.repairs.retry_interval()
        for number, partial in self._partials.items():
            if partial.nacks_sent >= MAX_NACKS_PER_FRAME or now - partial.last_arrival > self.deadline_s:
                continue
            # Times are compared as next_nack_time computes them (a sum, then <=), so that a wake-up it
            # announces never finds nothing to ask for through a rounding difference.
            burst_over = self.newest_seen > number or partial.last_arrival + NACK_QUIET_S <= now
            limit = partial.first.fragment_count if burst_over else partial.highest_index - REORDER_SLACK + 1
            missing = [i for i in range(max(limit, 0)) if i not in partial.pieces
                       and (i not in partial.requested or partial.requested[i] + retry_s <= now)]
            missing = missing[: self.max_nack_fragments]
            if missing:
                partial.nacks_sent += 1
                for index in missing:
                    partial.first_asked.setdefault(index, now)
                    partial.requested[index] = now
                requests.append(NackRequest(number, tuple(missing)))
        return requests

    def next_nack_time(self) -> float | None:
        """When ``nacks`` will next have something to say (a time already past: now), or None.

        Exact, so that a receiver waiting on it never spins: each missing index is
        due when its burst is over (at once for a gap well below the highest index
        received) or its retry interval has passed, and never after the frame's deadline.
        """
        times = []
        retry_s = self.repairs.retry_interval()
        for number, partial in self._partials.items():
            if partial.nacks_sent >= MAX_NACKS_PER_FRAME:
                continue
            burst_over = partial.last_arrival if self.newest_seen > number else partial.last_arrival + NACK_QUIET_S
            for index in partial.missing():
                # Askable once the burst is over (at once for a gap well below the highest index received) ...
                due = partial.last_arrival if index <= partial.highest_index - REORDER_SLACK else burst_over
                if index in partial.requested:  # ... and, if asked for already, once the retry interval has passed
                    due = max(due, partial.requested[index] + retry_s)
                if due - partial.last_arrival <= self.deadline_s:
                    times.append(due)
        return min(times, default=None)

    def arriving(self, now: float, within_s: float) -> bool:
        """True if the newest frame is incomplete and got a fragment within ``within_s``."""
        partial = self._partials.get(self.newest_seen)
        return partial is not None and now - partial.last_arrival <= within_s

    @property
    def incomplete_frames(self) -> int:
        return len(self._partials)
