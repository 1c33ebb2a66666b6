"""The asyncio WebSocket shell: the studio's static files and protocol v1 datagrams over WebSocket messages.

A second transport, not a second protocol: every WebSocket message carries exactly
one protocol datagram, byte for byte what UDP would carry (SPEC §13). Each
connection is a peer with a synthetic address (``WebSocketPeer``) that the same
sans-IO ``DaemonEndpoint`` sees; when the connection closes, the app frees its
session at once. The upgrade is refused unless the Host header names this
server and the Origin (if any) is this server's own page: no other web site and
no DNS-rebound name can drive a local daemon from a visitor's browser.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from yume_bridge.config import WebConfig
from yume_bridge.protocol.wire import DatagramKind, FrameHeader, datagram_kind

log = logging.getLogger(__name__)

WEBSOCKET_PATH = "/ws"
DRAIN_ON_CLOSE_S = 0.5
"""How long shutdown waits for each browser's queued goodbye before closing its connection."""
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
                 ".ico": "image/x-icon"}
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data: blob:; media-src 'self' blob:; "
                                "connect-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class WebSocketPeer(NamedTuple):
    """The address a WebSocket connection has in the protocol endpoint (a tuple, like a UDP address)."""

    transport: str
    connection: int


def load_static_files() -> dict[str, tuple[bytes, str]]:
    """URL path → (bytes, content type) of every file shipped in ``daemon/web``; nothing else is served."""
    root = resources.files("yume_bridge.daemon.web")
    files = {}
    for entry in root.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in CONTENT_TYPES:
            files["/" + entry.name] = (entry.read_bytes(), CONTENT_TYPES[suffix])
    if "/index.html" in files:
        files["/"] = files["/index.html"]
    return files


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``host:port`` of a Host header (IPv6 in brackets) → (lower-case host, port); None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else (None if not rest else "x")
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep:
            host, port_text = value, None
    if port_text is None:
        return host, None
    if not port_text.isdigit():
        return None
    return host, int(port_text)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class HostPolicy:
    """Which Host headers and Origins this server answers (SPEC §13.3)."""

    bound_host: str
    port: int

    def host_allowed(self, header: str | None) -> bool:
        parsed = _split_host(header) if header else None
        if parsed is None or parsed[1] != self.port:
            return False
        name = parsed[0]
        bound = self.bound_host.lower()
        bound_ip = _ip(bound)
        wildcard = bound_ip is not None and bound_ip.is_unspecified
        if name == "localhost":
            return wildcard or bound == "localhost" or (bound_ip is not None and bound_ip.is_loopback)
        ip = _ip(name)
        if ip is not None:
            return wildcard or ip == bound_ip or (bound == "localhost" and ip.is_loopback)
        return name == bound  # a DNS name only when the daemon was bound by that very name

    def origin_allowed(self, origin: str | None, host: str) -> bool:
        """No Origin: not a browser (no web site can drive it). Otherwise: this server's own page only."""
        return origin is None or origin.strip().lower() == f"http://{host.strip().lower()}"


@dataclass
class _Batch:
    frame: tuple[int, int] | None  # (session, frame) of fragment datagrams; None for one control message
    datagrams: list[bytes]
    size: int


class Outbox:
    """Datagrams waiting for one WebSocket peer, bounded.

    Overflow policy: frames are kept whole; when more than ``max_frame_bytes`` of
    frames wait, the oldest waiting frames are dropped (the newest frame wins, as
    in SPEC §6.3). Control messages are never dropped; a peer that lets more than
    ``max_control`` of them pile up is not reading, and ``put`` says so.
    """

    def __init__(self, *, max_frame_bytes: int, max_control: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.max_control = max_control
        self._batches: deque[_Batch] = deque()
        self._frame_bytes = 0
        self._control = 0
        self._ready = asyncio.Event()
        self.dropped_frames = 0

    def __len__(self) -> int:
        return len(self._batches)

    def put(self, data: bytes) -> bool:
        """Queue one datagram; False when the peer has stopped reading its control messages."""
        header = FrameHeader.unpack(data) if datagram_kind(data) is DatagramKind.FRAGMENT else None
        if header is None:
            if self._control >= self.max_control:
                return False
            self._batches.append(_Batch(None, [data], len(data)))
            self._control += 1
        else:
            key = (header.session, header.frame)
            last = self._batches[-1] if self._batches else None
            if last is not None and last.frame == key:
                last.datagrams.append(data)
                last.size += len(data)
            else:
                self._batches.append(_Batch(key, [data], len(data)))
            self._frame_bytes += len(data)
            self._drop_old_frames()
        self._ready.set()
        return True

    def _drop_old_frames(self) -> None:
        while self._frame_bytes > self.max_frame_bytes:
            oldest = next((b for b in self._batches if b.frame is not None), None)
            if oldest is None or oldest is self._batches[-1]:
                return  # the frame being queued is never dropped
            self._batches.remove(oldest)
            self._frame_bytes -= oldest.size
            self.dropped_frames += 1

    async def get(self) -> list[bytes]:
        """The next control message or whole frame, in order."""
        while not self._batches:
            self._ready.clear()
            await self._ready.wait()
        batch = self._batches.popleft()
        if batch.frame is None:
            self._control -= 1
        else:
            self._frame_bytes -= batch.size
        return batch.datagrams


@dataclass
class _Link:
    connection: ServerConnection
    outbox: Outbox


class StudioServer:
    """HTTP for the studio's files and WebSocket for its datagrams, on one TCP port."""

    def __init__(self, *, host: str, config: WebConfig, max_message_bytes: int,
                 on_datagrams: Callable[[list[tuple[bytes, tuple]]], None],
                 on_disconnect: Callable[[WebSocketPeer], None]) -> None:
        self.host = host
        self.config = config
        self.max_message_bytes = max_message_bytes
        self._on_datagrams = on_datagrams
        self._on_disconnect = on_disconnect
        self._files = load_static_files()
        self._ids = itertools.count(1)
        self._links: dict[WebSocketPeer, _Link] = {}
        self._tasks: set[asyncio.Task] = set()
        self._server: Server | None = None
        self.policy = HostPolicy(host, config.port)
        self.refused_upgrades = 0
        self.dropped_outbound = 0

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> tuple:
        """Listen; returns the bound (host, port)."""
        self._server = await serve(self._serve_connection, self.host, self.config.port,
                                   process_request=self._process_request, max_size=self.max_message_bytes,
                                   compression=None, server_header=None, logger=log)
        address = self.local_address
        self.policy = HostPolicy(self.host, address[1])
        return address

    async def close(self) -> None:
        """Let queued goodbyes reach the browsers (briefly), then close every connection. Idempotent."""
        if self._server is None:
            return
        deadline = asyncio.get_running_loop().time() + DRAIN_ON_CLOSE_S
        while any(len(link.outbox) for link in self._links.values()):
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.01)
        server, self._server = self._server, None
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), 2 * DRAIN_ON_CLOSE_S)
        except asyncio.TimeoutError:
            log.warning("studio connections did not close in time")

    @property
    def local_address(self) -> tuple:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[:2]

    @property
    def peers(self) -> tuple[WebSocketPeer, ...]:
        return tuple(self._links)

    # --- output -----------------------------------------------------------------------------

    def send(self, datagrams: list[tuple[bytes, tuple]]) -> None:
        for data, peer in datagrams:
            link = self._links.get(peer)  # type: ignore[arg-type]
            if link is None:
                self.dropped_outbound += 1  # the peer has gone (its goodbye, say)
            elif not link.outbox.put(data):
                log.info("closing %s: it stopped reading", peer)
                self._spawn(link.connection.close(1008, "not reading"))

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- HTTP -------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        host = request.headers.get("Host")
        if not self.policy.host_allowed(host):
            if request.path == WEBSOCKET_PATH:
                self.refused_upgrades += 1
            return connection.respond(http.HTTPStatus.MISDIRECTED_REQUEST,
                                      "This daemon answers only to the address it is bound to.\n")
        path = request.path.split("?", 1)[0]
        if path == WEBSOCKET_PATH:
            assert host is not None
            if not self.policy.origin_allowed(request.headers.get("Origin"), host):
                self.refused_upgrades += 1
                log.warning("refused a WebSocket from origin %r", request.headers.get("Origin"))
                return connection.respond(http.HTTPStatus.FORBIDDEN, "Cross-origin WebSocket refused.\n")
            return None  # the WebSocket handshake proceeds
        found = self._files.get(path)
        if found is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found.\n")
        body, content_type = found
        response = connection.respond(http.HTTPStatus.OK, "")
        for name in ("Content-Type", "Content-Length"):
            del response.headers[name]
        response.headers["Content-Type"] = content_type
        response.headers["Content-Length"] = str(len(body))
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        response.body = body
        return response

    # --- WebSocket --------------------------------------------------------------------------

    async def _serve_connection(self, connection: ServerConnection) -> None:
        peer = WebSocketPeer("websocket", next(self._ids))
        outbox = Outbox(max_frame_bytes=self.config.max_queued_frame_bytes,
                        max_control=self.config.max_queued_control)
        self._links[peer] = _Link(connection, outbox)
        writer = asyncio.get_running_loop().create_task(self._write(connection, outbox))
        log.info("studio connected: %s from %s", peer.connection, connection.remote_address)
        try:
            async for message in connection:
                data = message.encode("utf-8") if isinstance(message, str) else message
                self._on_datagrams([(data, peer)])
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            del self._links[peer]
            log.info("studio disconnected: %s (%s)", peer.connection, connection.close_code)
            self._on_disconnect(peer)

    @staticmethod
    async def _write(connection: ServerConnection, outbox: Outbox) -> None:
        try:
            while True:
                for data in await outbox.get():
                    await connection.send(data)
        except ConnectionClosed:
            pass
