"""The daemon's side of the handshake (SPEC §3.1, §4.2, §5.3), sans-IO.

What the daemon says about itself (``ServerInfo``), which hellos it refuses, and the welcome that opens a session
for the rest. The stateless cookie exchange before this point is ``auth``'s; keeping sessions is the endpoint's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from yume_bridge.protocol import auth
from yume_bridge.protocol.messages import Hello, Vocabulary, Welcome, WireLimits
from yume_bridge.protocol.paths import Address, host_of
from yume_bridge.protocol.wire import CAPABILITIES, PROTOCOL_MINOR, PROTOCOL_VERSION, ErrorCode, Limits


@dataclass(frozen=True)
class ServerInfo:
    """What every welcome says about this daemon."""

    daemon_version: str
    backend: str
    model: str
    model_version: str
    width: int
    height: int
    fps: float
    frames_per_chunk: int
    vocabulary: Vocabulary
    limits: Limits = Limits()
    max_quality: int = 95
    max_datagram: int = 65000
    image_cache_bytes: int = 64 * 1024 * 1024
    max_sessions_per_host: int | None = None
    """Sessions one remote machine may hold (None: no limit, as on loopback)."""
    image_problem: Callable[[bytes], str | None] | None = None
    """A cheap check of a completed upload: None if usable, else why not (answered with ``bad_image``)."""


def hello_refusal(hello: Hello, address: Address, *, info: ServerInfo, token: str | None,
                  open_addresses: Collection[Address], replaces: bool) -> tuple[ErrorCode, str] | None:
    """Why a hello with a valid cookie gets no session (an error code and a message), or None.

    ``open_addresses`` are the addresses of the sessions already open; ``replaces`` says that the hello replaces
    one of them (the same client socket connects afresh), which frees that session's slot.
    """
    if token is not None:
        if hello.auth is None:
            return ErrorCode.AUTH_REQUIRED, "this daemon needs a token: give the plugin the token it printed"
        assert hello.cookie is not None
        if not auth.hello_auth_valid(token, hello.nonce, hello.cookie, hello.auth):
            return ErrorCode.AUTH_FAILED, "wrong token"
    if 0 < hello.fps < 1:
        return ErrorCode.VALUE_OUT_OF_RANGE, "hello.fps must be 0 (the daemon's rate) or within 1-240"
    if len(open_addresses) - replaces >= info.limits.max_sessions:
        return ErrorCode.SESSION_LIMIT, (f"{info.limits.max_sessions} sessions are open; "
                                         "try again in a few seconds")
    share = info.max_sessions_per_host
    host = host_of(address)
    if share is not None and not replaces and sum(host_of(open_) == host for open_ in open_addresses) >= share:
        return ErrorCode.SESSION_LIMIT, f"this machine already holds {share} sessions; close one first"
    return None


def welcome_for(hello: Hello, info: ServerInfo, *, session_id: int, nonce: bytes, authenticated: bool,
                state: str) -> Welcome:
    """The welcome that opens a session: the hello's wishes within the daemon's limits. It is the session's
    first message (seq 1)."""
    return Welcome(
        session=session_id, seq=1, protocol=PROTOCOL_VERSION, nonce=nonce,
        daemon_version=info.daemon_version, backend=info.backend, model=info.model,
        model_version=info.model_version, state=state, width=info.width, height=info.height,
        fps=hello.fps if hello.fps > 0 else info.fps, frames_per_chunk=info.frames_per_chunk,
        quality=min(hello.quality, info.max_quality), max_datagram=min(hello.max_datagram, info.max_datagram),
        authenticated=authenticated, vocabulary=info.vocabulary, limits=WireLimits(**info.limits.__dict__),
        capabilities=CAPABILITIES, minor=PROTOCOL_MINOR)
