"""What a session keeps of the frames it was sent, to answer nacks (SPEC §5.10), sans-IO.

Resends are bounded three ways: each fragment at most ``MAX_RESENDS_PER_FRAGMENT`` times, each nack's answer by
an allowance the endpoint gives (a multiple of the nack's size), and each session by a ``ResendBudget`` that
earns a share of the stream bytes it was sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from yume_bridge.protocol.budget import ResendBudget
from yume_bridge.protocol.messages import Nack
from yume_bridge.protocol.wire import FrameFlags

RETRANSMIT_HISTORY_FRAMES = 16
MAX_RESENDS_PER_FRAGMENT = 2
RESEND_SHARE = 0.25
"""Resent bytes are at most this share of the stream bytes a session was sent (a nack flood: ≤ 1.25× the stream)."""


@dataclass
class SentFrame:
    number: int
    first_sent: float
    datagrams: list[bytes]
    size: int
    resends: bytearray


@dataclass
class FrameHistory:
    """The last ``RETRANSMIT_HISTORY_FRAMES`` frames sent to one session, and what may still be resent of them."""

    frames: deque[SentFrame] = field(default_factory=lambda: deque(maxlen=RETRANSMIT_HISTORY_FRAMES))
    size: int = 0
    budget: ResendBudget = field(default_factory=lambda: ResendBudget(RESEND_SHARE))

    def record(self, number: int, now: float, datagrams: list[bytes]) -> None:
        """Keep a frame's datagrams; the oldest frame makes room."""
        size = sum(len(d) for d in datagrams)
        if len(self.frames) == self.frames.maxlen:
            self.size -= self.frames[0].size
        self.frames.append(SentFrame(number, now, datagrams, size, bytearray(len(datagrams))))
        self.size += size
        self.budget.earn(size, self.size)

    def resends(self, nack: Nack, now: float, *, deadline: float, max_fragments: int, allowance: int) -> list[bytes]:
        """The datagrams to send again for a nack, marked as retransmissions: none for a frame that is unknown or
        older than ``deadline`` seconds, and together no larger than ``allowance`` bytes."""
        sent = next((s for s in self.frames if s.number == nack.frame), None)
        if sent is None or now - sent.first_sent > deadline:
            return []  # unknown or stale: never resent
        out = []
        for index in sorted(set(nack.missing))[:max_fragments]:
            if index >= len(sent.datagrams) or sent.resends[index] >= MAX_RESENDS_PER_FRAGMENT:
                continue
            datagram = bytearray(sent.datagrams[index])
            if len(datagram) > allowance or not self.budget.spend(len(datagram)):
                break
            allowance -= len(datagram)
            sent.resends[index] += 1
            datagram[3] |= FrameFlags.RETRANSMISSION
            out.append(bytes(datagram))
        return out
