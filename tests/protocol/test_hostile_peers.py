"""What an attacker on the LAN tried (issue: hostile testing), driven through the sans-IO endpoints."""

from __future__ import annotations

import pytest

from tests.protocol.test_session import ADDRESS, Pair
from yume_bridge.protocol.client import ClientEndpoint, FrameReceived
from yume_bridge.protocol.codec import decode, encode
from yume_bridge.protocol.daemon_events import EventsChanged, InputReceived, StartRequested
from yume_bridge.protocol.messages import Event, Nack, Start
from yume_bridge.protocol.paths import PATH_SILENCE_S
from yume_bridge.protocol.server import MAX_AMPLIFICATION, START_LIMIT
from yume_bridge.protocol.wire import FRAME_MAGIC, Encoding, FrameFlags

ATTACKER = ("127.0.0.66", 5555)
BYSTANDER = ("127.0.0.77", 6666)


def _streamed_frame(pair: Pair, size: int = 30_000) -> tuple[int, list[tuple[bytes, tuple]]]:
    sid = pair.daemon.session_ids[0]
    pair.daemon.send_frame(sid, jpeg=bytes(range(256)) * (size // 256), chunk=0, frame_in_chunk=0,
                           last_in_chunk=False, input_seq=0, action=0, now=pair.now)
    return sid, pair.daemon.datagrams_to_send()


def _authenticated_pair() -> Pair:
    pair = Pair(token="s3cret").connect()
    pair.daemon_events()
    pair.client_events()
    return pair


def test_a_replayed_datagram_from_another_address_does_not_move_the_session_or_get_an_answer():
    pair = _authenticated_pair()
    pair.client.send_input(pair.now, move=(0.0, 1.0))
    (captured,) = pair.client.datagrams_to_send()
    pair.daemon.receive_datagram(captured, ADDRESS, pair.now)
    pair.daemon.datagrams_to_send()
    pair.daemon.receive_datagram(captured, ATTACKER, pair.now + 0.1)  # the replay
    assert pair.daemon.datagrams_to_send() == []
    assert pair.daemon.address_of(pair.client.session) == ADDRESS
    _, fragments = _streamed_frame(pair)
    assert {address for _, address in fragments} == {ADDRESS}


def test_a_fresh_datagram_raced_from_another_address_only_draws_a_small_path_challenge():
    pair = _authenticated_pair()
    pair.client.send_input(pair.now, move=(0.0, 1.0))
    (captured,) = pair.client.datagrams_to_send()
    pair.daemon.receive_datagram(captured, BYSTANDER, pair.now)  # forged source: reflect at a bystander
    answers = pair.daemon.datagrams_to_send()
    assert [decode(d).message.TYPE for d, _ in answers] == ["path_challenge"]
    assert sum(len(d) for d, _ in answers) <= 3 * len(captured)
    _, fragments = _streamed_frame(pair)
    assert {address for _, address in fragments} == {ADDRESS}  # the stream stays with the client
    pair.client.ping(pair.now)
    pair.transfer()
    assert pair.daemon.address_of(pair.client.session) == ADDRESS


def test_a_roaming_client_answers_the_challenge_and_the_stream_follows_it():
    pair = _authenticated_pair()
    pair.address = ("127.0.0.1", 40001)
    pair.client.ping(pair.now)
    pair.transfer()
    assert pair.daemon.address_of(pair.client.session) == ("127.0.0.1", 40001)


def test_a_client_that_cannot_answer_challenges_moves_only_once_its_old_address_fell_silent():
    old = Pair(token="s3cret")
    old.client = ClientEndpoint(token="s3cret", encoding=Encoding.MSGPACK)
    old.client._hello = type(old.client._hello)(**{**old.client._hello.__dict__, "capabilities": None,
                                                   "minor": None})
    old.connect()
    old.address = ("127.0.0.1", 40001)
    old.client.ping(old.now)
    old.transfer()
    assert old.daemon.address_of(old.client.session) == ADDRESS  # not yet: the old address spoke recently
    old.now += PATH_SILENCE_S
    old.client.ping(old.now)
    old.transfer()
    assert old.daemon.address_of(old.client.session) == ("127.0.0.1", 40001)


def test_one_nack_naming_a_fragment_many_times_is_answered_within_ten_times_its_size():
    pair = Pair().connect()
    sid, _ = _streamed_frame(pair)
    nack = encode(Nack(session=sid, seq=50, frame=0, missing=(0,) * 128), Encoding.MSGPACK)
    pair.daemon.receive_datagram(nack, ADDRESS, pair.now)
    resent = pair.daemon.datagrams_to_send()
    assert sum(len(d) for d, _ in resent) <= MAX_AMPLIFICATION * len(nack)


def test_each_fragment_is_resent_at_most_twice_and_a_nack_flood_stays_within_a_quarter_of_the_stream():
    pair = Pair().connect()
    sid = pair.daemon.session_ids[0]
    stream = resent = 0
    seq = 100
    for frame in range(40):
        pair.now += 1 / 16
        _, fragments = _streamed_frame(pair, 20_000)
        stream += sum(len(d) for d, _ in fragments)
        for _ in range(20):  # a flood: every fragment of the frame, twenty times, fully padded
            seq += 1
            nack = encode(Nack(session=sid, seq=seq, frame=frame, missing=tuple(range(32)), pad=bytes(3800)),
                          Encoding.MSGPACK)
            pair.daemon.receive_datagram(nack, ADDRESS, pair.now)
            answer = pair.daemon.datagrams_to_send()
            assert all(d[:2] == FRAME_MAGIC and d[3] & FrameFlags.RETRANSMISSION for d, _ in answer)
            resent += sum(len(d) for d, _ in answer)
    assert 0 < resent <= 0.25 * stream


def test_a_lost_fragment_is_still_recovered_by_the_reference_clients_padded_nack():
    pair = Pair().connect()
    sid, fragments = _streamed_frame(pair, 60_000)
    for index, (datagram, _) in enumerate(fragments):
        if index not in (3, 7, 11):
            pair.client.receive_datagram(datagram, pair.now)
    pair.tick(0.05)
    frames = [e for e in pair.client_events() if isinstance(e, FrameReceived)]
    assert len(frames) == 1 and len(frames[0].frame.jpeg) == len(bytes(range(256)) * (60_000 // 256))


def test_a_start_flood_is_answered_with_rate_limited_and_opens_only_a_few_worlds():
    pair = Pair().connect()
    sid = pair.daemon.session_ids[0]
    pair.daemon_events()
    for seq in range(2, 302):
        start = encode(Start(session=sid, seq=seq, source="text", prompt=f"world {seq}"), Encoding.MSGPACK)
        pair.daemon.receive_datagram(start, ADDRESS, pair.now)
    answers = [decode(d).message for d, _ in pair.daemon.datagrams_to_send()]
    opened = [e for e in pair.daemon_events() if isinstance(e, StartRequested)]
    assert 1 <= len(opened) <= START_LIMIT[1]
    assert any(m.TYPE == "error" and m.code == "rate_limited" for m in answers)
    assert sum(m.TYPE == "error" for m in answers) <= 10  # the errors are rate-limited too
    pair.now += 1 / START_LIMIT[0]  # one start's worth of budget later
    pair.client._seq = 400  # the flood above used the client's sequence numbers
    pair.client.start(pair.now, source="text", prompt="after the flood")
    pair.transfer()
    assert [e.prompt for e in pair.daemon_events() if isinstance(e, StartRequested)] == ["after the flood"]


def test_a_resent_start_gets_the_same_started_and_makes_no_second_world():
    pair = Pair().connect()
    pair.daemon_events()
    pair.drop = lambda d: d[:1] != b"Y" and decode(d).message.TYPE == "started"
    pair.client.start(pair.now, source="text", prompt="a harbour", seed=4)
    pair.transfer()
    pair.drop = lambda d: False
    pair.tick(0.6)  # the client resends with a new seq
    starts = [e for e in pair.daemon_events() if isinstance(e, StartRequested)]
    assert len(starts) == 1


def test_a_resent_event_is_acknowledged_with_its_first_chunk():
    pair = Pair().connect()
    sid = pair.daemon.session_ids[0]
    pair.daemon_events()
    first = encode(Event(session=sid, seq=2, id=1, text="rain"), Encoding.MSGPACK)
    pair.daemon.receive_datagram(first, ADDRESS, pair.now)
    (changed,) = [e for e in pair.daemon_events() if isinstance(e, EventsChanged)]
    pair.daemon.send_event_ack(sid, event_id=1, chunk=5, active=changed.active)
    pair.daemon.datagrams_to_send()
    again = encode(Event(session=sid, seq=3, id=1, text="rain"), Encoding.MSGPACK)
    pair.daemon.receive_datagram(again, ADDRESS, pair.now + 3.0)
    (ack,) = [decode(d).message for d, _ in pair.daemon.datagrams_to_send()]
    assert (ack.TYPE, ack.chunk) == ("event_ack", 5)
    assert pair.daemon_events() == []


@pytest.mark.parametrize("encoding", [Encoding.JSON, Encoding.MSGPACK])
def test_inputs_still_arrive_during_an_event_flood(encoding):
    pair = Pair(encoding=encoding).connect()
    sid = pair.daemon.session_ids[0]
    for seq in range(2, 2000):
        pair.daemon.receive_datagram(encode(Event(session=sid, seq=seq, id=seq % 3, text=f"e{seq}"), encoding),
                                     ADDRESS, pair.now)
    events = pair.daemon_events()
    assert sum(isinstance(e, EventsChanged) for e in events) <= 40
    pair.daemon.datagrams_to_send()
    pair.client.send_input(pair.now, move=(0.0, 1.0))
    pair.client._seq = 5000
    pair.client.send_input(pair.now, move=(0.0, 1.0))
    pair.transfer()
    assert any(isinstance(e, InputReceived) for e in pair.daemon_events())


def test_the_reference_client_resends_a_rate_limited_start_later_instead_of_giving_up():
    pair = Pair().connect()
    pair.daemon_events()
    sid = pair.daemon.session_ids[0]
    for seq in range(2, 2 + int(START_LIMIT[1])):  # another part of the program used up the start budget
        pair.daemon.receive_datagram(encode(Start(session=sid, seq=seq, source="text", prompt=f"w{seq}"),
                                            Encoding.MSGPACK), ADDRESS, pair.now)
    pair.daemon.datagrams_to_send()
    pair.daemon_events()
    pair.client._seq = 100
    pair.client.start(pair.now, source="text", prompt="wanted", seed=5)
    pair.transfer()
    assert not [e for e in pair.daemon_events() if isinstance(e, StartRequested)]
    for _ in range(int(1 / START_LIMIT[0]) * 2 + 2):
        pair.tick(0.5)
    assert [e.prompt for e in pair.daemon_events() if isinstance(e, StartRequested)] == ["wanted"]
