"""Session recordings: the versioned file format of protocol/RECORDING.md, encoded and decoded without I/O.

A recording is ``MAGIC``, a 4-byte version, then length-prefixed MessagePack
records: one header, then what happened in order (images, starts, inputs,
events, config changes, the chunks as applied, optionally frames and status),
then one end record. The encoder keeps the file within a byte budget (frames
and inputs give way first); the decoder turns a truncated or foreign file into
one ``RecordingError`` line.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgpack

MAGIC = b"\x89YBR\r\n\x1a\n"
"""8 bytes, PNG-style: a non-ASCII first byte and line endings that show text-mode corruption."""
FORMAT_VERSION = (1, 0)
"""(major, minor): a reader refuses a newer major version and ignores what it does not know in a newer minor."""
MAX_RECORD_BYTES = 64 * 1024 * 1024
DEFAULT_LIMIT_BYTES = 256 * 1024 * 1024
ESSENTIAL_RESERVE_BYTES = 1024 * 1024
"""Bytes kept for the records a replay needs once frames and inputs stop being written."""

_PREFIX = struct.Struct("<HH")
_LENGTH = struct.Struct("<I")


class RecordingError(ValueError):
    """The file is not a usable recording; the message is one line that says why."""


class Record:
    TYPE: ClassVar[str] = ""


@dataclass(frozen=True)
class Header(Record):
    """First record: who recorded, which daemon and model, the stream's shape and settings."""

    TYPE: ClassVar[str] = "header"
    recorder: str
    """``client`` (a client saw the session) or ``daemon`` (the daemon recorded it)."""
    software: str
    """The recorder's name and version, e.g. ``yume-bridge 0.1.0``."""
    created: str
    """UTC wall-clock time of the start, ISO 8601 (for people; replays never use it)."""
    daemon_version: str
    backend: str
    model: str
    model_version: str
    width: int
    height: int
    fps: float
    frames_per_chunk: int
    quality: int
    vocabulary: str
    vocabulary_version: str
    speed: bool | None = None
    """Whether captions carry speed sentences; None when the recorder could not know (client side)."""
    settings: dict = field(default_factory=dict)
    """Backend settings as known to the recorder: steps, shift, dtype, device, resolution, …"""


@dataclass(frozen=True)
class Image(Record):
    """A start image's file bytes, written once before the first start that names it."""

    TYPE: ClassVar[str] = "image"
    sha256: bytes
    data: bytes


@dataclass(frozen=True)
class Start(Record):
    TYPE: ClassVar[str] = "start"
    t_us: int
    world: int
    """Counts the starts of the recording from 1 (a reconnect begins a new world)."""
    source: str
    seed: int
    prompt: str = ""
    image_sha256: bytes | None = None


@dataclass(frozen=True)
class Input(Record):
    TYPE: ClassVar[str] = "input"
    t_us: int
    seq: int
    move: tuple = (0.0, 0.0)
    look: tuple = (0.0, 0.0)
    keys: tuple = ()


@dataclass(frozen=True)
class Event(Record):
    """An event prompt acknowledged by the daemon: ``text`` ``""`` clears event ``id``."""

    TYPE: ClassVar[str] = "event"
    t_us: int
    id: int
    text: str
    chunk: int
    """The first chunk number it applies to."""


@dataclass(frozen=True)
class Config(Record):
    TYPE: ClassVar[str] = "config"
    t_us: int
    fps: float | None = None
    quality: int | None = None
    paused: bool | None = None


@dataclass(frozen=True)
class Chunk(Record):
    """One chunk as the daemon generated it: what a replay feeds back."""

    TYPE: ClassVar[str] = "chunk"
    t_us: int
    world: int
    chunk: int
    """The session's chunk number, as in the frame header."""
    action: int
    """The action id the model applied (SPEC §7)."""
    input_seq: int
    """The newest input seq this chunk consumed (0: none)."""
    first_frame: int = -1
    """The session frame number of the chunk's frame 0 (-1: not seen)."""
    events: tuple = ()
    """Active event texts, oldest first."""
    caption: str | None = None
    """The model's full text, when the recorder knew it (daemon side)."""


@dataclass(frozen=True)
class Frame(Record):
    """A received or generated frame: only when frames were asked for."""

    TYPE: ClassVar[str] = "frame"
    t_us: int
    frame: int
    chunk: int
    frame_in_chunk: int
    jpeg: bytes


@dataclass(frozen=True)
class Status(Record):
    """A daemon status, written when its state changes (the latest one also goes into the end record)."""

    TYPE: ClassVar[str] = "status"
    t_us: int
    fields: dict


@dataclass(frozen=True)
class End(Record):
    TYPE: ClassVar[str] = "end"
    t_us: int
    reason: str = ""
    dropped: dict = field(default_factory=dict)
    """Records not written because of the size limit, by type."""
    last_status: dict | None = None
    summary: dict | None = None


RECORD_TYPES: dict[str, type[Record]] = {cls.TYPE: cls for cls in (Header, Image, Start, Input, Event, Config,
                                                                   Chunk, Frame, Status, End)}
BULK_TYPES = (Frame, Input)
"""What gives way when the byte budget runs short, in this order of importance (frames first)."""


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def encode_record(record: Record) -> bytes:
    """One record as it appears in the file: u32le length, then the MessagePack map."""
    fields_ = {"type": record.TYPE}
    fields_.update({f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)})
    body = msgpack.packb(fields_, use_bin_type=True)
    return _LENGTH.pack(len(body)) + body


def file_prefix() -> bytes:
    return MAGIC + _PREFIX.pack(*FORMAT_VERSION)


def decode_record(fields_: dict, index: int) -> Record | None:
    """A record map → its dataclass; None for a record type this reader does not know (a newer minor)."""
    if not isinstance(fields_, dict) or not isinstance(fields_.get("type"), str):
        raise RecordingError(f"record {index} is not a map with a type")
    cls = RECORD_TYPES.get(fields_["type"])
    if cls is None:
        return None
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for name, value in fields_.items():
        if name in known:
            values[name] = tuple(value) if isinstance(value, list) else value
    required = [f.name for f in known.values()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in values]
    if missing:
        raise RecordingError(f"record {index} ({cls.TYPE}) lacks {', '.join(missing)}")
    return cls(**values)


@dataclass
class RecordBudget:
    """Encodes records within ``limit_bytes``: past the reserve, frames and inputs are counted, not written.

    Overflow policy: the essential records (everything but frames and inputs)
    keep the last ``ESSENTIAL_RESERVE_BYTES``; once even those would pass the
    limit, only the end record is still written.
    """

    limit_bytes: int = DEFAULT_LIMIT_BYTES
    written: int = 0
    dropped: dict = field(default_factory=dict)

    def encode(self, record: Record) -> bytes | None:
        """The bytes to append, or None when the policy drops the record."""
        data = encode_record(record)
        if len(data) > MAX_RECORD_BYTES:
            return self._drop(record)
        room = self.limit_bytes - self.written
        if isinstance(record, BULK_TYPES):
            room -= ESSENTIAL_RESERVE_BYTES
        if len(data) > room and not isinstance(record, End):
            return self._drop(record)
        self.written += len(data)
        return data

    def _drop(self, record: Record) -> None:
        self.dropped[record.TYPE] = self.dropped.get(record.TYPE, 0) + 1
        return None


@dataclass(frozen=True)
class Recording:
    """A decoded recording: the header, every record in order (header and end included), and the end."""

    header: Header
    records: tuple[Record, ...]
    end: End | None
    version: tuple[int, int]

    def of_type(self, cls: type[Record]) -> Iterator[Record]:
        return (r for r in self.records if isinstance(r, cls))

    @property
    def truncated(self) -> bool:
        return self.end is None


def decode_recording(data: bytes, *, name: str = "the file", allow_truncated: bool = False) -> Recording:
    """Bytes of a whole file → Recording; RecordingError (one line) for anything else."""
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data[: len(MAGIC)]):
            raise RecordingError(f"{name} is truncated: it ends inside the recording's signature")
        raise RecordingError(f"{name} is not a yume-bridge recording (its first bytes are {data[:8]!r})")
    if len(data) < len(MAGIC) + _PREFIX.size:
        raise RecordingError(f"{name} is truncated: it ends before the format version")
    major, minor = _PREFIX.unpack_from(data, len(MAGIC))
    if major != FORMAT_VERSION[0]:
        raise RecordingError(f"{name} is a version {major}.{minor} recording; this yume-bridge reads version "
                             f"{FORMAT_VERSION[0]} (upgrade yume-bridge to read it)")
    records: list[Record] = []
    offset = len(MAGIC) + _PREFIX.size
    end = None
    while offset < len(data):
        index = len(records)
        if offset + _LENGTH.size > len(data):
            return _truncated(name, records, allow_truncated, major, minor, "inside a record's length")
        (length,) = _LENGTH.unpack_from(data, offset)
        if length > MAX_RECORD_BYTES:
            raise RecordingError(f"{name} is damaged: record {index} claims {length} bytes")
        body = data[offset + _LENGTH.size: offset + _LENGTH.size + length]
        if len(body) < length:
            return _truncated(name, records, allow_truncated, major, minor, f"inside record {index}")
        offset += _LENGTH.size + length
        try:
            fields_ = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as exc:
            raise RecordingError(f"{name} is damaged: record {index} does not decode ({exc})") from None
        record = decode_record(fields_, index)
        if record is None:
            continue
        if not records and not isinstance(record, Header):
            raise RecordingError(f"{name} is damaged: its first record is {record.TYPE!r}, not the header")
        records.append(record)
        if isinstance(record, End):
            end = record
            break
    if not records:
        raise RecordingError(f"{name} is truncated: it has no header record")
    if end is None:
        return _truncated(name, records, allow_truncated, major, minor, "before its end record")
    return Recording(records[0], tuple(records), end, (major, minor))  # type: ignore[arg-type]


def _truncated(name: str, records: list[Record], allow: bool, major: int, minor: int, where: str) -> Recording:
    if not allow or not records:
        raise RecordingError(f"{name} is truncated {where} after {len(records)} complete records "
                             "(was the recorder stopped abruptly?)")
    return Recording(records[0], tuple(records), None, (major, minor))  # type: ignore[arg-type]

class EventTimeline:
    """Which event texts are active for a chunk, from acknowledged changes (each names its first chunk).

    Holds at most ``MAX_PENDING_CHANGES`` changes ahead of the chunk last asked
    for; older snapshots are folded away as chunks are asked for in order.
    """

    MAX_PENDING_CHANGES = 64

    def __init__(self) -> None:
        self._active: dict[int, str] = {}
        self._snapshots: list[tuple[int, tuple[str, ...]]] = [(0, ())]

    def change(self, event_id: int, text: str, chunk: int) -> None:
        if text.strip():
            self._active[event_id] = text.strip()
        else:
            self._active.pop(event_id, None)
        self._snapshots.append((chunk, tuple(self._active.values())))
        del self._snapshots[: max(0, len(self._snapshots) - self.MAX_PENDING_CHANGES)]

    def events_for(self, chunk: int) -> tuple[str, ...]:
        current = self._snapshots[0][1]
        for first_chunk, events in self._snapshots:
            if first_chunk <= chunk:
                current = events
        while len(self._snapshots) > 1 and self._snapshots[1][0] <= chunk:
            self._snapshots.pop(0)
        return current

    def reset(self) -> None:
        self._active.clear()
        self._snapshots = [(0, ())]
