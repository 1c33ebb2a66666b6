"""Places where a deliberately broken line used to pass every test: the last fragment, tags, flags."""

from __future__ import annotations

from tests.protocol.test_session import ADDRESS, Pair
from yume_bridge.protocol import auth
from yume_bridge.protocol.client import FrameReceived, WorldStarted
from yume_bridge.protocol.codec import decode, encode
from yume_bridge.protocol.messages import Nack, Started
from yume_bridge.protocol.wire import Encoding, FrameFlags, FrameHeader

JPEG = bytes(range(256)) * 40  # 10,240 bytes: nine fragments at 1,200 bytes


def _one_frame(pair: Pair) -> list[bytes]:
    sid = pair.daemon.session_ids[0]
    pair.daemon.send_frame(sid, jpeg=JPEG, chunk=0, frame_in_chunk=0, last_in_chunk=False, input_seq=0, action=0,
                           now=pair.now)
    return [d for d, _ in pair.daemon.datagrams_to_send()]


def test_a_frame_whose_last_fragment_was_lost_is_asked_for_and_completed():
    pair = Pair().connect()
    fragments = _one_frame(pair)
    assert len(fragments) > 2
    for datagram in fragments[:-1]:
        pair.client.receive_datagram(datagram, pair.now)
    nacks = []
    real = pair.daemon.receive_datagram
    pair.daemon.receive_datagram = lambda d, a, n: (nacks.append(d), real(d, a, n))
    pair.tick(0.05)
    frames = [e.frame for e in pair.client_events() if isinstance(e, FrameReceived)]
    assert len(frames) == 1 and frames[0].jpeg == JPEG
    asked = [decode(d).message for d in nacks if decode(d).message.TYPE == "nack"]
    assert asked and asked[0].missing == (len(fragments) - 1,)


def test_resent_fragments_and_only_they_carry_the_retransmission_flag():
    pair = Pair().connect()
    fragments = _one_frame(pair)
    assert all(not FrameHeader.unpack(d).flags & FrameFlags.RETRANSMISSION for d in fragments)
    sid = pair.daemon.session_ids[0]
    nack = encode(Nack(session=sid, seq=20, frame=0, missing=(1, 4), pad=bytes(400)), Encoding.MSGPACK)
    pair.daemon.receive_datagram(nack, ADDRESS, pair.now)
    resent = [d for d, _ in pair.daemon.datagrams_to_send()]
    headers = [FrameHeader.unpack(d) for d in resent]
    assert [h.fragment_index for h in headers] == [1, 4]
    assert all(h.flags & FrameFlags.RETRANSMISSION for h in headers)
    assert [d[44:] for d in resent] == [fragments[1][44:], fragments[4][44:]]


def test_the_client_accepts_only_messages_tagged_with_its_session_key():
    pair = Pair(token="s3cret").connect()
    pair.client_events()
    key = pair.client._key
    sid = pair.client.session
    forged_body = encode(Started(session=sid, seq=50, world=9, source="text", seed=1), Encoding.MSGPACK)
    pair.client.receive_datagram(forged_body + auth.tag(b"another key".ljust(32, b"!"), forged_body), pair.now)
    pair.client.receive_datagram(forged_body, pair.now)  # no tag at all
    assert not any(isinstance(e, WorldStarted) for e in pair.client_events())
    pair.client.receive_datagram(forged_body + auth.tag(key, forged_body), pair.now)
    assert [e for e in pair.client_events() if isinstance(e, WorldStarted)] == [WorldStarted(9, 1)]
