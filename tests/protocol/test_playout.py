"""The playout delay of SPEC §6.3: a frame under repair is waited for, for about as long as repairs take."""

from __future__ import annotations

import heapq
import random
from dataclasses import replace

import pytest

from yume_bridge.protocol.fragment import (
    MAX_FRAMES_IN_REPAIR,
    MAX_HELD_FRAMES,
    MAX_INCOMPLETE_FRAMES,
    PLAYOUT_INITIAL_S,
    Reassembler,
    RepairClock,
    split_frame,
)
from yume_bridge.protocol.wire import FrameFlags, FrameHeader


def header(frame: int) -> FrameHeader:
    return FrameHeader(session=7, frame=frame, chunk=0, frame_in_chunk=frame % 29, fragment_index=0,
                       fragment_count=0, payload_length=0, frame_length=0, input_seq=1, time_us=0, action=0)


def fragments(frame: int, size: int = 5000) -> list[bytes]:
    return split_frame(header(frame), bytes([frame % 256]) * size, 1200)


def resent(datagram: bytes) -> bytes:
    return datagram[:3] + bytes([datagram[3] | FrameFlags.RETRANSMISSION]) + datagram[4:]


def shown(frames) -> list[int]:
    return [f.header.frame for f in frames]


def test_a_frame_completing_behind_one_under_repair_waits_and_both_are_shown_in_order():
    reassembler = Reassembler(7, max_playout_delay_s=0.25)
    first, second = fragments(1), fragments(2)
    for datagram in first[:-1]:
        reassembler.push(datagram, 0.0)
    (request,) = reassembler.nacks(0.006)
    assert request.missing == (len(first) - 1,)
    assert [f for d in second for f in reassembler.push(d, 0.010)] == []  # held, not shown over frame 1
    assert shown(reassembler.push(resent(first[-1]), 0.040)) == [1, 2]


def test_a_held_frame_is_shown_when_the_repair_takes_longer_than_the_delay_and_the_older_is_dropped():
    reassembler = Reassembler(7, max_playout_delay_s=0.25)
    first = fragments(1)
    for datagram in first[:-1]:
        reassembler.push(datagram, 0.0)
    reassembler.nacks(0.006)
    for datagram in fragments(2):
        reassembler.push(datagram, 0.010)
    assert reassembler.next_release_time() == pytest.approx(0.010 + PLAYOUT_INITIAL_S)
    assert reassembler.release(0.010 + PLAYOUT_INITIAL_S / 2) == []
    assert shown(reassembler.release(0.010 + PLAYOUT_INITIAL_S)) == [2]
    assert reassembler.push(resent(first[-1]), 0.2) == []  # too late: frame 2 was shown
    assert reassembler.newest_complete == 2


def test_without_a_playout_delay_the_newest_complete_frame_is_shown_at_once():
    reassembler = Reassembler(7)
    for datagram in fragments(1)[:-1]:
        reassembler.push(datagram, 0.0)
    assert shown(f for d in fragments(2) for f in reassembler.push(d, 0.010)) == [2]


def test_a_frame_lost_whole_holds_nothing_back():
    reassembler = Reassembler(7, max_playout_delay_s=0.25)
    assert shown(f for d in fragments(2) for f in reassembler.push(d, 0.0)) == [2]  # frame 1 never arrived


def test_a_frame_no_longer_asked_for_holds_nothing_back():
    reassembler = Reassembler(7, deadline_s=0.05, max_playout_delay_s=0.25)
    for datagram in fragments(1)[:-1]:
        reassembler.push(datagram, 0.0)
    assert shown(f for d in fragments(2) for f in reassembler.push(d, 0.1)) == [2]  # past frame 1's deadline


def test_held_frames_are_bounded_and_past_the_bound_the_frame_under_repair_is_given_up():
    reassembler = Reassembler(7, max_playout_delay_s=10.0)
    for datagram in fragments(1)[:-1]:
        reassembler.push(datagram, 0.0)
    held = [f for n in range(2, MAX_HELD_FRAMES + 2) for d in fragments(n) for f in reassembler.push(d, 0.01)]
    assert held == []
    released = [f for d in fragments(MAX_HELD_FRAMES + 2) for f in reassembler.push(d, 0.01)]
    assert shown(released) == list(range(2, MAX_HELD_FRAMES + 3))  # frame 1 given up, the rest in order
    assert reassembler.incomplete_frames == 0


def test_the_playout_delay_follows_the_measured_repair_time():
    clock = RepairClock()
    assert clock.playout_delay(0.25) == PLAYOUT_INITIAL_S
    for _ in range(50):
        clock.sample(0.040)
    assert 0.040 < clock.playout_delay(0.25) < 0.050  # the repair time, quiet time and a little spread
    for _ in range(50):
        clock.sample(0.400)
    assert clock.playout_delay(0.25) == 0.25  # never beyond the limit


def test_a_repair_is_timed_from_the_first_request_and_slow_repairs_are_not_asked_for_again_early():
    reassembler = Reassembler(7, deadline_s=1.0, max_playout_delay_s=0.25)
    first = fragments(1)
    for datagram in first[:-1]:
        reassembler.push(datagram, 0.0)
    reassembler.nacks(0.006)
    assert reassembler.nacks(0.030) != []  # nothing measured yet: asked again after 20 ms
    reassembler.push(resent(first[-1]), 0.106)
    assert reassembler.repairs.smoothed_s == pytest.approx(0.100)
    second = fragments(2)
    for datagram in second[:-1]:
        reassembler.push(datagram, 0.2)
    assert reassembler.nacks(0.206) != []
    assert reassembler.nacks(0.230) == []  # repairs take 100 ms: asking again now would only spend resends
    assert reassembler.next_nack_time() == pytest.approx(0.206 + reassembler.repairs.retry_interval())


def simulate(playout_s: float, *, loss: float, repair_s: float, frames: int = 300, fps: float = 30.0) -> float:
    """Share of frames shown whole through a lossy link whose repairs take ``repair_s``; the sender resends
    what each nack asks for (at most twice per fragment, as SPEC §5.10 allows)."""
    chance = random.Random(11)
    reassembler = Reassembler(7, max_playout_delay_s=playout_s,
                              max_incomplete=MAX_FRAMES_IN_REPAIR if playout_s else MAX_INCOMPLETE_FRAMES)
    sent = {n: fragments(n, 60_000) for n in range(frames)}
    resends: dict[tuple[int, int], int] = {}
    arrivals: list[tuple[float, int, bytes]] = []
    order = 0
    for n, datagrams in sent.items():
        for datagram in datagrams:
            if chance.random() >= loss:
                order += 1
                heapq.heappush(arrivals, (n / fps + order * 1e-6, order, datagram))
    shown_frames = 0
    now = 0.0
    while arrivals:
        wake = min(t for t in (arrivals[0][0], reassembler.next_nack_time(), reassembler.next_release_time())
                   if t is not None)
        now = max(now + 1e-6, wake)  # time moves on: a wake-up already due is served now
        while arrivals and arrivals[0][0] <= now:
            shown_frames += len(reassembler.push(heapq.heappop(arrivals)[2], now))
        shown_frames += len(reassembler.release(now))
        for request in reassembler.nacks(now):
            for index in request.missing:
                key = (request.frame, index)
                resends[key] = resends.get(key, 0) + 1
                if resends[key] <= 2 and chance.random() >= loss:
                    order += 1
                    datagram = resent(sent[request.frame][index])
                    heapq.heappush(arrivals, (now + repair_s, order, datagram))
    shown_frames += len(reassembler.release(now + 1.0))
    return shown_frames / frames


def test_when_repairs_take_three_frame_intervals_the_playout_delay_keeps_lossy_frames():
    """What a loaded machine does to recovery: at 5% loss nearly every frame needs a repair."""
    without = simulate(0.0, loss=0.05, repair_s=0.1)
    with_delay = simulate(0.25, loss=0.05, repair_s=0.1)
    assert without < 0.85  # a frame that needed no repair completes first and the older ones are dropped
    assert with_delay >= 0.95


def test_when_repairs_take_six_frame_intervals_most_frames_still_arrive_whole():
    assert simulate(0.0, loss=0.02, repair_s=0.2) < 0.5 < 0.95 <= simulate(0.25, loss=0.02, repair_s=0.2)


def test_on_a_fast_link_the_playout_delay_changes_nothing():
    assert simulate(0.25, loss=0.0, repair_s=0.005) == simulate(0.0, loss=0.0, repair_s=0.005) == 1.0


def test_frames_shown_with_a_playout_delay_are_the_frames_sent():
    reassembler = Reassembler(7, max_playout_delay_s=0.25)
    first, second = fragments(1), fragments(2)
    for datagram in first[1:] + second:
        reassembler.push(datagram, 0.0)
    (one, two) = reassembler.push(resent(first[0]), 0.02)
    assert one.jpeg == bytes([1]) * 5000 and two.jpeg == bytes([2]) * 5000
    assert one.header == replace(one.header, flags=one.header.flags & ~FrameFlags.RETRANSMISSION)


def test_a_waiting_receiver_is_woken_only_when_there_is_something_to_do():
    """Every wake-up the reassembler announces leads to a nack or a frame shown: a client waiting on it never spins."""
    chance = random.Random(5)
    reassembler = Reassembler(7, max_playout_delay_s=0.25, max_incomplete=MAX_FRAMES_IN_REPAIR)
    now = 0.0
    for number in range(1, 40):
        for datagram in fragments(number, 20_000):
            now += 0.0005
            if chance.random() < 0.1:
                continue
            reassembler.push(datagram, now)
            wake = min((t for t in (reassembler.next_nack_time(), reassembler.next_release_time()) if t is not None),
                       default=None)
            if wake is not None and wake <= now:
                assert reassembler.nacks(now) or reassembler.release(now)
