"""The pre-emption additions (SPEC §6.5) against their vectors: cut-chunk frames and the new message fields."""

from __future__ import annotations

import json

import pytest

from tests.conftest import VECTORS
from tests.protocol.test_codec import _plain
from yume_bridge.protocol.codec import decode, encode
from yume_bridge.protocol.fragment import Reassembler, split_frame
from yume_bridge.protocol.messages import to_fields
from yume_bridge.protocol.wire import Encoding, FrameFlags, FrameHeader

PREEMPTION = json.loads((VECTORS / "preemption.json").read_text("utf-8"))


def test_a_cut_chunk_and_the_frame_after_it_reassemble_whole_with_their_new_header_fields():
    reassembler = Reassembler(PREEMPTION["receiver_session"])
    complete = []
    for frame in PREEMPTION["frames"]:
        for datagram in frame["datagrams"]:
            complete += reassembler.push(bytes.fromhex(datagram), 0.0)
    assert [f.header.frame for f in complete] == [63, 64]  # nothing missing: a cut leaves no gap
    last_of_cut, after_cut = (f.header for f in complete)
    assert not last_of_cut.flags & FrameFlags.LAST_IN_CHUNK and last_of_cut.latent == 2
    assert after_cut.flags & FrameFlags.AFTER_CUT and after_cut.cut_latents == 3 and after_cut.frame_in_chunk == 0
    for frame, got in zip(PREEMPTION["frames"], complete, strict=True):
        assert got.jpeg == bytes.fromhex(frame["payload"])
        expected = frame["header"]
        assert {k: getattr(got.header, k) for k in expected if k != "flags"} == {
            k: v for k, v in expected.items() if k != "flags"}
        assert int(got.header.flags) == expected["flags"]


def test_the_cut_frames_split_into_the_committed_datagrams():
    for frame in PREEMPTION["frames"]:
        fields = dict(frame["header"], fragment_index=0, fragment_count=0, payload_length=0, frame_length=0,
                      flags=FrameFlags(frame["header"]["flags"]))
        datagrams = split_frame(FrameHeader(**fields), bytes.fromhex(frame["payload"]), PREEMPTION["max_datagram"])
        assert [d.hex() for d in datagrams] == frame["datagrams"]


def test_a_fragment_that_disagrees_on_the_after_cut_flag_is_dropped():
    first, second = (bytes.fromhex(d) for d in PREEMPTION["frames"][0]["datagrams"][:2])
    forged = bytearray(second)
    forged[3] |= int(FrameFlags.AFTER_CUT)
    reassembler = Reassembler(PREEMPTION["receiver_session"])
    reassembler.push(first, 0.0)
    assert reassembler.push(bytes(forged), 0.0) == [] and reassembler.dropped == 1


@pytest.mark.parametrize("case", PREEMPTION["messages"], ids=[c["name"] for c in PREEMPTION["messages"]])
def test_the_new_message_fields_decode_and_encode_as_the_vectors_say(case):
    for encoding, data in ((Encoding.JSON, case["json"].encode()), (Encoding.MSGPACK, bytes.fromhex(case["msgpack"]))):
        message = decode(data).message
        assert _plain({"type": message.TYPE, **to_fields(message)}) == case["value"]
        assert encode(message, encoding) == data


def test_an_older_frame_header_reads_as_latent_0_without_a_cut():
    old = bytearray(bytes.fromhex(PREEMPTION["frames"][1]["datagrams"][0]))
    old[3], old[41], old[42] = 0, 0, 0
    header = FrameHeader.unpack(bytes(old))
    assert header is not None and header.latent == 0 and header.cut_latents == 0 and not header.flags
