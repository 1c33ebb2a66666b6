"""The asyncio UDP shell: a bounded inbound queue and a bounded send path, no business logic."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from yume_bridge.protocol.budget import TokenBucket

log = logging.getLogger(__name__)

INBOUND_QUEUE = 4096
"""Datagrams waiting to be processed; beyond this, new ones are dropped (counted)."""
SOURCE_RATE = (500.0, 1000.0)
"""Datagrams per second and burst one source address may send; beyond this they are dropped unread (counted).
A client's inputs, pings, nacks and upload pieces stay far below it; a flood costs the daemon almost nothing."""
TRACKED_SOURCES = 4096
"""Source addresses whose budgets are remembered; the least recently heard is forgotten first."""
INBOUND_PER_SOURCE = 256
"""Datagrams one source address may have waiting; beyond this its new ones are dropped (counted), so one
flooding peer cannot take the queue from the others."""
MAX_WRITE_BUFFER = 8 * 1024 * 1024
"""Bytes asyncio may buffer for sending; beyond this, datagrams are dropped (counted)."""
SEND_BUFFER = 4 * 1024 * 1024
RECEIVE_BUFFER = 4 * 1024 * 1024


def tune_socket(sock: socket.socket) -> None:
    for option, size in ((socket.SO_SNDBUF, SEND_BUFFER), (socket.SO_RCVBUF, RECEIVE_BUFFER)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
        except OSError:
            log.debug("could not set socket buffer %s", option)


class _TunedDatagramProtocol(asyncio.DatagramProtocol):
    """Keeps the transport and gives its socket the buffer sizes of ``tune_socket``."""

    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            tune_socket(sock)


class UdpEndpoint(_TunedDatagramProtocol):
    """Queues received datagrams per source and drains them in one callback per loop turn, taking the
    sources in turn (one datagram from each, round and round), so a flood from one peer is not served first."""

    def __init__(self, on_datagrams: Callable[[list[tuple[bytes, tuple]]], None]) -> None:
        self._on_datagrams = on_datagrams
        self._inbound: dict[tuple, deque[bytes]] = {}
        self._queued = 0
        self._budgets: OrderedDict[tuple, TokenBucket] = OrderedDict()
        self._scheduled = False
        self.dropped_inbound = 0
        self.dropped_outbound = 0

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if not self._within_budget(addr):
            self.dropped_inbound += 1
            return
        waiting = self._inbound.get(addr)
        if self._queued >= INBOUND_QUEUE or (waiting is not None and len(waiting) >= INBOUND_PER_SOURCE):
            self.dropped_inbound += 1
            return
        if waiting is None:
            waiting = self._inbound[addr] = deque()
        waiting.append(data)
        self._queued += 1
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _within_budget(self, addr: tuple) -> bool:
        budget = self._budgets.get(addr)
        if budget is None:
            budget = self._budgets[addr] = TokenBucket(*SOURCE_RATE)
            if len(self._budgets) > TRACKED_SOURCES:
                self._budgets.popitem(last=False)
        else:
            self._budgets.move_to_end(addr)
        return budget.take(time.monotonic())

    def _drain(self) -> None:
        self._scheduled = False
        batch = interleave(self._inbound)
        self._inbound = {}
        self._queued = 0
        self._on_datagrams(batch)

    def error_received(self, exc: Exception) -> None:
        log.debug("socket error: %s", exc)  # ICMP unreachable from a departed client, usually

    def send(self, datagrams: list[tuple[bytes, tuple]]) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for data, addr in datagrams:
            if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
                self.dropped_outbound += 1
                continue
            transport.sendto(data, addr)

    @property
    def local_address(self) -> tuple:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")


def interleave(queues: dict[tuple, deque[bytes]]) -> list[tuple[bytes, tuple]]:
    """One datagram from each source in turn until all are empty."""
    batch: list[tuple[bytes, tuple]] = []
    live = [(address, queue) for address, queue in queues.items() if queue]
    while live:
        for address, queue in live:
            batch.append((queue.popleft(), address))
        live = [(address, queue) for address, queue in live if queue]
    return batch


class CallbackDatagramProtocol(_TunedDatagramProtocol):
    """Hands every datagram to ``on_datagram(data, address)``; for clients and relays."""

    def __init__(self, on_datagram: Callable[[bytes, tuple], None]) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("socket error: %s", exc)  # ICMP port unreachable while a daemon restarts; timers retry
