"""The studio's WebSocket with the face of a connected datagram transport, for the reference client.

One protocol datagram per WebSocket message (SPEC §13), so the client's sans-IO endpoint runs
unchanged over it: ``sendto`` queues, one writer task sends in order, one reader task hands every
message to ``on_datagram`` as UDP would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

SEND_QUEUE = 4096
"""Datagrams waiting to be written; beyond this (a daemon that stopped reading) new ones are dropped."""
CLOSE_TIMEOUT_S = 2.0


class WebSocketLink:
    """``sendto``, ``close`` and ``wait_closed`` over one WebSocket connection."""

    def __init__(self, connection, on_datagram: Callable[[bytes, tuple], None]) -> None:
        self._connection = connection
        self._on_datagram = on_datagram
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=SEND_QUEUE)
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._write())]
        self._closing: asyncio.Task | None = None

    @classmethod
    async def connect(cls, host: str, port: int, on_datagram: Callable[[bytes, tuple], None]) -> WebSocketLink:
        connection = await connect(f"ws://{_url_host(host)}:{port}/ws", compression=None, max_size=None)
        return cls(connection, on_datagram)

    def sendto(self, data: bytes) -> None:
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            pass  # the daemon stopped reading: like a full socket buffer, the datagram is lost

    def close(self) -> None:
        """Close after what is queued has gone (``CLOSE_TIMEOUT_S`` at most); ``wait_closed`` waits for it."""
        if self._closing is None:
            try:
                self._queue.put_nowait(b"")  # the writer's signal to stop, after what is queued
            except asyncio.QueueFull:
                self._tasks[1].cancel()
            self._closing = asyncio.get_running_loop().create_task(self._finish())

    async def wait_closed(self) -> None:
        if self._closing is not None:
            await self._closing

    async def _finish(self) -> None:
        reader, writer = self._tasks
        await asyncio.wait({writer}, timeout=CLOSE_TIMEOUT_S)
        writer.cancel()
        await self._connection.close()
        reader.cancel()

    async def _read(self) -> None:
        try:
            async for message in self._connection:
                self._on_datagram(message if isinstance(message, bytes) else message.encode(), ("websocket", 0))
        except ConnectionClosed:
            pass

    async def _write(self) -> None:
        while (data := await self._queue.get()):
            try:
                await self._connection.send(data)
            except ConnectionClosed:
                return


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
