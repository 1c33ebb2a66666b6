"""What a client written from SPEC.md alone found wrong in the daemon, and the medium findings, sans-IO."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import time

from PIL import Image

from tests.protocol.test_session import ADDRESS, INFO, Pair
from yume_bridge.daemon.start_images import start_image_problem
from yume_bridge.protocol import auth
from yume_bridge.protocol.client import ErrorReceived
from yume_bridge.protocol.codec import decode, encode
from yume_bridge.protocol.daemon_events import StartRequested
from yume_bridge.protocol.messages import Config, Ping, Upload
from yume_bridge.protocol.server import DaemonEndpoint
from yume_bridge.protocol.uploads import MAX_CACHED_IMAGES, MAX_UPLOAD_RANGES
from yume_bridge.protocol.wire import Encoding


def _png(size: tuple[int, int] = (32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _checking_pair(token: str | None = None) -> Pair:
    pair = Pair(token=token)
    pair.daemon = DaemonEndpoint(info=dataclasses.replace(INFO, image_problem=lambda data: start_image_problem(
        data, INFO.limits.max_image_pixels)), token=token)
    return pair.connect()


def _errors(pair: Pair) -> list[ErrorReceived]:
    return [e for e in pair.client_events() if isinstance(e, ErrorReceived)]


def test_an_upload_that_is_not_a_usable_image_is_refused_before_any_start():
    for data in (b"certainly not an image" * 10, _png()[:-30]):
        pair = _checking_pair()
        digest = pair.client.upload_image(data, pair.now)
        pair.transfer()
        errors = _errors(pair)
        assert [e.code for e in errors] == ["bad_image"] and "0x" not in errors[0].message
        pair.client.start(pair.now, source="image", image=digest)
        pair.transfer()
        assert [e.code for e in _errors(pair)] == ["unknown_image"]
        assert not [e for e in pair.daemon_events() if isinstance(e, StartRequested)]


def test_a_good_upload_still_completes_and_starts():
    pair = _checking_pair()
    digest = pair.client.upload_image(_png(), pair.now)
    pair.transfer()
    pair.client.start(pair.now, source="image", image=digest)
    pair.transfer()
    assert _errors(pair) == []
    assert [e.image for e in pair.daemon_events() if isinstance(e, StartRequested)] == [_png()]


def test_a_tagged_message_that_fails_validation_is_answered_with_its_seq_in_token_mode():
    pair = Pair(token="s3cret").connect()
    key = pair.client._key
    body = json.dumps({"type": "config", "session": pair.client.session, "seq": 77, "fps": 0}).encode()
    pair.daemon.receive_datagram(body + auth.tag(key, body), ADDRESS, pair.now)
    (answer, _), = pair.daemon.datagrams_to_send()
    error = decode(answer).message
    assert (error.code, error.ref) == ("value_out_of_range", 77)
    assert auth.tag_matches(key, decode(answer).body, decode(answer).tag)


def test_an_untagged_or_forged_invalid_message_gets_no_answer_in_token_mode():
    pair = Pair(token="s3cret").connect()
    body = json.dumps({"type": "config", "session": pair.client.session, "seq": 78, "fps": 0}).encode()
    pair.daemon.receive_datagram(body, ADDRESS, pair.now)
    pair.daemon.receive_datagram(body + bytes(16), ADDRESS, pair.now)
    assert pair.daemon.datagrams_to_send() == []


def test_errors_from_checking_fields_carry_the_seq_as_ref():
    pair = Pair().connect()
    body = json.dumps({"type": "teleport", "session": pair.client.session, "seq": 41}).encode()
    pair.daemon.receive_datagram(body, ADDRESS, pair.now)
    (answer, _), = pair.daemon.datagrams_to_send()
    assert (decode(answer).message.code, decode(answer).message.ref) == ("bad_message", 41)


def test_integral_floats_are_accepted_for_integer_fields():
    pair = Pair().connect()
    body = json.dumps({"type": "ping", "session": pair.client.session, "seq": 9.0, "time_us": 5.0}).encode()
    pair.daemon.receive_datagram(body, ADDRESS, pair.now)
    (answer, _), = pair.daemon.datagrams_to_send()
    assert decode(answer).message.TYPE == "pong" and decode(answer).message.time_us == 5


def test_a_hello_fps_outside_one_to_240_is_refused_not_echoed():
    pair = Pair()
    pair.client._hello = dataclasses.replace(pair.client._hello, fps=1e-300)
    pair.connect()
    assert [e.code for e in _errors(pair)] == ["value_out_of_range"]
    assert pair.daemon.session_ids == ()


def test_error_messages_never_exceed_500_characters():
    pair = Pair().connect()
    long_type = "x" * 3000
    body = json.dumps({"type": long_type, "session": pair.client.session, "seq": 5}).encode()
    pair.daemon.receive_datagram(body, ADDRESS, pair.now)
    (answer, _), = pair.daemon.datagrams_to_send()
    assert len(decode(answer).message.message) <= 500


def test_one_byte_of_garbage_from_a_sessions_address_draws_at_most_three_bytes_per_byte():
    pair = Pair().connect()
    for garbage in (b"{", b"\x80", b"{" * 5):
        pair.daemon.receive_datagram(garbage, ADDRESS, pair.now)
        answers = pair.daemon.datagrams_to_send()
        assert sum(len(d) for d, _ in answers) <= 3 * len(garbage)


def test_a_flood_of_invalid_messages_gets_a_bounded_number_of_answers():
    pair = Pair().connect()
    sid = pair.client.session
    for seq in range(2, 1002):
        pair.daemon.receive_datagram(encode(Config(session=sid, seq=seq), Encoding.JSON).replace(
            b'"config"', b'"nonsense"'), ADDRESS, pair.now)
    assert len(pair.daemon.datagrams_to_send()) <= 10


def test_scattered_upload_pieces_cost_little_and_their_number_is_bounded():
    pair = Pair().connect()
    sid = pair.client.session
    digest = hashlib.sha256(b"whatever").digest()
    began = time.perf_counter()
    for seq, offset in enumerate(range(0, 2 * MAX_UPLOAD_RANGES * 2, 2), start=2):  # every other byte
        pair.daemon.receive_datagram(encode(Upload(session=sid, seq=seq, hash=digest, size=90_000, offset=offset,
                                                   data=b"z"), Encoding.MSGPACK), ADDRESS, pair.now + seq)
    pair.client._seq = 10_000
    answers = [decode(d).message for d, _ in pair.daemon.datagrams_to_send()]
    acks = [m for m in answers if m.TYPE == "upload_ack"]
    assert len(acks) == MAX_UPLOAD_RANGES and acks[-1].received == MAX_UPLOAD_RANGES
    assert any(m.TYPE == "error" and "separate pieces" in m.message for m in answers)
    assert time.perf_counter() - began < 30  # generous: about a second on a busy machine


def test_the_image_cache_is_bounded_by_entries_as_well_as_bytes():
    pair = Pair().connect()
    for index in range(MAX_CACHED_IMAGES + 30):
        data = index.to_bytes(4, "little")
        pair.client._upload = None
        pair.client.upload_image(data, pair.now)
        pair.transfer()
        pair.now += 1.0
    assert len(pair.daemon._images) == MAX_CACHED_IMAGES


def test_one_machine_cannot_hold_every_session_slot():
    daemon = DaemonEndpoint(info=dataclasses.replace(INFO, max_sessions_per_host=1), token=None)
    first = Pair(address=("10.0.0.5", 40000))
    second = Pair(address=("10.0.0.5", 40001))
    other = Pair(address=("10.0.0.9", 40000))
    for pair in (first, second, other):
        pair.daemon = daemon
        pair.connect()
    assert [e.code for e in _errors(second)] == ["session_limit"]
    assert len(daemon.session_ids) == 2


def test_a_new_hello_from_the_same_address_and_port_replaces_its_old_session():
    pair = Pair().connect()
    old = pair.client.session
    again = Pair()
    again.daemon = pair.daemon
    again.connect()
    assert pair.daemon.session_ids == (again.client.session,) and again.client.session != old
    assert any(type(e).__name__ == "SessionClosed" and e.reason == "replaced" for e in pair.daemon_events())


def test_a_replayed_datagram_gets_no_answer_even_without_a_token():
    pair = Pair().connect()
    ping = encode(Ping(session=pair.client.session, seq=30), Encoding.MSGPACK)
    pair.daemon.receive_datagram(ping, ADDRESS, pair.now)
    assert len(pair.daemon.datagrams_to_send()) == 1
    pair.daemon.receive_datagram(ping, ADDRESS, pair.now)
    assert pair.daemon.datagrams_to_send() == []
