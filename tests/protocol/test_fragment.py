"""Fragmentation and reassembly: vectors, loss, reordering, duplicates, caps and NACKs."""

from __future__ import annotations

import json
import random

import pytest

from tests.conftest import VECTORS
from yume_bridge.protocol.fragment import Reassembler, split_frame
from yume_bridge.protocol.wire import FRAME_HEADER_BYTES, FrameHeader

FRAMES = json.loads((VECTORS / "frames.json").read_text("utf-8"))
POOL = [bytes.fromhex(h) for h in FRAMES["datagrams"]]


def header(frame: int, session: int = 7) -> FrameHeader:
    return FrameHeader(session=session, frame=frame, chunk=0, frame_in_chunk=frame % 29, fragment_index=0,
                       fragment_count=0, payload_length=0, frame_length=0, input_seq=1, time_us=0, action=0)


@pytest.mark.parametrize("scenario", FRAMES["scenarios"], ids=[s["name"] for s in FRAMES["scenarios"]])
def test_reassembly_scenarios_from_the_vectors(scenario):
    reassembler = Reassembler(FRAMES["receiver_session"])
    complete = [f.header.frame for i in scenario["deliver"] for f in reassembler.push(POOL[i], 0.0)]
    assert complete == scenario["complete"]
    assert {str(n): p.missing() for n, p in reassembler._partials.items()} == scenario["missing"]


def test_vector_frames_split_into_the_committed_datagrams():
    for frame in FRAMES["frames"]:
        fields = frame["header"]
        datagrams = split_frame(FrameHeader(**fields), bytes.fromhex(frame["payload"]), FRAMES["max_datagram"])
        assert [d.hex() for d in datagrams] == [FRAMES["datagrams"][i] for i in frame["datagrams"]]


@pytest.mark.parametrize("size", [1, 100, 1155, 1156, 1157, 70_000, 400_000])
def test_every_datagram_fits_and_the_frame_comes_back_whole(size):
    payload = random.Random(size).randbytes(size)
    datagrams = split_frame(header(3), payload, 1200)
    assert all(len(d) <= 1200 for d in datagrams)
    reassembler = Reassembler(7)
    random.Random(1).shuffle(datagrams)
    results = [r for d in datagrams for r in reassembler.push(d, 0.0)]
    assert len(results) == 1 and results[0].jpeg == payload


def test_a_lost_fragment_is_nacked_when_a_newer_frame_arrives():
    first, second = split_frame(header(1), bytes(5000), 1200), split_frame(header(2), bytes(5000), 1200)
    reassembler = Reassembler(7)
    for datagram in first[:2] + first[3:]:
        reassembler.push(datagram, 0.0)
    assert reassembler.nacks(0.001) == []  # nothing newer yet and not quiet long enough
    reassembler.push(second[0], 0.002)
    (request,) = reassembler.nacks(0.002)
    assert request.frame == 1 and request.missing == (2,)


def test_a_missing_fragment_is_asked_for_again_only_after_the_retry_interval():
    reassembler = Reassembler(7)
    reassembler.push(split_frame(header(1), bytes(5000), 1200)[0], 0.0)
    assert len(reassembler.nacks(0.006)) == 1
    assert reassembler.nacks(0.010) == []  # asked 4 ms ago
    assert len(reassembler.nacks(0.027)) == 1


def test_a_gap_inside_a_burst_is_nacked_before_the_burst_ends():
    reassembler = Reassembler(7)
    datagrams = split_frame(header(1), bytes(60_000), 1200)
    for datagram in datagrams[:3] + datagrams[4:20]:
        reassembler.push(datagram, 0.0)
    (request,) = reassembler.nacks(0.0)
    assert request.missing == (3,)


def test_a_gap_eight_below_the_highest_index_is_a_loss_and_seven_below_may_be_reordering():
    datagrams = split_frame(header(1), bytes(60_000), 1200)
    reassembler = Reassembler(7)
    for datagram in datagrams[:3] + datagrams[4:11]:  # highest 10: index 3 is 7 below
        reassembler.push(datagram, 0.0)
    assert reassembler.nacks(0.0) == []
    reassembler.push(datagrams[11], 0.0)  # highest 11: now 8 below (SPEC 6.3)
    (request,) = reassembler.nacks(0.0)
    assert request.missing == (3,)


def test_a_frame_is_nacked_a_bounded_number_of_times():
    reassembler = Reassembler(7, deadline_s=10.0)
    reassembler.push(split_frame(header(1), bytes(5000), 1200)[0], 0.0)
    asked = sum(len(reassembler.nacks(0.05 * i)) for i in range(1, 20))
    assert asked == 8


def test_an_older_frame_is_never_shown_after_a_newer_one():
    reassembler = Reassembler(7)
    older, newer = split_frame(header(5), bytes(3000), 1200), split_frame(header(6), bytes(3000), 1200)
    for datagram in older[:-1] + newer:
        reassembler.push(datagram, 0.0)
    assert reassembler.push(older[-1], 0.0) == []
    assert reassembler.newest_complete == 6


def test_incomplete_frames_are_capped_and_the_oldest_evicted():
    reassembler = Reassembler(7, max_incomplete=4)
    for frame in range(10):
        reassembler.push(split_frame(header(frame), bytes(5000), 1200)[0], 0.0)
    assert reassembler.incomplete_frames == 4 and min(reassembler._partials) == 6


def test_frames_larger_than_the_cap_are_dropped():
    reassembler = Reassembler(7, max_frame_bytes=10_000)
    assert reassembler.push(split_frame(header(1), bytes(20_000), 1200)[0], 0.0) == []
    assert reassembler.incomplete_frames == 0 and reassembler.dropped == 1


def test_a_fragment_contradicting_its_frame_is_dropped():
    reassembler = Reassembler(7)
    good = split_frame(header(1), bytes(3000), 1200)
    reassembler.push(good[0], 0.0)
    forged = bytearray(good[1])
    forged[28] ^= 0xFF  # another input_seq
    assert reassembler.push(bytes(forged), 0.0) == [] and reassembler.dropped == 1


def test_truncated_and_garbage_fragments_are_dropped():
    reassembler = Reassembler(7)
    datagram = split_frame(header(1), bytes(3000), 1200)[0]
    for junk in (datagram[:FRAME_HEADER_BYTES - 1], datagram[:-1], b"YF" + bytes(60)):
        assert reassembler.push(junk, 0.0) == []
    assert reassembler.dropped == 3


def test_a_forged_far_ahead_frame_number_cannot_freeze_the_stream():
    reassembler = Reassembler(7)
    for datagram in split_frame(header(1), bytes(3000), 1200):
        reassembler.push(datagram, 0.0)
    for datagram in split_frame(header(1_000_000), bytes(100), 1200):
        assert reassembler.push(datagram, 0.0) == []
    assert reassembler.push(split_frame(header(2), bytes(100), 1200)[0], 0.0) != []
