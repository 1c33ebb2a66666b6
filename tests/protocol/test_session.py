"""Both endpoints' state machines, driven without sockets or sleeps (paired endpoints + transfer)."""

from __future__ import annotations

import hashlib
import json
import random

import pytest

from tests.conftest import VECTORS
from yume_bridge.actions import Look, Movement
from yume_bridge.protocol import auth
from yume_bridge.protocol.client import (
    ClientEndpoint,
    ClientState,
    Closed,
    Connected,
    ErrorReceived,
    EventAcknowledged,
    FrameReceived,
    UploadFinished,
    WorldStarted,
)
from yume_bridge.protocol.codec import decode, encode
from yume_bridge.protocol.daemon_events import (
    EventsChanged,
    InputReceived,
    SessionClosed,
    SessionOpened,
    StartRequested,
)
from yume_bridge.protocol.handshake import ServerInfo
from yume_bridge.protocol.messages import Hello, Input, Ping, Vocabulary
from yume_bridge.protocol.server import DaemonEndpoint
from yume_bridge.protocol.wire import Encoding, Limits

ADDRESS = ("127.0.0.1", 40000)
INFO = ServerInfo(daemon_version="test", backend="preview", model="preview", model_version="1", width=960,
                  height=544, fps=16.0, frames_per_chunk=29,
                  vocabulary=Vocabulary(name="camera", version="v1", movement=tuple(m.symbol for m in Movement),
                                        look=tuple(lk.symbol for lk in Look)),
                  limits=Limits(max_sessions=2, max_events=2, max_upload_bytes=100_000))


class Pair:
    """A daemon and a client wired by ``transfer``, with optional loss and reordering."""

    def __init__(self, token=None, client_token="same", encoding=Encoding.MSGPACK, address=ADDRESS):
        self.daemon = DaemonEndpoint(info=INFO, token=token)
        self.client = ClientEndpoint(token=token if client_token == "same" else client_token, encoding=encoding)
        self.address = address
        self.now = 0.0
        self.drop = lambda datagram: False

    def transfer(self, rounds: int = 6, shuffle: random.Random | None = None) -> None:
        for _ in range(rounds):
            upstream = self.client.datagrams_to_send()
            if shuffle is not None:
                shuffle.shuffle(upstream)
            for datagram in upstream:
                if not self.drop(datagram):
                    self.daemon.receive_datagram(datagram, self.address, self.now)
            for datagram, _ in self.daemon.datagrams_to_send():
                if not self.drop(datagram):
                    self.client.receive_datagram(datagram, self.now)

    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.client.handle_timer(self.now)
        self.daemon.handle_timer(self.now)
        self.transfer()

    def connect(self) -> Pair:
        self.client.connect(self.now)
        self.transfer()
        return self

    def client_events(self):
        return list(iter(self.client.next_event, None))

    def daemon_events(self):
        return list(iter(self.daemon.next_event, None))


def test_handshake_needs_a_cookie_round_trip_before_any_session_exists():
    pair = Pair()
    pair.client.connect(0.0)
    (hello,) = pair.client.datagrams_to_send()
    pair.daemon.receive_datagram(hello, ADDRESS, 0.0)
    assert pair.daemon.session_ids == ()  # stateless until the address is validated
    (retry, _), = pair.daemon.datagrams_to_send()
    assert decode(retry).message.TYPE == "retry"
    pair.client.receive_datagram(retry, 0.0)
    pair.transfer()
    events = pair.client_events()
    assert isinstance(events[0], Connected) and pair.client.state is ClientState.CONNECTED
    assert isinstance(pair.daemon_events()[0], SessionOpened)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_the_daemon_answers_in_the_encoding_of_the_hello(encoding):
    pair = Pair(encoding=encoding).connect()
    pair.client.ping(pair.now)
    for datagram in pair.client.datagrams_to_send():
        pair.daemon.receive_datagram(datagram, ADDRESS, 0.0)
    (pong, _), = pair.daemon.datagrams_to_send()
    assert decode(pong).encoding is encoding


def test_replies_to_an_unvalidated_address_never_exceed_three_times_its_bytes():
    daemon = DaemonEndpoint(info=INFO, token="t")
    rng = random.Random(5)
    sent = answered = 0
    for i in range(10_000):
        hello = encode(Hello(protocol=rng.choice([1, 1, 2]), nonce=rng.randbytes(16)), rng.choice(list(Encoding)))
        spoofed = (f"10.0.{i % 250}.{i % 200}", 1000 + i)
        daemon.receive_datagram(hello, spoofed, 0.0)
        sent += len(hello)
        for datagram, _ in daemon.datagrams_to_send():
            answered += len(datagram)
            assert len(datagram) <= 3 * len(hello)
    assert daemon.session_ids == () and answered <= 3 * sent


def test_a_token_is_proved_and_every_session_datagram_is_tagged():
    pair = Pair(token="s3cret").connect()
    assert pair.client.welcome.authenticated
    pair.client.ping(pair.now)
    (datagram,) = pair.client.datagrams_to_send()
    body = decode(datagram).body
    assert datagram[len(body):] == auth.tag(pair.client._key, body)


def test_a_wrong_token_is_refused_with_a_clear_error_and_no_session():
    pair = Pair(token="right", client_token="wrong").connect()
    events = pair.client_events()
    assert any(isinstance(e, ErrorReceived) and e.code == "auth_failed" for e in events)
    assert pair.client.state is ClientState.CLOSED and pair.daemon.session_ids == ()


def test_a_client_without_a_token_is_told_the_daemon_needs_one():
    pair = Pair(token="right", client_token=None).connect()
    assert any(isinstance(e, ErrorReceived) and e.code == "auth_required" for e in pair.client_events())


def test_a_forged_or_replayed_session_datagram_is_dropped():
    pair = Pair(token="s3cret").connect()
    pair.daemon_events()
    pair.client.send_input(pair.now, move=(0.0, 1.0))
    (datagram,) = pair.client.datagrams_to_send()
    pair.daemon.receive_datagram(datagram, ADDRESS, 0.0)
    pair.daemon.receive_datagram(datagram, ADDRESS, 0.0)  # replay
    forged = encode(Input(session=pair.client.session, seq=99, move=(1.0, 0.0)), Encoding.MSGPACK) + bytes(16)
    pair.daemon.receive_datagram(forged, ("10.9.9.9", 1), 0.0)  # spoofed, wrong tag
    inputs = [e for e in pair.daemon_events() if isinstance(e, InputReceived)]
    assert len(inputs) == 1 and inputs[0].axes.move_y == 1.0


def test_an_authenticated_session_follows_its_client_to_a_new_address():
    pair = Pair(token="s3cret").connect()
    pair.address = ("127.0.0.1", 40001)  # Wi-Fi roamed
    pair.client.ping(pair.now)
    pair.transfer()
    assert pair.daemon.address_of(pair.client.session) == ("127.0.0.1", 40001)


def test_without_a_token_datagrams_from_another_address_are_ignored():
    pair = Pair().connect()
    pair.daemon_events()
    pair.address = ("127.0.0.1", 40001)
    pair.client.send_input(pair.now, move=(0.0, 1.0))
    pair.transfer()
    assert pair.daemon_events() == []


def test_a_lost_welcome_is_repeated_for_the_same_hello():
    pair = Pair()
    pair.drop = lambda d: decode(d).message.TYPE == "welcome" if d[:1] != b"Y" else False
    pair.client.connect(0.0)
    pair.transfer()
    pair.drop = lambda d: False
    pair.tick(0.3)
    assert pair.client.state is ClientState.CONNECTED and len(pair.daemon.session_ids) == 1


def test_an_unreachable_daemon_is_reported_after_ten_seconds():
    client = ClientEndpoint()
    client.connect(0.0)
    now = 0.0
    while client.state is ClientState.CONNECTING and now < 20:
        now = client.get_timer()
        client.handle_timer(now)
    assert client.state is ClientState.CLOSED and 10 <= now < 12
    assert any(isinstance(e, ErrorReceived) and e.code == "unreachable" for e in iter(client.next_event, None))


def test_a_session_message_for_an_unknown_session_gets_unknown_session():
    daemon = DaemonEndpoint(info=INFO, token=None)
    ping = encode(Ping(session=1234, seq=1), Encoding.JSON)
    daemon.receive_datagram(ping, ADDRESS, 0.0)
    (reply, _), = daemon.datagrams_to_send()
    assert decode(reply).message.code == "unknown_session"


def test_idle_sessions_are_closed_and_told_so():
    pair = Pair().connect()
    pair.daemon_events()
    pair.daemon.handle_timer(pair.now + 10.5)
    assert isinstance(pair.daemon_events()[0], SessionClosed)
    for datagram, _ in pair.daemon.datagrams_to_send():
        pair.client.receive_datagram(datagram, pair.now)
    assert any(isinstance(e, Closed) and e.reason == "idle_timeout" for e in pair.client_events())


def test_sessions_beyond_the_limit_are_refused():
    pairs = [Pair(address=("127.0.0.1", 41000 + i)) for i in range(3)]
    daemon = pairs[0].daemon
    for pair in pairs:
        pair.daemon = daemon
        pair.connect()
    assert pairs[2].client.state is ClientState.CLOSED
    assert any(isinstance(e, ErrorReceived) and e.code == "session_limit" for e in pairs[2].client_events())


def test_an_upload_survives_loss_and_reordering():
    pair = Pair().connect()
    image = random.Random(3).randbytes(60_000)
    rng = random.Random(4)
    pair.drop = lambda d: rng.random() < 0.2
    digest = pair.client.upload_image(image, pair.now)
    for _ in range(40):
        pair.transfer(shuffle=rng)
        pair.tick(0.6)
    assert any(isinstance(e, UploadFinished) for e in pair.client_events())
    pair.drop = lambda d: False
    pair.client.start(pair.now, source="image", image=digest)
    pair.transfer()
    (start,) = [e for e in pair.daemon_events() if isinstance(e, StartRequested)]
    assert start.image == image and hashlib.sha256(start.image).digest() == digest


def test_an_upload_over_the_limit_is_refused():
    pair = Pair().connect()
    from yume_bridge.protocol.messages import Upload

    too_big = Upload(session=pair.client.session, seq=0, hash=bytes(32), size=200_000, offset=0, data=b"x")
    pair.client._send(too_big, pair.now)
    pair.transfer()
    assert any(isinstance(e, ErrorReceived) and e.code == "upload_too_large" for e in pair.client_events())


def test_bytes_that_do_not_match_their_hash_are_rejected():
    pair = Pair().connect()
    from yume_bridge.protocol.messages import Upload

    pair.client._send(Upload(session=pair.client.session, seq=0, hash=bytes(32), size=3, offset=0, data=b"abc"),
                      pair.now)
    pair.transfer()
    assert any(isinstance(e, ErrorReceived) and e.code == "upload_mismatch" for e in pair.client_events())


def test_starting_from_an_image_the_daemon_does_not_hold_is_an_error():
    pair = Pair().connect()
    pair.client.start(pair.now, source="image", image=bytes(32))
    pair.transfer()
    assert any(isinstance(e, ErrorReceived) and e.code == "unknown_image" for e in pair.client_events())


def test_events_are_acknowledged_limited_and_cleared():
    pair = Pair().connect()
    pair.daemon_events()
    for event_id, text in ((1, "a dragon circles the tower"), (2, "it starts to rain"), (3, "one too many")):
        pair.client.send_event(pair.now, event_id, text)
    pair.transfer()
    changes = [e for e in pair.daemon_events() if isinstance(e, EventsChanged)]
    assert changes[-1].events == ("a dragon circles the tower", "it starts to rain")
    assert any(isinstance(e, ErrorReceived) and e.code == "too_many_events" for e in pair.client_events())
    pair.client.send_event(pair.now, 1, "")
    pair.transfer()
    assert [e for e in pair.daemon_events() if isinstance(e, EventsChanged)][-1].active == (2,)


def test_an_unacknowledged_event_is_sent_again():
    pair = Pair().connect()
    pair.client.send_event(pair.now, 1, "a door opens")
    pair.client.datagrams_to_send()  # lost
    pair.tick(0.6)
    sid = pair.daemon.session_ids[0]
    pair.daemon.send_event_ack(sid, event_id=1, chunk=4, active=(1,))
    pair.transfer()
    assert EventAcknowledged(1, 4) in pair.client_events()


def test_over_long_event_text_is_refused_and_nothing_else_changes():
    pair = Pair().connect()
    pair.daemon_events()
    pair.client.send_event(pair.now, 1, "x" * 301)
    pair.transfer()
    assert not [e for e in pair.daemon_events() if isinstance(e, EventsChanged)]
    assert any(isinstance(e, ErrorReceived) and e.code == "text_too_long" for e in pair.client_events())


def test_an_older_input_arriving_late_does_not_override_a_newer_one():
    pair = Pair().connect()
    pair.daemon_events()
    pair.client.send_input(pair.now, move=(0.0, 1.0))
    pair.client.send_input(pair.now, move=(0.0, -1.0))
    first, second = pair.client.datagrams_to_send()
    pair.daemon.receive_datagram(second, ADDRESS, 0.0)
    pair.daemon.receive_datagram(first, ADDRESS, 0.0)
    inputs = [e for e in pair.daemon_events() if isinstance(e, InputReceived)]
    assert [e.axes.move_y for e in inputs] == [-1.0]


def test_held_keys_override_axes():
    pair = Pair().connect()
    pair.daemon_events()
    pair.client.send_input(pair.now, move=(0.0, 0.0), keys=("KeyW", "ArrowLeft", "KeyQ"))
    pair.transfer()
    (event,) = [e for e in pair.daemon_events() if isinstance(e, InputReceived)]
    assert (event.axes.move_y, event.axes.look_x) == (1.0, -1.0)


def test_a_nacked_fragment_is_resent_within_the_deadline_but_not_after():
    pair = Pair().connect()
    sid = pair.daemon.session_ids[0]
    pair.daemon.send_frame(sid, jpeg=bytes(range(256)) * 20, chunk=0, frame_in_chunk=0, last_in_chunk=False,
                           input_seq=0, action=0, now=pair.now)
    datagrams = [d for d, _ in pair.daemon.datagrams_to_send()]
    for index, datagram in enumerate(datagrams):
        if index != 2:
            pair.client.receive_datagram(datagram, pair.now)
    pair.tick(0.05)  # quiet long enough: the client nacks, the daemon resends
    frames = [e for e in pair.client_events() if isinstance(e, FrameReceived)]
    assert len(frames) == 1 and frames[0].frame.jpeg == bytes(range(256)) * 20
    pair.daemon.send_frame(sid, jpeg=bytes(5000), chunk=0, frame_in_chunk=1, last_in_chunk=False, input_seq=0,
                           action=0, now=pair.now)
    pair.daemon.datagrams_to_send()
    from yume_bridge.protocol.messages import Nack

    pair.client._send(Nack(session=sid, seq=0, frame=1, missing=(0,)), pair.now + 1.0)
    for datagram in pair.client.datagrams_to_send():
        pair.daemon.receive_datagram(datagram, ADDRESS, pair.now + 1.0)
    assert pair.daemon.datagrams_to_send() == []  # stale frames are never resent


def test_a_whole_session_from_start_to_frames_to_bye():
    pair = Pair(token="tok").connect()
    pair.client.start(pair.now, source="text", prompt="a lighthouse", seed=9)
    pair.transfer()
    started = [e for e in pair.client_events() if isinstance(e, WorldStarted)]
    assert started == [WorldStarted(1, 9)]
    sid = pair.daemon.session_ids[0]
    for i in range(3):
        pair.daemon.send_frame(sid, jpeg=bytes([i]) * 3000, chunk=0, frame_in_chunk=i, last_in_chunk=i == 2,
                               input_seq=5, action=10, now=pair.now)
    pair.transfer()
    frames = [e.frame for e in pair.client_events() if isinstance(e, FrameReceived)]
    assert [f.header.frame for f in frames] == [0, 1, 2] and frames[0].header.action == 10
    pair.client.close(pair.now)
    pair.transfer()
    assert any(isinstance(e, SessionClosed) and e.reason == "client" for e in pair.daemon_events())


def test_auth_vectors_match_the_reference_functions():
    vectors = json.loads((VECTORS / "auth.json").read_text("utf-8"))
    nonce_c, nonce_s = bytes.fromhex(vectors["client_nonce"]), bytes.fromhex(vectors["server_nonce"])
    key = auth.session_key(vectors["token"], nonce_c, nonce_s, vectors["session"])
    assert key.hex() == vectors["session_key"]
    assert auth.hello_auth(vectors["token"], nonce_c, bytes.fromhex(vectors["cookie"])).hex() == vectors["hello_auth"]
    for tagged in vectors["tagged"]:
        assert auth.tag(key, bytes.fromhex(tagged["body"])).hex() == tagged["tag"]


def test_cookies_expire_and_are_bound_to_the_address():
    secret = bytes(32)
    cookie = auth.make_cookie(secret, ADDRESS, bytes(16), 100.0)
    assert auth.cookie_valid(secret, ADDRESS, bytes(16), cookie, 120.0)
    assert not auth.cookie_valid(secret, ADDRESS, bytes(16), cookie, 131.0)
    assert not auth.cookie_valid(secret, ("127.0.0.2", 40000), bytes(16), cookie, 101.0)


def test_the_replay_window_accepts_each_recent_number_once():
    window = auth.ReplayWindow()
    accepted = []
    for seq in (1, 3, 2, 3, 100, 37, 36, 0):
        if window.check(seq):
            window.record(seq)
            accepted.append(seq)
    assert accepted == [1, 3, 2, 100, 37]


def test_a_client_with_a_token_refuses_a_daemon_that_does_not_authenticate():
    pair = Pair(token=None, client_token="mine").connect()
    assert pair.client.state is ClientState.CLOSED
    assert any(isinstance(e, ErrorReceived) and e.code == "auth_required" for e in pair.client_events())
