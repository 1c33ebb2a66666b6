"""The two kinds of protocol error (as in h11): the peer's fault, and ours.

``RemoteProtocolError`` means a datagram was bad; it never escapes the datagram
handler and becomes an ``error`` message or a silent drop. ``LocalProtocolError``
means this side misused the API; it is raised to the caller.
"""

from __future__ import annotations

from yume_bridge.protocol.wire import ErrorCode


class ProtocolError(Exception):
    """Base of protocol errors."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something invalid; ``code`` is the wire error code to answer with."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.envelope: object | None = None
        """What could still be read of a bad control datagram (``codec.Envelope``), to answer it with ``ref``."""


class LocalProtocolError(ProtocolError):
    """This side asked for something the protocol does not allow in its current state."""
