"""Hostile input: every datagram either decodes or is rejected, and nothing grows past its cap."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.protocol.test_session import ADDRESS, INFO, Pair
from yume_bridge.protocol.codec import decode, encode
from yume_bridge.protocol.errors import RemoteProtocolError
from yume_bridge.protocol.fragment import Reassembler, split_frame
from yume_bridge.protocol.messages import MESSAGE_TYPES, Hello, Input, Upload
from yume_bridge.protocol.server import DaemonEndpoint
from yume_bridge.protocol.wire import Encoding, FrameHeader

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = [encode(Hello(protocol=1, nonce=bytes(16)), e) for e in Encoding] + [
    encode(Input(session=1, seq=2, move=(0.5, -0.5)), e) for e in Encoding]


def mutated(base: bytes) -> st.SearchStrategy[bytes]:
    return st.tuples(st.integers(0, max(len(base) - 1, 0)), st.binary(min_size=0, max_size=8),
                     st.integers(0, len(base))).map(lambda t: base[: t[0]] + t[1] + base[t[0] + len(t[1]):t[2]])


datagrams = st.one_of(st.binary(max_size=5000), *(mutated(v) for v in VALID))


@FUZZ
@given(datagrams)
def test_the_codec_decodes_or_rejects_anything(data):
    try:
        message = decode(data).message
    except RemoteProtocolError:
        return
    assert type(message) in MESSAGE_TYPES.values()


@FUZZ
@given(st.lists(datagrams, max_size=30))
def test_the_daemon_endpoint_never_raises_and_never_opens_sessions_for_garbage(batch):
    daemon = DaemonEndpoint(info=INFO, token=None)
    for data in batch:
        daemon.receive_datagram(data, ADDRESS, 0.0)
    assert daemon.session_ids == ()
    for reply, _ in daemon.datagrams_to_send():
        assert len(reply) <= 3 * max(len(d) for d in batch)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 40), st.binary(max_size=64)), max_size=60))
def test_the_reassembler_survives_forged_fragments_within_its_caps(pieces):
    reassembler = Reassembler(7, max_incomplete=4)
    good = split_frame(FrameHeader(7, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0), bytes(range(256)) * 30, 1200)
    for position, junk in pieces:
        datagram = bytearray(good[position % len(good)])
        datagram[position % 44: position % 44 + len(junk)] = junk
        reassembler.push(bytes(datagram), 0.0)
        reassembler.nacks(0.01)
        assert reassembler.incomplete_frames <= 4
        assert sum(p.bytes_held for p in reassembler._partials.values()) <= reassembler.max_frame_bytes + 1200


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 120_000), st.integers(1, 200_000), st.binary(min_size=1, max_size=900),
                          st.booleans()), max_size=20))
def test_hostile_uploads_are_answered_and_bounded(pieces):
    pair = Pair().connect()
    for offset, size, data, same_hash in pieces:
        if offset + len(data) > size:
            continue
        digest = bytes(32) if same_hash else bytes([len(data) % 256]) * 32
        pair.client._send(Upload(session=pair.client.session, seq=0, hash=digest, size=size, offset=offset,
                                 data=data), pair.now)
        pair.transfer()
    session = pair.daemon._sessions[pair.client.session]
    assert session.upload is None or len(session.upload.buffer) <= INFO.limits.max_upload_bytes
    assert pair.client.state.value == "connected"


@FUZZ
@given(st.lists(st.sampled_from(["input", "event", "config", "ping", "nack", "start", "bye", "junk"]), max_size=25),
       st.randoms(use_true_random=False))
def test_any_sequence_of_session_messages_keeps_the_state_machine_consistent(kinds, rng):
    pair = Pair(token="t").connect()
    now = 0.0
    for kind in kinds:
        now += rng.random() * 0.1
        client = pair.client
        if client.state.value != "connected":
            break
        if kind == "input":
            client.send_input(now, move=(rng.uniform(-1, 1), rng.uniform(-1, 1)))
        elif kind == "event":
            client.send_event(now, rng.randrange(6), "x" * rng.randrange(0, 400))
        elif kind == "config":
            client.configure(now, paused=rng.random() < 0.5, fps=rng.uniform(1, 240))
        elif kind == "ping":
            client.ping(now)
        elif kind == "start":
            client.start(now, source=rng.choice(["default", "text"]), prompt="p")
        elif kind == "bye":
            client.close(now)
        else:
            client._outbox.append(rng.randbytes(rng.randrange(1, 300)))
        pair.now = now
        pair.transfer()
    daemon = pair.daemon
    assert len(daemon.session_ids) <= 1
    for session in daemon._sessions.values():
        assert len(session.events) <= INFO.limits.max_events
