"""The daemon side of protocol v1, sans-IO.

``DaemonEndpoint`` is driven by ``receive_datagram(data, address, now)``, app
calls (``send_frame``, ``send_status``, ...) and ``handle_timer(now)``; its output
is read with ``datagrams_to_send()`` and ``next_event()``. It owns the handshake
(stateless cookies), authentication, replay windows, uploads, the event list and
the retransmission history; the app owns worlds, pacing and generation.

This module keeps the sessions and dispatches their messages; the rules it applies live beside it:
handshake.py (refusals and the welcome), paths.py (address validation), uploads.py (start images),
retransmit.py (answering nacks) and daemon_events.py (what ``next_event()`` returns).
"""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from yume_bridge.actions import Axes, axes_from_keys
from yume_bridge.protocol import auth
from yume_bridge.protocol.budget import TokenBucket
from yume_bridge.protocol.codec import Decoded, Envelope, decode, encode
from yume_bridge.protocol.daemon_events import (
    ConfigChanged,
    EventsChanged,
    InputReceived,
    SessionClosed,
    SessionOpened,
    StartRequested,
)
from yume_bridge.protocol.errors import LocalProtocolError, RemoteProtocolError
from yume_bridge.protocol.fragment import split_frame
from yume_bridge.protocol.handshake import ServerInfo, hello_refusal, welcome_for
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
from yume_bridge.protocol.paths import (
    PATH_SILENCE_S,
    UNVALIDATED_AMPLIFICATION,
    Address,
    PathCandidate,
    replaces_on_hello,
    within_unvalidated_limit,
)
from yume_bridge.protocol.retransmit import FrameHistory
from yume_bridge.protocol.uploads import ImageCache, PartialUpload, upload_for
from yume_bridge.protocol.wire import (
    CLIENT_PATH_RESPONSE,
    PATH_CHALLENGE_BYTES,
    PROTOCOL_VERSION,
    DatagramKind,
    Encoding,
    ErrorCode,
    FrameFlags,
    FrameHeader,
    StartSource,
    datagram_kind,
)

MAX_AMPLIFICATION = 10
"""No answer to one post-handshake datagram exceeds this many times its size (resends, errors)."""
START_REPEAT_S = 3.0
"""A start identical to the previous one within this time is a resend: answered, not a new world."""
ERROR_LIMIT = (5.0, 10.0)  # errors per second and burst, per session: a flood of bad datagrams gets few answers
START_LIMIT = (0.2, 3.0)  # a new world every 5 s on average, three at once
EVENT_LIMIT = (20.0, 40.0)
UPLOAD_LIMIT = (1000.0, 256.0)


# --- per-session state ----------------------------------------------------------------------


@dataclass
class _StartRecord:
    fields: tuple
    started: Started
    at: float


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
    answers_challenges: bool = False
    replay: auth.ReplayWindow = field(default_factory=auth.ReplayWindow)
    validated_heard: float = 0.0
    candidate: PathCandidate | None = None
    out_seq: int = 0
    newest_input: int = 0
    world: int = 0
    paused: bool = False
    next_frame: int = 0
    upload: PartialUpload | None = None
    events: OrderedDict[int, str] = field(default_factory=OrderedDict)
    history: FrameHistory = field(default_factory=FrameHistory)
    last_start: _StartRecord | None = None
    event_acks: dict[int, tuple[str, EventAck]] = field(default_factory=dict)
    errors: TokenBucket = field(default_factory=lambda: TokenBucket(*ERROR_LIMIT))
    starts: TokenBucket = field(default_factory=lambda: TokenBucket(*START_LIMIT))
    event_budget: TokenBucket = field(default_factory=lambda: TokenBucket(*EVENT_LIMIT))
    uploads: TokenBucket = field(default_factory=lambda: TokenBucket(*UPLOAD_LIMIT))


class DaemonEndpoint:
    """All sessions of one daemon socket. Never raises for anything a peer sends."""

    def __init__(self, *, info: ServerInfo, token: str | None, random_bytes: Callable[[int], bytes] = os.urandom):
        self.info = info
        self.token = token
        self._random = random_bytes
        self._secret = random_bytes(32)
        self._sessions: dict[int, _Session] = {}
        self._by_address: dict[Address, int] = {}
        self._images = ImageCache(max_bytes=info.image_cache_bytes, image_problem=info.image_problem)
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
            self._on_undecodable(exc, address, now, len(data))
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
        seq = message.seq
        # The replay window first (a replay gets no answer and moves nothing), then the tag, then the path.
        if not session.replay.check(seq) or not self._authentic(session, decoded.body, decoded.tag, address):
            self.dropped += 1
            return
        session.replay.record(seq)
        session.last_heard = now
        if address == session.address:
            session.validated_heard = now
        else:
            self._on_new_path(session, address, len(data), now)
        try:
            self._dispatch(session, message, now, len(data))
        except RemoteProtocolError as exc:
            self._answer_error(session, exc.code, exc.message, ref=seq, now=now, received=len(data))

    def _authentic(self, session: _Session, body: bytes, tag: bytes | None, address: Address) -> bool:
        """Without a token only the session's own address speaks for it; with one, only a valid tag does."""
        if session.key is None:
            return address == session.address
        return tag is not None and auth.tag_matches(session.key, body, tag)

    def _on_undecodable(self, exc: RemoteProtocolError, address: Address, now: float, size: int) -> None:
        """Answer a bad datagram from a session's validated sender (tagged with a token); drop the rest."""
        envelope = exc.envelope
        if isinstance(envelope, Envelope) and envelope.session in self._sessions:
            session = self._sessions[envelope.session]
            if not self._authentic(session, envelope.body, envelope.tag, address):
                return
            ref = 0
            if envelope.seq is not None:
                if not session.replay.check(envelope.seq):
                    return  # a replay: never answered
                session.replay.record(envelope.seq)
                ref = envelope.seq
            if address == session.address:
                self._answer_error(session, exc.code, exc.message, ref=ref, now=now, received=size)
            return
        known = self._by_address.get(address)
        if known is not None and self._sessions[known].key is None:
            # Garbage from a session's address (no token: anyone there could have sent it): a rate-limited
            # answer no larger than the unvalidated rule allows.
            session = self._sessions[known]
            self._answer_error(session, exc.code, exc.message, ref=0, now=now, received=size,
                               amplification=UNVALIDATED_AMPLIFICATION)

    # --- paths (SPEC §3.4) --------------------------------------------------------------------

    def _on_new_path(self, session: _Session, address: Address, size: int, now: float) -> None:
        """An authentic, newest datagram from another address: validate it before moving the stream there."""
        candidate = session.candidate
        if candidate is None or candidate.address != address:
            candidate = session.candidate = PathCandidate(address, self._random(PATH_CHALLENGE_BYTES), now)
        candidate.received += size
        if not session.answers_challenges:
            if now - session.validated_heard >= PATH_SILENCE_S:
                self._move(session, address, now)  # a v1.0 client: its old address fell silent
            return
        if not candidate.challenge_due(now):
            return
        session.out_seq += 1
        body = self._seal(session, PathChallenge(session=session.id, seq=session.out_seq, data=candidate.challenge))
        if candidate.may_send_challenge(len(body), now):
            self._outbox.append((body, address))

    def _on_path_response(self, session: _Session, response: PathResponse, now: float) -> None:
        candidate = session.candidate
        if candidate is None or response.data != candidate.challenge:
            return
        # The response proves the client holds the key and receives at the address it came from.
        if session.address != candidate.address and self._by_address.get(candidate.address) is None:
            self._move(session, candidate.address, now)

    def _move(self, session: _Session, address: Address, now: float) -> None:
        if self._by_address.get(session.address) == session.id:
            del self._by_address[session.address]
        session.address = address
        session.candidate = None
        session.validated_heard = now
        self._by_address[address] = session.id

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
        refusal = hello_refusal(hello, address, info=self.info, token=self.token,
                                open_addresses=[s.address for s in self._sessions.values()],
                                replaces=replaces_on_hello(address) and address in self._by_address)
        if refusal is not None:
            self._send_limited(Error(code=refusal[0].value, message=refusal[1]), encoding, address, size)
            return
        replaced = self._by_address.get(address) if replaces_on_hello(address) else None
        if replaced is not None:  # the same address and port connects afresh: its old session is over
            self.close_session(replaced, "replaced")
        self._open_session(hello, encoding, address, now)

    def _open_session(self, hello: Hello, encoding: Encoding, address: Address, now: float) -> None:
        session_id = 0
        while session_id == 0 or session_id in self._sessions:
            session_id = int.from_bytes(self._random(4), "little")
        server_nonce = self._random(16)
        key = auth.session_key(self.token, hello.nonce, server_nonce, session_id) if self.token else None
        welcome = welcome_for(hello, self.info, session_id=session_id, nonce=server_nonce,
                              authenticated=key is not None, state=self.readiness)
        session = _Session(id=session_id, address=address, client_nonce=hello.nonce, encoding=encoding, key=key,
                           welcome=welcome, fps=welcome.fps, quality=welcome.quality,
                           max_datagram=welcome.max_datagram, last_heard=now,
                           answers_challenges=CLIENT_PATH_RESPONSE in (hello.capabilities or ()),
                           validated_heard=now, out_seq=1)
        self._sessions[session_id] = session
        self._by_address[address] = session_id
        self._send_raw(session, welcome)
        self._events.append(SessionOpened(session_id, address, hello.client, hello.engine, welcome.fps,
                                          welcome.quality, hello.preempt or ""))

    # --- session messages -------------------------------------------------------------------

    def _dispatch(self, session: _Session, message: Message, now: float, size: int) -> None:
        match message:
            case Input():
                self._on_input(session, message)
            case Upload():
                if not session.uploads.take(now):
                    raise RemoteProtocolError(ErrorCode.RATE_LIMITED, "upload pieces arrive too fast; slow down")
                self._on_upload(session, message)
            case Start():
                self._on_start(session, message, now)
            case Event():
                self._on_event(session, message, now)
            case Config():
                if message.quality is not None:
                    session.quality = min(message.quality, self.info.max_quality)
                if message.fps is not None:
                    session.fps = message.fps
                if message.paused is not None:
                    session.paused = message.paused
                self._events.append(ConfigChanged(session.id, session.quality, session.fps, session.paused,
                                                  message.preempt))
            case Ping():
                self._send(session, Pong(session=session.id, seq=0, time_us=message.time_us,
                                         daemon_time_us=int(now * 1e6)))
            case Nack():
                self._on_nack(session, message, now, size)
            case PathResponse():
                self._on_path_response(session, message, now)
            case Bye():
                self._forget(session.id, "client")
            case _:
                raise RemoteProtocolError(ErrorCode.BAD_MESSAGE,
                                          f"the daemon does not accept {message.TYPE!r} messages")

    def _on_input(self, session: _Session, message: Input) -> None:
        if message.seq < session.newest_input:
            return  # an older input arriving late: the newest input wins
        session.newest_input = message.seq
        axes = Axes(message.move[0], message.move[1], message.look[0], message.look[1])
        if message.keys:
            axes = axes_from_keys(message.keys, axes)
        self._events.append(InputReceived(session.id, message.seq, axes, message.chunk))

    def _on_event(self, session: _Session, message: Event, now: float) -> None:
        limits = self.info.limits
        text = message.text.strip()
        acked = session.event_acks.get(message.id)
        if acked is not None and acked[0] == text:  # a resend (the ack was lost): the same answer again
            self._send(session, acked[1])
            return
        if not session.event_budget.take(now):
            raise RemoteProtocolError(ErrorCode.RATE_LIMITED, "events arrive too fast; resend this one later")
        if len(message.text) > limits.max_event_chars:
            raise RemoteProtocolError(ErrorCode.TEXT_TOO_LONG,
                                      f"event text is longer than {limits.max_event_chars} characters")
        if not text:
            session.events.pop(message.id, None)
        elif message.id not in session.events and len(session.events) >= limits.max_events:
            raise RemoteProtocolError(ErrorCode.TOO_MANY_EVENTS,
                                      f"{limits.max_events} events are active; clear one first")
        else:
            session.events[message.id] = text
        session.event_acks.pop(message.id, None)
        self._events.append(EventsChanged(session.id, message.seq, message.id, tuple(session.events.values()),
                                          tuple(session.events)))

    def _on_upload(self, session: _Session, piece: Upload) -> None:
        limit = self.info.limits.max_upload_bytes
        if piece.size > limit:
            raise RemoteProtocolError(ErrorCode.UPLOAD_TOO_LARGE, f"image of {piece.size} bytes exceeds {limit}")
        if self._images.refresh(piece.hash):
            self._send(session, UploadAck(session=session.id, seq=0, hash=piece.hash, offset=0, length=0,
                                          received=piece.size, complete=True))
            return
        upload = session.upload = upload_for(session.upload, piece)
        received = upload.add(piece.offset, piece.data)
        complete = received == piece.size
        if complete:
            session.upload = None
            self._images.add(piece.hash, bytes(upload.buffer))
        self._send(session, UploadAck(session=session.id, seq=0, hash=piece.hash, offset=piece.offset,
                                      length=len(piece.data), received=received, complete=complete))

    def _on_start(self, session: _Session, start: Start, now: float) -> None:
        fields = (start.source, start.image, start.prompt, start.seed)
        previous = session.last_start
        if previous is not None and previous.fields == fields and now - previous.at <= START_REPEAT_S:
            # A resent start (its started was lost): the same answer, not a second world (SPEC §5.5).
            self._send(session, Started(**{**previous.started.__dict__, "ref": start.seq}))
            return
        if not session.starts.take(now):
            raise RemoteProtocolError(ErrorCode.RATE_LIMITED, "starts arrive too fast; wait a second and resend")
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
        started = Started(session=session.id, seq=0, world=session.world, source=start.source, seed=seed,
                          ref=start.seq)
        session.last_start = _StartRecord(fields, started, now)
        self._send(session, started)
        self._events.append(StartRequested(session.id, start.seq, StartSource(start.source), image,
                                           start.prompt, seed))

    def _on_nack(self, session: _Session, nack: Nack, now: float, size: int) -> None:
        """Resend what was asked, within three budgets: per fragment, per nack (≤ 10× its size), per session."""
        limits = self.info.limits
        resent = session.history.resends(nack, now, deadline=limits.frame_deadline_ms / 1000,
                                      max_fragments=limits.max_nack_fragments, allowance=MAX_AMPLIFICATION * size)
        self._outbox.extend((datagram, session.address) for datagram in resent)

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
        session.history.record(number, now, datagrams)
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
        ack = EventAck(session=session.id, seq=0, id=event_id, chunk=chunk, active=active)
        session.event_acks[event_id] = (session.events.get(event_id, ""), ack)
        while len(session.event_acks) > 4 * self.info.limits.max_events:
            session.event_acks.pop(next(iter(session.event_acks)))
        self._send(session, ack)

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

    def _answer_error(self, session: _Session, code: ErrorCode, message: str, *, ref: int, now: float,
                      received: int, amplification: int = MAX_AMPLIFICATION) -> None:
        """Answer what a peer sent wrong: rate-limited per session, and never over ``amplification``× its size."""
        if not session.errors.take(now):
            self.dropped += 1
            return
        error = Error(code=code.value, message=message[:500], session=session.id, seq=session.out_seq + 1, ref=ref)
        overhead = len(self._seal(session, Error(**{**error.__dict__, "message": ""})))
        room = amplification * received - overhead
        if room < 0:
            self.dropped += 1
            return
        self._send(session, Error(**{**error.__dict__, "message": message[:min(500, room)]}))

    def _send_error(self, session: _Session, code: ErrorCode, message: str, *, ref: int) -> None:
        self._send(session, Error(code=code.value, message=message[:500], session=session.id, seq=0, ref=ref))

    def _send(self, session: _Session, message: Message) -> None:
        session.out_seq += 1
        self._send_raw(session, type(message)(**{**message.__dict__, "seq": session.out_seq}))

    def _seal(self, session: _Session, message: Message) -> bytes:
        body = encode(message, session.encoding)
        if session.key is not None:
            body += auth.tag(session.key, body)
        return body

    def _send_raw(self, session: _Session, message: Message) -> None:
        self._outbox.append((self._seal(session, message), session.address))

    def _send_limited(self, message: Message, encoding: Encoding, address: Address, received: int) -> None:
        """Answer an unvalidated address: never more than 3x the bytes it sent (SPEC §3.1)."""
        if isinstance(message, Error):
            message = Error(**{**message.__dict__, "message": message.message[:500]})
        body = encode(message, encoding)
        if within_unvalidated_limit(len(body), received):
            self._outbox.append((body, address))
        else:
            self.dropped += 1
