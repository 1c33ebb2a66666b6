"""The recording file format (protocol/RECORDING.md): round trips, foreign and damaged files, the size budget."""

from __future__ import annotations

import struct

import msgpack
import pytest

from yume_bridge.protocol import recording as rec

HEADER = rec.Header(recorder="client", software="yume-bridge 0.1.0", created="2026-01-01T00:00:00+00:00",
                    daemon_version="0.1.0", backend="preview", model="preview", model_version="1", width=960,
                    height=544, fps=16.0, frames_per_chunk=29, quality=85, vocabulary="camera",
                    vocabulary_version="1")


def file_of(*records: rec.Record) -> bytes:
    return rec.file_prefix() + b"".join(rec.encode_record(r) for r in records)


def a_session() -> tuple[rec.Record, ...]:
    return (HEADER, rec.Image(sha256=b"\x01" * 32, data=b"\xff\xd8jpeg"),
            rec.Start(t_us=0, world=1, source="image", seed=7, prompt="a harbour", image_sha256=b"\x01" * 32),
            rec.Input(t_us=10, seq=3, move=(0.0, 1.0), look=(0.5, 0.0)),
            rec.Event(t_us=20, id=1, text="fog rolls in", chunk=1),
            rec.Chunk(t_us=30, world=1, chunk=0, action=9, input_seq=3, first_frame=0),
            rec.Chunk(t_us=40, world=1, chunk=1, action=9, input_seq=3, first_frame=29, events=("fog rolls in",)),
            rec.End(t_us=50, reason="client"))


def test_every_record_survives_a_round_trip_in_order():
    records = a_session()
    recording = rec.decode_recording(file_of(*records))
    assert recording.records == records and recording.header == HEADER and not recording.truncated


def test_a_foreign_file_is_named_as_such():
    with pytest.raises(rec.RecordingError, match="not a yume-bridge recording"):
        rec.decode_recording(b"\x89PNG\r\n\x1a\n" + bytes(100), name="holiday.png")


@pytest.mark.parametrize("cut", [3, 10, 40, -5])
def test_a_file_cut_anywhere_is_called_truncated(cut):
    data = file_of(*a_session())
    with pytest.raises(rec.RecordingError, match="truncated"):
        rec.decode_recording(data[:cut])


def test_a_file_without_its_end_record_can_still_be_read_when_asked():
    data = file_of(*a_session()[:-1])
    with pytest.raises(rec.RecordingError, match="before its end record"):
        rec.decode_recording(data)
    recording = rec.decode_recording(data, allow_truncated=True)
    assert recording.truncated and len(list(recording.of_type(rec.Chunk))) == 2


def test_a_newer_major_version_asks_for_an_upgrade():
    data = rec.MAGIC + struct.pack("<HH", 2, 0) + file_of(HEADER)[len(rec.file_prefix()):]
    with pytest.raises(rec.RecordingError, match="version 2.0 recording.*upgrade"):
        rec.decode_recording(data)


def test_unknown_record_types_and_fields_from_a_newer_minor_version_are_skipped():
    body = msgpack.packb({"type": "camera_pose", "x": 1.0})
    extra = msgpack.packb({"type": "input", "t_us": 1, "seq": 2, "pressure": 0.5})
    data = file_of(HEADER) + struct.pack("<I", len(body)) + body + struct.pack("<I", len(extra)) + extra
    data += rec.encode_record(rec.End(t_us=2))
    recording = rec.decode_recording(data)
    assert [r.TYPE for r in recording.records] == ["header", "input", "end"]


def test_a_record_missing_a_required_field_is_damage_not_a_crash():
    body = msgpack.packb({"type": "chunk", "t_us": 1, "world": 1})
    with pytest.raises(rec.RecordingError, match="chunk.*lacks chunk, action, input_seq"):
        rec.decode_recording(file_of(HEADER) + struct.pack("<I", len(body)) + body)


def test_the_budget_drops_frames_and_inputs_first_and_always_keeps_the_end():
    budget = rec.RecordBudget(limit_bytes=rec.ESSENTIAL_RESERVE_BYTES + 2000)
    frame = rec.Frame(t_us=0, frame=0, chunk=0, frame_in_chunk=0, jpeg=bytes(1500))
    chunk = rec.Chunk(t_us=0, world=1, chunk=0, action=0, input_seq=0)
    assert budget.encode(frame) is not None
    assert budget.encode(frame) is None  # frames stop short of the reserve
    assert all(budget.encode(chunk) is not None for _ in range(100))  # the chunks a replay needs go on
    assert budget.dropped == {"frame": 1}
    assert budget.encode(rec.End(t_us=1)) is not None


def test_event_timeline_gives_each_chunk_the_events_acknowledged_for_it():
    timeline = rec.EventTimeline()
    timeline.change(1, "fog", chunk=2)
    timeline.change(2, "rain", chunk=2)
    timeline.change(1, "", chunk=4)
    assert [timeline.events_for(c) for c in range(6)] == [(), (), ("fog", "rain"), ("fog", "rain"), ("rain",),
                                                          ("rain",)]
