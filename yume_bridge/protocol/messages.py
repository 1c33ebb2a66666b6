"""Control messages of protocol v1 as frozen dataclasses, with their wire schema.

Each field declares its wire type and range once (``spec(...)``); the generic
``from_fields``/``to_fields`` below validate and convert, so a message that
exists as an object is always valid. Field names are the wire names.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from yume_bridge.protocol.errors import RemoteProtocolError
from yume_bridge.protocol.wire import (
    HASH_BYTES,
    MAX_COOKIE_BYTES,
    MAX_DATAGRAM,
    NONCE_BYTES,
    PATH_CHALLENGE_BYTES,
    TAG_BYTES,
    ErrorCode,
)

U32_MAX = 0xFFFFFFFF
_NOTHING = object()


@dataclass(frozen=True)
class Spec:
    kind: str  # str, int, float, bool, bytes, floats, strs, ints, map
    lo: float | None = None
    hi: float | None = None
    max_len: int | None = None  # chars for str, bytes for bytes, items for lists
    exact_len: int | None = None
    nested: type | None = None
    required: bool = False


def spec(kind: str, default: Any = _NOTHING, **kwargs: Any) -> Any:
    required = default is _NOTHING
    meta = {"spec": Spec(kind, required=required, **kwargs)}
    if required:
        return field(metadata=meta)
    if isinstance(default, (list, dict, tuple)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def u32(default: Any = _NOTHING) -> Any:
    return spec("int", default, lo=0, hi=U32_MAX)


class Message:
    """Base of every control message; ``TYPE`` is the wire ``type``."""

    TYPE: ClassVar[str] = ""
    IN_SESSION: ClassVar[bool] = True


# --- nested maps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    name: str = spec("str", max_len=64)
    version: str = spec("str", max_len=64)
    movement: tuple[str, ...] = spec("strs", max_len=9)
    look: tuple[str, ...] = spec("strs", max_len=9)


@dataclass(frozen=True)
class WireLimits:
    max_control_bytes: int = spec("int", 4096, lo=1)
    max_prompt_chars: int = spec("int", 1000, lo=1)
    max_event_chars: int = spec("int", 300, lo=1)
    max_events: int = spec("int", 4, lo=1)
    max_upload_bytes: int = spec("int", 8 * 1024 * 1024, lo=1)
    max_image_pixels: int = spec("int", 40_000_000, lo=1)
    idle_timeout_ms: int = spec("int", 10_000, lo=1)
    frame_deadline_ms: int = spec("int", 300, lo=1)
    max_nack_fragments: int = spec("int", 128, lo=1)
    max_keys: int = spec("int", 16, lo=1)
    max_sessions: int = spec("int", 4, lo=1)


@dataclass(frozen=True)
class Latency:
    """Where the newest action change's time went, daemon side (SPEC §5.11, §6.5)."""

    queue_ms: float = spec("float", 0.0, lo=0)
    generate_ms: float = spec("float", 0.0, lo=0)
    encode_ms: float = spec("float", 0.0, lo=0)
    send_ms: float = spec("float", 0.0, lo=0)
    wait_ms: float | None = spec("float", None, lo=0)
    decode_ms: float | None = spec("float", None, lo=0)
    pacing_ms: float | None = spec("float", None, lo=0)
    total_ms: float | None = spec("float", None, lo=0)


# --- handshake ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello(Message):
    TYPE: ClassVar[str] = "hello"
    IN_SESSION: ClassVar[bool] = False
    protocol: int = spec("int", lo=0, hi=U32_MAX)
    nonce: bytes = spec("bytes", exact_len=NONCE_BYTES)
    client: str = spec("str", "", max_len=64)
    client_version: str = spec("str", "", max_len=32)
    engine: str = spec("str", "", max_len=64)
    width: int = spec("int", 0, lo=0, hi=8192)
    height: int = spec("int", 0, lo=0, hi=8192)
    fps: float = spec("float", 0.0, lo=0, hi=240)
    quality: int = spec("int", 85, lo=1, hi=100)
    max_datagram: int = spec("int", 1200, lo=576, hi=MAX_DATAGRAM)
    cookie: bytes | None = spec("bytes", None, max_len=MAX_COOKIE_BYTES)
    auth: bytes | None = spec("bytes", None, exact_len=TAG_BYTES)
    preempt: str | None = spec("str", None, max_len=16)
    pad: bytes | None = spec("bytes", None, max_len=2048)
    minor: int | None = spec("int", None, lo=0, hi=255)
    capabilities: tuple[str, ...] | None = spec("strs", None, max_len=16)


@dataclass(frozen=True)
class Retry(Message):
    TYPE: ClassVar[str] = "retry"
    IN_SESSION: ClassVar[bool] = False
    nonce: bytes = spec("bytes", exact_len=NONCE_BYTES)
    cookie: bytes = spec("bytes", max_len=MAX_COOKIE_BYTES)
    token_required: bool = spec("bool", False)


@dataclass(frozen=True)
class Welcome(Message):
    TYPE: ClassVar[str] = "welcome"
    session: int = u32()
    seq: int = u32()
    protocol: int = spec("int", lo=0, hi=U32_MAX)
    nonce: bytes = spec("bytes", exact_len=NONCE_BYTES)
    daemon_version: str = spec("str", max_len=64)
    backend: str = spec("str", max_len=64)
    model: str = spec("str", max_len=128)
    model_version: str = spec("str", max_len=64)
    state: str = spec("str", max_len=32)
    width: int = spec("int", lo=1, hi=8192)
    height: int = spec("int", lo=1, hi=8192)
    fps: float = spec("float", lo=1, hi=240)
    frames_per_chunk: int = spec("int", lo=1, hi=10_000)
    quality: int = spec("int", lo=1, hi=100)
    max_datagram: int = spec("int", lo=576, hi=MAX_DATAGRAM)
    authenticated: bool = spec("bool")
    vocabulary: Vocabulary = spec("map", nested=Vocabulary)
    limits: WireLimits = spec("map", WireLimits(), nested=WireLimits)
    capabilities: tuple[str, ...] = spec("strs", (), max_len=64)
    minor: int | None = spec("int", None, lo=0, hi=255)


# --- session messages: client → daemon -------------------------------------------------------


@dataclass(frozen=True)
class Upload(Message):
    TYPE: ClassVar[str] = "upload"
    session: int = u32()
    seq: int = u32()
    hash: bytes = spec("bytes", exact_len=HASH_BYTES)
    size: int = spec("int", lo=1, hi=U32_MAX)
    offset: int = spec("int", lo=0, hi=U32_MAX)
    data: bytes = spec("bytes", max_len=MAX_DATAGRAM)

    def __post_init__(self) -> None:
        if not self.data:
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "upload.data must not be empty")
        if self.offset + len(self.data) > self.size:
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "upload piece lies outside the file's size")


@dataclass(frozen=True)
class Start(Message):
    TYPE: ClassVar[str] = "start"
    session: int = u32()
    seq: int = u32()
    source: str = spec("str", max_len=16)
    image: bytes | None = spec("bytes", None, exact_len=HASH_BYTES)
    prompt: str = spec("str", "", max_len=100_000)
    seed: int | None = spec("int", None, lo=0, hi=U32_MAX)

    def __post_init__(self) -> None:
        if self.source not in ("image", "text", "default"):
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "start.source must be image, text or default")
        if self.source == "image" and self.image is None:
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "start with source image needs the image hash")
        if self.source == "text" and not self.prompt.strip():
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "start with source text needs a prompt")


@dataclass(frozen=True)
class Input(Message):
    TYPE: ClassVar[str] = "input"
    session: int = u32()
    seq: int = u32()
    time_us: int = spec("int", 0, lo=0, hi=2**63 - 1)
    move: tuple[float, ...] = spec("floats", (0.0, 0.0), exact_len=2, lo=-1, hi=1)
    look: tuple[float, ...] = spec("floats", (0.0, 0.0), exact_len=2, lo=-1, hi=1)
    keys: tuple[str, ...] = spec("strs", (), max_len=16)
    chunk: int | None = spec("int", None, lo=0, hi=U32_MAX)
    """Optional: the chunk this input conditions, exactly (replays; SPEC §5.6)."""


@dataclass(frozen=True)
class Event(Message):
    TYPE: ClassVar[str] = "event"
    session: int = u32()
    seq: int = u32()
    id: int = u32()
    text: str = spec("str", max_len=100_000)


@dataclass(frozen=True)
class Config(Message):
    TYPE: ClassVar[str] = "config"
    session: int = u32()
    seq: int = u32()
    quality: int | None = spec("int", None, lo=1, hi=100)
    fps: float | None = spec("float", None, lo=1, hi=240)
    paused: bool | None = spec("bool", None)
    preempt: str | None = spec("str", None, max_len=16)


@dataclass(frozen=True)
class Ping(Message):
    TYPE: ClassVar[str] = "ping"
    session: int = u32()
    seq: int = u32()
    time_us: int = spec("int", 0, lo=0, hi=2**63 - 1)


@dataclass(frozen=True)
class Nack(Message):
    TYPE: ClassVar[str] = "nack"
    session: int = u32()
    seq: int = u32()
    frame: int = u32()
    missing: tuple[int, ...] = spec("ints", exact_len=None, max_len=4096, lo=0, hi=65535)
    pad: bytes | None = spec("bytes", None, max_len=4096)

    def __post_init__(self) -> None:
        if not self.missing:
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "nack.missing must list at least one fragment")


@dataclass(frozen=True)
class Bye(Message):
    TYPE: ClassVar[str] = "bye"
    session: int = u32()
    seq: int = u32()
    reason: str = spec("str", "", max_len=200)


# --- session messages: daemon → client -------------------------------------------------------


@dataclass(frozen=True)
class UploadAck(Message):
    TYPE: ClassVar[str] = "upload_ack"
    session: int = u32()
    seq: int = u32()
    hash: bytes = spec("bytes", exact_len=HASH_BYTES)
    offset: int = spec("int", lo=0, hi=U32_MAX)
    length: int = spec("int", lo=0, hi=U32_MAX)
    received: int = spec("int", lo=0, hi=U32_MAX)
    complete: bool = spec("bool")


@dataclass(frozen=True)
class Started(Message):
    TYPE: ClassVar[str] = "started"
    session: int = u32()
    seq: int = u32()
    world: int = spec("int", lo=0, hi=U32_MAX)
    source: str = spec("str", max_len=16)
    seed: int = u32()
    ref: int | None = u32(None)


@dataclass(frozen=True)
class EventAck(Message):
    TYPE: ClassVar[str] = "event_ack"
    session: int = u32()
    seq: int = u32()
    id: int = u32()
    chunk: int = spec("int", lo=0, hi=U32_MAX)
    active: tuple[int, ...] = spec("ints", (), max_len=64, lo=0, hi=U32_MAX)


@dataclass(frozen=True)
class Pong(Message):
    TYPE: ClassVar[str] = "pong"
    session: int = u32()
    seq: int = u32()
    time_us: int = spec("int", lo=0, hi=2**63 - 1)
    daemon_time_us: int = spec("int", lo=0, hi=2**63 - 1)


@dataclass(frozen=True)
class Status(Message):
    TYPE: ClassVar[str] = "status"
    session: int = u32()
    seq: int = u32()
    state: str = spec("str", max_len=32)
    progress: float = spec("float", 1.0, lo=0, hi=1)
    world: int = spec("int", 0, lo=0, hi=U32_MAX)
    chunk: int = spec("int", -1, lo=-1, hi=U32_MAX)
    queue: int = spec("int", 0, lo=0, hi=U32_MAX)
    fps: float = spec("float", 0.0, lo=0, hi=10_000)
    frames_sent: int = spec("int", 0, lo=0, hi=2**63 - 1)
    action: int = spec("int", 0, lo=0, hi=80)
    input_seq: int = u32(0)
    latency: Latency = spec("map", Latency(), nested=Latency)
    message: str = spec("str", "", max_len=500)
    preempt: str | None = spec("str", None, max_len=16)
    cuts: int | None = spec("int", None, lo=0, hi=2**63 - 1)
    wasted: float | None = spec("float", None, lo=0, hi=1)


@dataclass(frozen=True)
class _PathProbe(Message):
    session: int = u32()
    seq: int = u32()
    data: bytes = spec("bytes", exact_len=PATH_CHALLENGE_BYTES)


@dataclass(frozen=True)
class PathChallenge(_PathProbe):
    """D→C, to a client's new address: answer with ``path_response`` carrying the same data (SPEC §3.4)."""

    TYPE: ClassVar[str] = "path_challenge"


@dataclass(frozen=True)
class PathResponse(_PathProbe):
    """C→D: the data of a ``path_challenge``, from the address it arrived at."""

    TYPE: ClassVar[str] = "path_response"


@dataclass(frozen=True)
class Error(Message):
    TYPE: ClassVar[str] = "error"
    IN_SESSION: ClassVar[bool] = False
    code: str = spec("str", max_len=64)
    message: str = spec("str", max_len=500)
    session: int = u32(0)
    seq: int = u32(0)
    ref: int = u32(0)
    fatal: bool = spec("bool", False)


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (Hello, Retry, Welcome, Upload, Start, Input, Event, Config, Ping, Nack, Bye,
                UploadAck, Started, EventAck, Pong, Status, PathChallenge, PathResponse, Error)
}


# --- conversion -----------------------------------------------------------------------------


def _bad(name: str, why: str, code: ErrorCode = ErrorCode.BAD_MESSAGE) -> RemoteProtocolError:
    return RemoteProtocolError(code, f"field {name!r} {why}")


def _check_range(name: str, value: float, s: Spec) -> None:
    if (s.lo is not None and value < s.lo) or (s.hi is not None and value > s.hi):
        raise _bad(name, f"is {value}, outside [{s.lo}, {s.hi}]", ErrorCode.VALUE_OUT_OF_RANGE)


def _convert(name: str, value: Any, s: Spec) -> Any:
    kind = s.kind
    if kind == "str":
        if not isinstance(value, str):
            raise _bad(name, "must be a string")
        if s.max_len is not None and len(value) > s.max_len:
            raise _bad(name, f"is longer than {s.max_len} characters", ErrorCode.TEXT_TOO_LONG)
        return value
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # engines' JSON writers print 7 as 7.0 (SPEC §2.1)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(name, "must be an integer")
        _check_range(name, value, s)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(name, "must be a number")
        if not math.isfinite(value):
            raise _bad(name, "must be finite", ErrorCode.VALUE_OUT_OF_RANGE)
        _check_range(name, value, s)
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _bad(name, "must be true or false")
        return value
    if kind == "bytes":
        if not isinstance(value, bytes):
            raise _bad(name, "must be bytes")
        if s.exact_len is not None and len(value) != s.exact_len:
            raise _bad(name, f"must be exactly {s.exact_len} bytes")
        if s.max_len is not None and len(value) > s.max_len:
            raise _bad(name, f"is longer than {s.max_len} bytes")
        return value
    if kind in ("floats", "strs", "ints"):
        if not isinstance(value, (list, tuple)):
            raise _bad(name, "must be a list")
        if s.exact_len is not None and len(value) != s.exact_len:
            raise _bad(name, f"must have exactly {s.exact_len} items")
        if s.max_len is not None and len(value) > s.max_len:
            raise _bad(name, f"has more than {s.max_len} items")
        item_kind = {"floats": "float", "strs": "str", "ints": "int"}[kind]
        item_spec = Spec(item_kind, lo=s.lo, hi=s.hi, max_len=64 if kind == "strs" else None)
        return tuple(_convert(f"{name}[{i}]", item, item_spec) for i, item in enumerate(value))
    if kind == "map":
        if not isinstance(value, dict):
            raise _bad(name, "must be a map")
        assert s.nested is not None
        return from_fields(s.nested, value)
    raise AssertionError(f"unknown field kind {kind}")


def from_fields(cls: type, fields: dict[str, Any]) -> Any:
    """Build ``cls`` from a decoded map, validating every field; unknown fields are ignored."""
    values = {}
    for f in dataclasses.fields(cls):
        s: Spec = f.metadata["spec"]
        if f.name not in fields or fields[f.name] is None:
            if s.required:
                raise _bad(f.name, "is missing")
            continue
        values[f.name] = _convert(f.name, fields[f.name], s)
    return cls(**values)


def to_fields(obj: Any) -> dict[str, Any]:
    """The wire map of a message (without ``type``); None-valued optional fields are left out."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = to_fields(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def binary_fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata["spec"].kind == "bytes")
