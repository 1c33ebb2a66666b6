"""The client side of protocol v1, sans-IO: what the reference client and the tests use.

Engine plugins implement the same state machine in C++ and C#. Driven by
``receive_datagram(data, now)``, app calls and ``handle_timer(now)``; output via
``datagrams_to_send()``, ``next_event()`` and ``get_timer()``.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from yume_bridge.protocol import auth
from yume_bridge.protocol.codec import decode, encode
from yume_bridge.protocol.errors import LocalProtocolError, RemoteProtocolError
from yume_bridge.protocol.fragment import MAX_FRAMES_IN_REPAIR, MAX_INCOMPLETE_FRAMES, CompleteFrame, Reassembler
from yume_bridge.protocol.messages import (
    Bye,
    Config,
    Error,
    Event,
    EventAck,
    Hello,
    Input,
    Message,
    Nack,
    PathChallenge,
    PathResponse,
    Ping,
    Pong,
    Retry,
    Start,
    Started,
    Status,
    Upload,
    UploadAck,
    Welcome,
)
from yume_bridge.protocol.wire import (
    CLIENT_PATH_RESPONSE,
    FRAME_HEADER_BYTES,
    PROTOCOL_MINOR,
    TAG_BYTES,
    DatagramKind,
    Encoding,
    datagram_kind,
)

HELLO_FIRST_RETRY_S = 0.25
HELLO_MAX_RETRY_S = 2.0
HELLO_GIVE_UP_S = 10.0
RESEND_S = 0.5
RATE_LIMITED_BACKOFF_S = 1.5
"""A request answered ``rate_limited`` is sent again after this long (SPEC §3.5: a start after at least 1 s)."""
KEEPALIVE_S = 1.0
MAX_PLAYOUT_DELAY_S = 0.25
"""The longest a complete frame waits for an older one under repair (SPEC §6.3); 0 shows at once."""
UPLOAD_WINDOW = 32
UPLOAD_REFUSALS = frozenset({"bad_image", "upload_mismatch", "upload_too_large"})
NACK_AMPLIFICATION = 10
"""The daemon resends at most this many times a nack's size (SPEC §5.10): nacks are padded to ask for more."""
NACK_SIZE_TARGET = 3900
"""Largest padded nack, inside the 4,096-byte control limit with room for the tag."""


class ClientState(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


@dataclass(frozen=True)
class Connected:
    welcome: Welcome


@dataclass(frozen=True)
class FrameReceived:
    frame: CompleteFrame
    now: float


@dataclass(frozen=True)
class UploadFinished:
    digest: bytes


@dataclass(frozen=True)
class WorldStarted:
    world: int
    seed: int


@dataclass(frozen=True)
class EventAcknowledged:
    event_id: int
    chunk: int


@dataclass(frozen=True)
class StatusReceived:
    status: Status


@dataclass(frozen=True)
class PongReceived:
    rtt_s: float
    clock_offset_s: float = 0.0
    """The daemon's clock minus ours, taken at the round trip's midpoint (for frames' ``time_us``)."""


@dataclass(frozen=True)
class ErrorReceived:
    code: str
    message: str
    fatal: bool


@dataclass(frozen=True)
class Closed:
    reason: str


@dataclass
class _Pending:
    message: Message
    last_sent: float


class ClientEndpoint:
    """One connection to a daemon."""

    def __init__(self, *, client: str = "yume-bridge-python", client_version: str = "0.1.0", engine: str = "",
                 fps: float = 0.0, quality: int = 85, max_datagram: int = 1200, token: str | None = None,
                 encoding: Encoding = Encoding.MSGPACK, random_bytes: Callable[[int], bytes] = os.urandom,
                 preempt: str | None = None, max_playout_delay_s: float = MAX_PLAYOUT_DELAY_S) -> None:
        self._random = random_bytes
        self.max_playout_delay_s = max_playout_delay_s
        self._hello = Hello(protocol=1, nonce=random_bytes(16), client=client, client_version=client_version,
                            engine=engine, fps=fps, quality=quality, max_datagram=max_datagram, pad=bytes(32),
                            minor=PROTOCOL_MINOR, capabilities=(CLIENT_PATH_RESPONSE,), preempt=preempt)
        self.token = token
        self.encoding = encoding
        self.state = ClientState.IDLE
        self.welcome: Welcome | None = None
        self.session = 0
        self._key: bytes | None = None
        self._seq = 0
        self._replay = auth.ReplayWindow()
        self._outbox: list[bytes] = []
        self._events: deque = deque()
        self._hello_started = 0.0
        self._hello_next = 0.0
        self._hello_interval = HELLO_FIRST_RETRY_S
        self._pending: dict[object, _Pending] = {}
        self._upload: tuple[bytes, bytes, int] | None = None  # digest, data, piece size
        self._upload_unacked: dict[int, float] = {}
        self._upload_next = 0
        self._last_sent = 0.0
        self._ping_sent: dict[int, float] = {}
        self.reassembler: Reassembler | None = None
        self._last_heard = 0.0

    # --- output -----------------------------------------------------------------------------

    def datagrams_to_send(self) -> list[bytes]:
        out, self._outbox = self._outbox, []
        return out

    def next_event(self):
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        if self.state is ClientState.CONNECTING:
            return self._hello_next
        if self.state is not ClientState.CONNECTED:
            return None
        times = [self._last_sent + KEEPALIVE_S, self._last_heard + self._silence_limit()]
        times += [p.last_sent + RESEND_S for p in self._pending.values()]
        times += [t + RESEND_S for t in self._upload_unacked.values()]
        if self.reassembler is not None:
            times += [t for t in (self.reassembler.next_nack_time(), self.reassembler.next_release_time())
                      if t is not None]
        return min(times)

    # --- app calls --------------------------------------------------------------------------

    def connect(self, now: float) -> None:
        if self.state is not ClientState.IDLE:
            raise LocalProtocolError(f"connect() needs an idle client, not {self.state.value}")
        self.state = ClientState.CONNECTING
        self._hello_started = now
        self._send_hello(now)

    def upload_image(self, data: bytes, now: float) -> bytes:
        """Begin uploading a start image; returns its SHA-256, to name it in ``start``."""
        self._require_connected()
        assert self.welcome is not None
        if len(data) > self.welcome.limits.max_upload_bytes:
            raise LocalProtocolError(f"image of {len(data)} bytes exceeds the daemon's "
                                     f"{self.welcome.limits.max_upload_bytes}")
        digest = hashlib.sha256(data).digest()
        # Leave room for the message's fields (and base64 growth in JSON) within max_datagram.
        room = min(self.welcome.max_datagram, 1200) - 160 - 16
        piece = room * 3 // 4 if self.encoding is Encoding.JSON else room
        self._upload = (digest, data, piece)
        self._upload_unacked = {}
        self._upload_next = 0
        self._pump_upload(now)
        return digest

    def start(self, now: float, *, source: str = "default", image: bytes | None = None, prompt: str = "",
              seed: int | None = None) -> None:
        self._require_connected()
        self._send_reliable("start", Start(session=self.session, seq=0, source=source, image=image, prompt=prompt,
                                           seed=seed), now)

    def send_input(self, now: float, *, move: tuple[float, float] = (0.0, 0.0),
                   look: tuple[float, float] = (0.0, 0.0), keys: tuple[str, ...] = (),
                   chunk: int | None = None) -> int:
        """Send the current axes; returns the input's seq (frames report the newest consumed).

        ``chunk`` makes the input the exact conditioning of that chunk number (replays).
        """
        self._require_connected()
        return self._send(Input(session=self.session, seq=0, time_us=int(now * 1e6), move=move, look=look,
                                keys=keys, chunk=chunk), now)

    def send_event(self, now: float, event_id: int, text: str) -> None:
        self._require_connected()
        self._send_reliable(("event", event_id), Event(session=self.session, seq=0, id=event_id, text=text), now)

    def configure(self, now: float, *, quality: int | None = None, fps: float | None = None,
                  paused: bool | None = None) -> None:
        self._require_connected()
        self._send(Config(session=self.session, seq=0, quality=quality, fps=fps, paused=paused), now)

    def ping(self, now: float) -> None:
        self._require_connected()
        seq = self._send(Ping(session=self.session, seq=0, time_us=int(now * 1e6)), now)
        self._ping_sent[seq] = now

    def send_message(self, message: Message, now: float) -> int:
        """Send any session message as it is (seq and tag filled in); returns its seq. For tools that
        probe a daemon's defences (``bench --attack``); applications use the calls above."""
        self._require_connected()
        return self._send(message, now)

    def close(self, now: float, reason: str = "client") -> None:
        if self.state is ClientState.CONNECTED:
            self._send(Bye(session=self.session, seq=0, reason=reason), now)
        self._close(reason)

    # --- input ------------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, now: float) -> None:
        kind = datagram_kind(data)
        if kind is DatagramKind.FRAGMENT:
            if self.reassembler is not None and len(data) >= FRAME_HEADER_BYTES:
                self._last_heard = now
                self._show(self.reassembler.push(data, now), now)
                self._send_nacks(now)
            return
        if kind is DatagramKind.INVALID:
            return
        try:
            decoded = decode(data)
        except RemoteProtocolError:
            return
        message = decoded.message
        if isinstance(message, Retry):
            self._on_retry(message, now)
            return
        if isinstance(message, Error) and self.state is ClientState.CONNECTING and message.session == 0:
            self._events.append(ErrorReceived(message.code, message.message, True))
            self._close(message.code)
            return
        if isinstance(message, Welcome):
            self._on_welcome(decoded.body, decoded.tag, message, now)
            return
        if (isinstance(message, Error) and message.code == "unknown_session" and self._key is None
                and self.state is ClientState.CONNECTED and message.session == self.session):
            # The daemon restarted. (With a token this unauthenticated answer could be forged,
            # so an authenticated client waits for the daemon's silence instead.)
            self._events.append(ErrorReceived(message.code, message.message, True))
            self._close(message.code)
            return
        if self.state is not ClientState.CONNECTED or getattr(message, "session", None) != self.session:
            return
        if self._key is not None and (decoded.tag is None or not auth.tag_matches(self._key, decoded.body,
                                                                                   decoded.tag)):
            return
        if not self._replay.check(message.seq):
            return
        self._replay.record(message.seq)
        self._last_heard = now
        self._on_session_message(message, now)

    def _on_retry(self, retry: Retry, now: float) -> None:
        if self.state is not ClientState.CONNECTING or retry.nonce != self._hello.nonce:
            return
        auth_tag = None
        if retry.token_required:
            if self.token is None:
                self._events.append(ErrorReceived("auth_required", "the daemon requires a token; none was given",
                                                  True))
                self._close("auth_required")
                return
            auth_tag = auth.hello_auth(self.token, self._hello.nonce, retry.cookie)
        self._hello = Hello(**{**self._hello.__dict__, "cookie": retry.cookie, "auth": auth_tag})
        self._send_hello(now)

    def _on_welcome(self, body: bytes, tag: bytes | None, welcome: Welcome, now: float) -> None:
        if self.state is not ClientState.CONNECTING:
            return
        key = None
        if welcome.authenticated:
            if self.token is None:
                return
            key = auth.session_key(self.token, self._hello.nonce, welcome.nonce, welcome.session)
            if tag is None or not auth.tag_matches(key, body, tag):
                return
        if key is None and self.token is not None:
            # A token was given but the daemon did not authenticate: refuse the downgrade (SPEC §10).
            self._events.append(ErrorReceived("auth_required", "the daemon did not authenticate this session "
                                              "although a token was given", True))
            self._close("auth_required")
            return
        self._key = key
        self.welcome = welcome
        self.session = welcome.session
        self._replay.record(welcome.seq)
        self.state = ClientState.CONNECTED
        self._last_heard = now
        # Each index asked for must be paid for with a tenth of a fragment of nack (SPEC §5.10).
        affordable = max(1, NACK_SIZE_TARGET * NACK_AMPLIFICATION // welcome.max_datagram)
        self.reassembler = Reassembler(welcome.session, deadline_s=welcome.limits.frame_deadline_ms / 1000,
                                       max_nack_fragments=min(welcome.limits.max_nack_fragments, affordable),
                                       max_playout_delay_s=self.max_playout_delay_s,
                                       max_incomplete=MAX_FRAMES_IN_REPAIR if self.max_playout_delay_s else
                                       MAX_INCOMPLETE_FRAMES)
        self._events.append(Connected(welcome))

    def _on_session_message(self, message: Message, now: float) -> None:
        if isinstance(message, UploadAck):
            self._on_upload_ack(message, now)
        elif isinstance(message, Started):
            self._pending.pop("start", None)
            self._events.append(WorldStarted(message.world, message.seed))
        elif isinstance(message, EventAck):
            self._pending.pop(("event", message.id), None)
            self._events.append(EventAcknowledged(message.id, message.chunk))
        elif isinstance(message, Status):
            self._events.append(StatusReceived(message))
        elif isinstance(message, Pong):
            sent = min(self._ping_sent.values(), default=None)
            self._ping_sent.clear()
            if sent is not None:
                sent_at = message.time_us / 1e6
                self._events.append(PongReceived(now - sent_at, message.daemon_time_us / 1e6 - (sent_at + now) / 2))
        elif isinstance(message, Error):
            if message.code == "rate_limited":
                for pending in self._pending.values():  # refused for now, not for good: resend, later
                    if pending.message.seq == message.ref:
                        pending.last_sent = now + RATE_LIMITED_BACKOFF_S - RESEND_S
            elif message.ref:
                self._pending = {k: p for k, p in self._pending.items() if p.message.seq != message.ref}
            if message.code in UPLOAD_REFUSALS:  # resending the pieces would not help
                self._upload, self._upload_unacked = None, {}
            self._events.append(ErrorReceived(message.code, message.message, message.fatal))
            if message.fatal:
                self._close(message.code)
        elif isinstance(message, PathChallenge):
            self._send(PathResponse(session=self.session, seq=0, data=message.data), now)
        elif isinstance(message, Bye):
            self._close(message.reason or "bye")

    # --- timers -----------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        if self.state is ClientState.CONNECTING and now >= self._hello_next:
            if now - self._hello_started >= HELLO_GIVE_UP_S:
                self._events.append(ErrorReceived("unreachable", "no answer from the daemon", True))
                self._close("unreachable")
                return
            self._hello_interval = min(self._hello_interval * 2, HELLO_MAX_RETRY_S)
            self._send_hello(now)
            return
        if self.state is not ClientState.CONNECTED:
            return
        if now - self._last_heard >= self._silence_limit():
            self._events.append(ErrorReceived("daemon_silent", "the daemon stopped answering", True))
            self._close("daemon_silent")
            return
        for key, pending in list(self._pending.items()):
            if now - pending.last_sent >= RESEND_S:
                self._send_reliable(key, pending.message, now)
        for offset, sent in list(self._upload_unacked.items()):
            if now - sent >= RESEND_S:
                self._send_piece(offset, now)
        if self.reassembler is not None:
            self._show(self.reassembler.release(now), now)
        self._send_nacks(now)
        if now - self._last_sent >= KEEPALIVE_S:
            self.ping(now)

    # --- helpers ----------------------------------------------------------------------------

    def _silence_limit(self) -> float:
        assert self.welcome is not None
        return self.welcome.limits.idle_timeout_ms / 1000

    def _require_connected(self) -> None:
        if self.state is not ClientState.CONNECTED:
            raise LocalProtocolError(f"the client is {self.state.value}, not connected")

    def _close(self, reason: str) -> None:
        if self.state is not ClientState.CLOSED:
            self.state = ClientState.CLOSED
            self._events.append(Closed(reason))

    def _send_hello(self, now: float) -> None:
        self._outbox.append(encode(self._hello, self.encoding))
        self._hello_next = now + self._hello_interval

    def _sent_copy(self, message: Message, now: float) -> Message:
        self._seq += 1
        message = type(message)(**{**message.__dict__, "seq": self._seq})
        body = encode(message, self.encoding)
        if self._key is not None:
            body += auth.tag(self._key, body)
        self._outbox.append(body)
        self._last_sent = now
        return message

    def _send(self, message: Message, now: float) -> int:
        return self._sent_copy(message, now).seq

    def _send_reliable(self, key: object, message: Message, now: float) -> None:
        self._pending[key] = _Pending(self._sent_copy(message, now), now)

    def _show(self, frames: list[CompleteFrame], now: float) -> None:
        self._events.extend(FrameReceived(frame, now) for frame in frames)

    def _send_nacks(self, now: float) -> None:
        if self.reassembler is None or self.state is not ClientState.CONNECTED:
            return
        for request in self.reassembler.nacks(now):
            self._send(self._padded_nack(request.frame, request.missing), now)

    def _padded_nack(self, frame: int, missing: tuple[int, ...]) -> Nack:
        """A nack long enough that the daemon's 10x answer budget covers the fragments it asks for."""
        assert self.welcome is not None
        nack = Nack(session=self.session, seq=self._seq + 1, frame=frame, missing=missing)
        size = len(encode(nack, self.encoding)) + (TAG_BYTES if self._key is not None else 0)
        wanted = min(-(-len(missing) * self.welcome.max_datagram // NACK_AMPLIFICATION), NACK_SIZE_TARGET)
        if wanted <= size:
            return nack
        shortfall = wanted - size + 8  # the pad field's own name and length prefix
        pad = bytes(-(-shortfall * 3 // 4) if self.encoding is Encoding.JSON else shortfall)  # JSON: base64
        return Nack(session=self.session, seq=0, frame=frame, missing=missing, pad=pad)

    def _pump_upload(self, now: float) -> None:
        if self._upload is None:
            return
        _, data, piece = self._upload
        while len(self._upload_unacked) < UPLOAD_WINDOW and self._upload_next < len(data):
            self._send_piece(self._upload_next, now)
            self._upload_next += piece

    def _send_piece(self, offset: int, now: float) -> None:
        assert self._upload is not None
        digest, data, piece = self._upload
        self._upload_unacked[offset] = now
        self._send(Upload(session=self.session, seq=0, hash=digest, size=len(data), offset=offset,
                          data=data[offset:offset + piece]), now)

    def _on_upload_ack(self, ack: UploadAck, now: float) -> None:
        if self._upload is None or ack.hash != self._upload[0]:
            return
        self._upload_unacked.pop(ack.offset, None)
        if ack.complete:
            self._upload = None
            self._upload_unacked = {}
            self._events.append(UploadFinished(ack.hash))
        else:
            self._pump_upload(now)
