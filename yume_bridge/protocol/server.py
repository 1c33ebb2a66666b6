"""The daemon side of protocol v1, sans-IO.

``DaemonEndpoint`` is driven by ``receive_datagram(data, address, now)``, app
calls (``send_frame``, ``send_status``, ...) and ``handle_timer(now)``; its output
is read with ``datagrams_to_send()`` and ``next_event()``. It owns the handshake
(stateless cookies), authentication, replay windows, uploads, the event list and
the retransmission history; the app owns worlds, pacing and generation.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from yume_bridge.actions import Axes, axes_from_keys
from yume_bridge.protocol import auth
from yume_bridge.protocol.codec import Decoded, decode, encode
from yume_bridge.protocol.errors import LocalProtocolError, RemoteProtocolError
from yume_bridge.protocol.fragment import split_frame
from yume_bridge.protocol.messages import (
    Bye,
    Config,
    Error,
    Event,
    EventAck,
    Hello,
    Input,
    Latency,
    Message,
    Nack,
    Ping,
    Pong,
    Retry,
    Start,
    Started,
    Status,
    Upload,
    UploadAck,
    Vocabulary,
    Welcome,
    WireLimits,
)
from yume_bridge.protocol.wire import (
    CAPABILITIES,
    PROTOCOL_VERSION,
    DatagramKind,
    Encoding,
    ErrorCode,
    FrameFlags,
    FrameHeader,
    Limits,
    StartSource,
    datagram_kind,
)

Address = tuple
RETRANSMIT_HISTORY_FRAMES = 16


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


# --- events for the app ---------------------------------------------------------------------


@dataclass(frozen=True)
class SessionOpened:
    session: int
    address: Address
    client: str
    engine: str
    fps: float
    quality: int
    preempt: str = ""
    """The client's pre-emption wish: "", "off" or "latent" (others mean the daemon's default)."""


@dataclass(frozen=True)
class StartRequested:
    session: int
    ref: int
    source: StartSource
    image: bytes | None
    prompt: str
    seed: int


@dataclass(frozen=True)
class InputReceived:
    session: int
    seq: int
    axes: Axes
    chunk: int | None = None
    """Set when the input conditions exactly this chunk number (a replay), else None."""


@dataclass(frozen=True)
class EventsChanged:
    session: int
    ref: int
    event_id: int
    events: tuple[str, ...]
    active: tuple[int, ...]


@dataclass(frozen=True)
class ConfigChanged:
    session: int
    quality: int
    fps: float
    paused: bool
    preempt: str | None = None
    """A new pre-emption wish, None when the config did not say."""


@dataclass(frozen=True)
class SessionClosed:
    session: int
    reason: str


# --- per-session state ----------------------------------------------------------------------


@dataclass
class _Upload:
    digest: bytes
    buffer: bytearray
    ranges: list[tuple[int, int]] = field(default_factory=list)

    def add(self, offset: int, data: bytes) -> int:
        self.buffer[offset:offset + len(data)] = data
        merged: list[tuple[int, int]] = []
        for start, end in sorted([*self.ranges, (offset, offset + len(data))]):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self.ranges = merged
        return sum(end - start for start, end in merged)


@dataclass
class _SentFrame:
    number: int
    first_sent: float
    datagrams: list[bytes]


@dataclass
class _Session:
    id: int
    address: Address
    client_nonce: bytes
    encoding: Encoding
    key: bytes | None
    welcome: Welcome
    fps: float
    quality: int
    max_datagram: int
    last_heard: float
    replay: auth.ReplayWindow = field(default_factory=auth.ReplayWindow)
    out_seq: int = 0
    newest_input: int = 0
    world: int = 0
    paused: bool = False
    next_frame: int = 0
    upload: _Upload | None = None
    events: OrderedDict[int, str] = field(default_factory=OrderedDict)
    sent: deque[_SentFrame] = field(default_factory=lambda: deque(maxlen=RETRANSMIT_HISTORY_FRAMES))


class DaemonEndpoint:
    """All sessions of one daemon socket. Never raises for anything a peer sends."""

    def __init__(self, *, info: ServerInfo, token: str | None, random_bytes: Callable[[int], bytes] = os.urandom):
        self.info = info
        self.token = token
        self._random = random_bytes
        self._secret = random_bytes(32)
        self._sessions: dict[int, _Session] = {}
        self._by_address: dict[Address, int] = {}
        self._images: OrderedDict[bytes, bytes] = OrderedDict()
        self._outbox: list[tuple[bytes, Address]] = []
        self._events: deque = deque()
        self.readiness = "ready"
        self.progress = 1.0
        self.dropped = 0

    # --- output -----------------------------------------------------------------------------

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        out, self._outbox = self._outbox, []
        return out

    def next_event(self):
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        if not self._sessions:
            return None
        timeout = self.info.limits.idle_timeout_ms / 1000
        return min(s.last_heard for s in self._sessions.values()) + timeout

    def handle_timer(self, now: float) -> None:
        timeout = self.info.limits.idle_timeout_ms / 1000
        for session in [s for s in self._sessions.values() if now - s.last_heard >= timeout]:
            self.close_session(session.id, "idle_timeout")

    @property
    def session_ids(self) -> tuple[int, ...]:
        return tuple(self._sessions)

    def address_of(self, session_id: int) -> Address:
        return self._session(session_id).address

    # --- input ------------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, address: Address, now: float) -> None:
        kind = datagram_kind(data)
        if kind not in (DatagramKind.JSON, DatagramKind.MSGPACK):
            self.dropped += 1
            return
        try:
            decoded = decode(data)
        except RemoteProtocolError as exc:
            self.dropped += 1
            known = self._by_address.get(address)
            if known is not None and self._sessions[known].key is None:
                self._send_error(self._sessions[known], exc.code, exc.message, ref=0)
            return
        message = decoded.message
        if isinstance(message, Hello):
            self._on_hello(decoded, message, address, now, len(data))
            return
        session_id = getattr(message, "session", None)
        if session_id is None or isinstance(message, Error):
            self.dropped += 1
            return
        session = self._sessions.get(session_id)
        if session is None:
            self.dropped += 1
            reply = Error(code=ErrorCode.UNKNOWN_SESSION.value, message="no such session; connect again",
                          session=session_id)
            self._send_limited(reply, decoded.encoding, address, len(data))
            return
        if not self._authentic(session, decoded, address):
            self.dropped += 1
            return
        seq = message.seq
        if not session.replay.check(seq):
            self.dropped += 1
            return
        session.replay.record(seq)
        session.last_heard = now
        try:
            self._dispatch(session, message, now)
        except RemoteProtocolError as exc:
            self._send_error(session, exc.code, exc.message, ref=seq)

    def _authentic(self, session: _Session, decoded: Decoded, address: Address) -> bool:
        if session.key is None:
            return address == session.address
        if decoded.tag is None or not auth.tag_matches(session.key, decoded.body, decoded.tag):
            return False
        if address != session.address:  # a tagged datagram from a new address: the client moved
            self._by_address.pop(session.address, None)
            session.address = address
            self._by_address[address] = session.id
        return True

    # --- handshake --------------------------------------------------------------------------

    def _on_hello(self, decoded: Decoded, hello: Hello, address: Address, now: float, size: int) -> None:
        encoding = decoded.encoding
        if hello.protocol != PROTOCOL_VERSION:
            reply = Error(code=ErrorCode.UNSUPPORTED_VERSION.value,
                          message=f"protocol {hello.protocol} unsupported; this daemon speaks {PROTOCOL_VERSION}")
            self._send_limited(reply, encoding, address, size)
            return
        if hello.cookie is None or not auth.cookie_valid(self._secret, address, hello.nonce, hello.cookie, now):
            cookie = auth.make_cookie(self._secret, address, hello.nonce, now)
            retry = Retry(nonce=hello.nonce, cookie=cookie, token_required=self.token is not None)
            self._send_limited(retry, encoding, address, size)
            return
        for session in self._sessions.values():  # a repeated hello: the welcome was lost
            if session.address == address and session.client_nonce == hello.nonce:
                self._send(session, session.welcome)
                return
        refusal = self._refuse_hello(hello)
        if refusal is not None:
            self._send_limited(Error(code=refusal[0].value, message=refusal[1]), encoding, address, size)
            return
        self._open_session(hello, encoding, address, now)

    def _refuse_hello(self, hello: Hello) -> tuple[ErrorCode, str] | None:
        if self.token is not None:
            if hello.auth is None:
                return ErrorCode.AUTH_REQUIRED, "this daemon needs a token: give the plugin the token it printed"
            assert hello.cookie is not None
            if not auth.hello_auth_valid(self.token, hello.nonce, hello.cookie, hello.auth):
                return ErrorCode.AUTH_FAILED, "wrong token"
        if len(self._sessions) >= self.info.limits.max_sessions:
            return ErrorCode.SESSION_LIMIT, f"{self.info.limits.max_sessions} sessions are open; try again later"
        return None

    def _open_session(self, hello: Hello, encoding: Encoding, address: Address, now: float) -> None:
        session_id = 0
        while session_id == 0 or session_id in self._sessions:
            session_id = int.from_bytes(self._random(4), "little")
        server_nonce = self._random(16)
        key = auth.session_key(self.token, hello.nonce, server_nonce, session_id) if self.token else None
        info = self.info
        fps = hello.fps if hello.fps > 0 else info.fps
        quality = min(hello.quality, info.max_quality)
        max_datagram = min(hello.max_datagram, info.max_datagram)
        welcome = Welcome(
            session=session_id, seq=0, protocol=PROTOCOL_VERSION, nonce=server_nonce,
            daemon_version=info.daemon_version, backend=info.backend, model=info.model,
            model_version=info.model_version, state=self.readiness, width=info.width, height=info.height,
            fps=fps, frames_per_chunk=info.frames_per_chunk, quality=quality,
            max_datagram=max_datagram, authenticated=key is not None, vocabulary=info.vocabulary,
            limits=WireLimits(**info.limits.__dict__), capabilities=CAPABILITIES)
        session = _Session(id=session_id, address=address, client_nonce=hello.nonce, encoding=encoding, key=key,
                           welcome=welcome, fps=fps, quality=quality, max_datagram=max_datagram,
                           last_heard=now)
        self._sessions[session_id] = session
        self._by_address[address] = session_id
        session.out_seq = 1
        session.welcome = Welcome(**{**welcome.__dict__, "seq": 1})
        self._send_raw(session, session.welcome)
        self._events.append(SessionOpened(session_id, address, hello.client, hello.engine, fps, quality,
                                          hello.preempt or ""))

    # --- session messages -------------------------------------------------------------------

    def _dispatch(self, session: _Session, message: Message, now: float) -> None:
        limits = self.info.limits
        if isinstance(message, Input):
            if message.seq < session.newest_input:
                return  # an older input arriving late: the newest input wins
            session.newest_input = message.seq
            axes = Axes(message.move[0], message.move[1], message.look[0], message.look[1])
            if message.keys:
                axes = axes_from_keys(message.keys, axes)
            self._events.append(InputReceived(session.id, message.seq, axes, message.chunk))
        elif isinstance(message, Upload):
            self._on_upload(session, message)
        elif isinstance(message, Start):
            self._on_start(session, message)
        elif isinstance(message, Event):
            if len(message.text) > limits.max_event_chars:
                raise RemoteProtocolError(ErrorCode.TEXT_TOO_LONG,
                                          f"event text is longer than {limits.max_event_chars} characters")
            if not message.text.strip():
                session.events.pop(message.id, None)
            elif message.id not in session.events and len(session.events) >= limits.max_events:
                raise RemoteProtocolError(ErrorCode.TOO_MANY_EVENTS,
                                          f"{limits.max_events} events are active; clear one first")
            else:
                session.events[message.id] = message.text.strip()
            self._events.append(EventsChanged(session.id, message.seq, message.id, tuple(session.events.values()),
                                              tuple(session.events)))
        elif isinstance(message, Config):
            if message.quality is not None:
                session.quality = min(message.quality, self.info.max_quality)
            if message.fps is not None:
                session.fps = message.fps
            if message.paused is not None:
                session.paused = message.paused
            self._events.append(ConfigChanged(session.id, session.quality, session.fps, session.paused,
                                              message.preempt))
        elif isinstance(message, Ping):
            self._send(session, Pong(session=session.id, seq=0, time_us=message.time_us,
                                     daemon_time_us=int(now * 1e6)))
        elif isinstance(message, Nack):
            self._on_nack(session, message, now)
        elif isinstance(message, Bye):
            self._forget(session.id, "client")
        else:
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"the daemon does not accept {message.TYPE!r} messages")

    def _on_upload(self, session: _Session, piece: Upload) -> None:
        limit = self.info.limits.max_upload_bytes
        if piece.size > limit:
            raise RemoteProtocolError(ErrorCode.UPLOAD_TOO_LARGE, f"image of {piece.size} bytes exceeds {limit}")
        if piece.hash in self._images:
            self._images.move_to_end(piece.hash)
            self._send(session, UploadAck(session=session.id, seq=0, hash=piece.hash, offset=0, length=0,
                                          received=piece.size, complete=True))
            return
        upload = session.upload
        if upload is None or upload.digest != piece.hash:
            upload = session.upload = _Upload(piece.hash, bytearray(piece.size))
        elif len(upload.buffer) != piece.size:
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "upload size changed between pieces")
        received = upload.add(piece.offset, piece.data)
        complete = received == piece.size
        if complete:
            session.upload = None
            data = bytes(upload.buffer)
            if hashlib.sha256(data).digest() != piece.hash:
                raise RemoteProtocolError(ErrorCode.UPLOAD_MISMATCH, "uploaded bytes do not match their SHA-256")
            self._cache_image(piece.hash, data)
        self._send(session, UploadAck(session=session.id, seq=0, hash=piece.hash, offset=piece.offset,
                                      length=len(piece.data), received=received, complete=complete))

    def _cache_image(self, digest: bytes, data: bytes) -> None:
        self._images[digest] = data
        while sum(len(v) for v in self._images.values()) > self.info.image_cache_bytes and len(self._images) > 1:
            self._images.popitem(last=False)

    def _on_start(self, session: _Session, start: Start) -> None:
        limit = self.info.limits.max_prompt_chars
        if len(start.prompt) > limit:
            raise RemoteProtocolError(ErrorCode.TEXT_TOO_LONG, f"prompt is longer than {limit} characters")
        image = None
        if start.source == StartSource.IMAGE.value:
            assert start.image is not None
            image = self._images.get(start.image)
            if image is None:
                raise RemoteProtocolError(ErrorCode.UNKNOWN_IMAGE, "the daemon does not hold that image; upload it")
        seed = start.seed if start.seed is not None else int.from_bytes(self._random(4), "little")
        session.world += 1
        self._send(session, Started(session=session.id, seq=0, world=session.world, source=start.source, seed=seed))
        self._events.append(StartRequested(session.id, start.seq, StartSource(start.source), image,
                                           start.prompt, seed))

    def _on_nack(self, session: _Session, nack: Nack, now: float) -> None:
        deadline = self.info.limits.frame_deadline_ms / 1000
        for sent in session.sent:
            if sent.number == nack.frame:
                if now - sent.first_sent > deadline:
                    return  # stale: never resent
                for index in nack.missing[: self.info.limits.max_nack_fragments]:
                    if index < len(sent.datagrams):
                        datagram = bytearray(sent.datagrams[index])
                        datagram[3] |= FrameFlags.RETRANSMISSION
                        self._outbox.append((bytes(datagram), session.address))
                return

    # --- app calls --------------------------------------------------------------------------

    def send_frame(self, session_id: int, *, jpeg: bytes, chunk: int, frame_in_chunk: int, last_in_chunk: bool,
                   input_seq: int, action: int, now: float, latent: int = 0, cut_latents: int | None = None) -> int:
        """Fragment and queue one frame; returns its frame number.

        ``cut_latents`` (not None) marks the first frame of a chunk that replaced a cut one (SPEC §6.5).
        """
        session = self._session(session_id)
        number = session.next_frame
        session.next_frame += 1
        flags = FrameFlags.LAST_IN_CHUNK if last_in_chunk else FrameFlags.NONE
        if cut_latents is not None:
            flags |= FrameFlags.AFTER_CUT
        header = FrameHeader(session=session.id, frame=number, chunk=chunk, frame_in_chunk=frame_in_chunk,
                             fragment_index=0, fragment_count=0, payload_length=0, frame_length=0,
                             input_seq=input_seq, time_us=int(now * 1e6), action=action, flags=flags,
                             latent=min(latent, 255), cut_latents=min(cut_latents or 0, 255))
        datagrams = split_frame(header, jpeg, session.max_datagram)
        session.sent.append(_SentFrame(number, now, datagrams))
        address = session.address
        self._outbox.extend((d, address) for d in datagrams)
        return number

    def send_status(self, session_id: int, *, state: str, progress: float = 1.0, chunk: int = -1, queue: int = 0,
                    fps: float = 0.0, frames_sent: int = 0, action: int = 0, input_seq: int = 0,
                    latency: Latency | None = None, message: str = "", preempt: str | None = None,
                    cuts: int | None = None, wasted: float | None = None) -> None:
        session = self._session(session_id)
        self._send(session, Status(session=session.id, seq=0, state=state, progress=progress, world=session.world,
                                   chunk=chunk, queue=queue, fps=fps, frames_sent=frames_sent, action=action,
                                   input_seq=input_seq, latency=latency or Latency(), message=message[:500],
                                   preempt=preempt, cuts=cuts, wasted=wasted))

    def send_event_ack(self, session_id: int, *, event_id: int, chunk: int, active: tuple[int, ...]) -> None:
        session = self._session(session_id)
        self._send(session, EventAck(session=session.id, seq=0, id=event_id, chunk=chunk, active=active))

    def send_error(self, session_id: int, code: ErrorCode, message: str, *, ref: int = 0) -> None:
        self._send_error(self._session(session_id), code, message, ref=ref)

    def close_session(self, session_id: int, reason: str) -> None:
        """Say bye to the client and forget the session."""
        session = self._sessions.get(session_id)
        if session is None:
            return
        self._send(session, Bye(session=session.id, seq=0, reason=reason))
        self._forget(session_id, reason)

    # --- helpers ----------------------------------------------------------------------------

    def _session(self, session_id: int) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise LocalProtocolError(f"no session {session_id}")
        return session

    def _forget(self, session_id: int, reason: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            if self._by_address.get(session.address) == session_id:
                del self._by_address[session.address]
            self._events.append(SessionClosed(session_id, reason))

    def _send_error(self, session: _Session, code: ErrorCode, message: str, *, ref: int) -> None:
        self._send(session, Error(code=code.value, message=message, session=session.id, seq=0, ref=ref))

    def _send(self, session: _Session, message: Message) -> None:
        session.out_seq += 1
        self._send_raw(session, type(message)(**{**message.__dict__, "seq": session.out_seq}))

    def _send_raw(self, session: _Session, message: Message) -> None:
        body = encode(message, session.encoding)
        if session.key is not None:
            body += auth.tag(session.key, body)
        self._outbox.append((body, session.address))

    def _send_limited(self, message: Message, encoding: Encoding, address: Address, received: int) -> None:
        """Answer an unvalidated address: never more than 3x the bytes it sent (SPEC §3.1)."""
        body = encode(message, encoding)
        if len(body) <= 3 * received:
            self._outbox.append((body, address))
        else:
            self.dropped += 1
