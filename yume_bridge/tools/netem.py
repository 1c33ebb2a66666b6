"""A lossy loopback relay for measurements: drops, reorders and duplicates datagrams both ways.

The client talks to the relay's port; the relay forwards to the daemon from one
upstream socket. Randomness is seeded so that runs are comparable.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from yume_bridge.daemon.udp import CallbackDatagramProtocol
from yume_bridge.protocol.wire import FRAME_MAGIC, FrameFlags


@dataclass(frozen=True)
class LinkProfile:
    loss: float = 0.0
    """Probability that a datagram is dropped, each direction."""
    reorder: float = 0.0
    """Probability that a datagram is held back by ``reorder_delay_s``."""
    reorder_delay_s: float = 0.004
    duplicate: float = 0.0
    seed: int = 1


@dataclass
class LinkCounters:
    downstream_datagrams: int = 0
    downstream_bytes: int = 0
    retransmitted_bytes: int = 0
    dropped: int = 0


class LossyRelay:
    """``async with LossyRelay(daemon_port, profile) as port:`` — point the client at ``port``."""

    def __init__(self, daemon_port: int, profile: LinkProfile, host: str = "127.0.0.1") -> None:
        self.daemon = (host, daemon_port)
        self.host = host
        self.profile = profile
        self.rng = random.Random(profile.seed)
        self.counters = LinkCounters()
        self._client_address = None
        self._front: CallbackDatagramProtocol | None = None
        self._back: CallbackDatagramProtocol | None = None

    async def __aenter__(self) -> int:
        loop = asyncio.get_running_loop()
        _, self._front = await loop.create_datagram_endpoint(lambda: CallbackDatagramProtocol(self.from_client),
                                                             local_addr=(self.host, 0))
        _, self._back = await loop.create_datagram_endpoint(
            lambda: CallbackDatagramProtocol(lambda data, _: self.from_daemon(data)), remote_addr=self.daemon)
        return self._front.transport.get_extra_info("sockname")[1]

    async def __aexit__(self, *exc) -> None:
        for side in (self._front, self._back):
            if side is not None and side.transport is not None:
                side.transport.close()

    def _deliver(self, send, data: bytes) -> None:
        profile, rng = self.profile, self.rng
        if rng.random() < profile.loss:
            self.counters.dropped += 1
            return
        copies = 2 if rng.random() < profile.duplicate else 1
        for _ in range(copies):
            if rng.random() < profile.reorder:
                asyncio.get_running_loop().call_later(profile.reorder_delay_s, send, data)
            else:
                send(data)

    def from_client(self, data: bytes, addr) -> None:
        self._client_address = addr
        if self._back is not None and self._back.transport is not None:
            self._deliver(self._back.transport.sendto, data)

    def from_daemon(self, data: bytes) -> None:
        counters = self.counters
        counters.downstream_datagrams += 1
        counters.downstream_bytes += len(data)
        if data[:2] == FRAME_MAGIC and len(data) > 3 and data[3] & FrameFlags.RETRANSMISSION:
            counters.retransmitted_bytes += len(data)
        front, address = self._front, self._client_address
        if front is not None and front.transport is not None and address is not None:
            self._deliver(lambda d: front.transport.sendto(d, address), data)
