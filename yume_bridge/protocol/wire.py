"""Wire constants of protocol v1: datagram kinds, the fragment header, limits, codes.

Everything a byte layout depends on lives here so that the codec, the
fragmenter and the engine plugins agree on one definition (protocol/SPEC.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum, IntFlag

PROTOCOL_VERSION = 1
DEFAULT_PORT = 47800
SERVICE_TYPE = "_yume-bridge._udp.local."

NONCE_BYTES = 16
TAG_BYTES = 16
HASH_BYTES = 32
MAX_COOKIE_BYTES = 64

FRAME_MAGIC = b"YF"
FRAME_VERSION = 1
# magic, version, flags, session, frame, chunk, frame_in_chunk, fragment_index,
# fragment_count, payload_length, frame_length, input_seq, time_us, action, latent, cut_latents, reserved(1)
FRAME_HEADER = struct.Struct("<2sBBIIIHHHHIIQBBBx")
FRAME_HEADER_BYTES = FRAME_HEADER.size
assert FRAME_HEADER_BYTES == 44

MIN_DATAGRAM = 576
MAX_DATAGRAM = 65000
DEFAULT_DATAGRAM = 1200


class DatagramKind(Enum):
    JSON = "json"
    MSGPACK = "msgpack"
    FRAGMENT = "fragment"
    INVALID = "invalid"


def datagram_kind(data: bytes) -> DatagramKind:
    """Classify a datagram by its first byte(s) (SPEC §2)."""
    if not data:
        return DatagramKind.INVALID
    first = data[0]
    if first == 0x7B:
        return DatagramKind.JSON
    if 0x80 <= first <= 0x8F or first in (0xDE, 0xDF):
        return DatagramKind.MSGPACK
    if data[:2] == FRAME_MAGIC:
        return DatagramKind.FRAGMENT
    return DatagramKind.INVALID


class Encoding(Enum):
    JSON = "json"
    MSGPACK = "msgpack"


class ErrorCode(str, Enum):
    BAD_MESSAGE = "bad_message"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    UNSUPPORTED_VERSION = "unsupported_version"
    AUTH_REQUIRED = "auth_required"
    AUTH_FAILED = "auth_failed"
    SESSION_LIMIT = "session_limit"
    UNKNOWN_SESSION = "unknown_session"
    TEXT_TOO_LONG = "text_too_long"
    TOO_MANY_EVENTS = "too_many_events"
    UPLOAD_TOO_LARGE = "upload_too_large"
    UPLOAD_MISMATCH = "upload_mismatch"
    BAD_IMAGE = "bad_image"
    UNKNOWN_IMAGE = "unknown_image"
    GENERATOR_FAILED = "generator_failed"
    SHUTTING_DOWN = "shutting_down"
    RATE_LIMITED = "rate_limited"


class Readiness(str, Enum):
    """The generator's state as reported in welcome and status (SPEC §5.11)."""

    LOADING = "loading"
    WARMING = "warming"
    READY = "ready"
    GENERATING = "generating"
    PAUSED = "paused"
    ERROR = "error"


class StartSource(str, Enum):
    IMAGE = "image"
    TEXT = "text"
    DEFAULT = "default"


class FrameFlags(IntFlag):
    NONE = 0
    RETRANSMISSION = 1
    LAST_IN_CHUNK = 2
    AFTER_CUT = 4
    """The first frame of a chunk that replaced one cut short by pre-emption (SPEC §6.5)."""


KNOWN_FRAME_FLAGS = FrameFlags.RETRANSMISSION | FrameFlags.LAST_IN_CHUNK | FrameFlags.AFTER_CUT
_SAME_FRAME_FLAGS = FrameFlags.LAST_IN_CHUNK | FrameFlags.AFTER_CUT


PROTOCOL_MINOR = 1
"""Compatible revisions of version 1 (SPEC §12): 1.1 adds path challenges, padded nacks and ``rate_limited``."""
CAPABILITIES = ("json", "msgpack", "upload", "text_start", "events", "nack", "keys", "pause", "path_challenge",
                "rate_limited", "nack_budget")
CLIENT_PATH_RESPONSE = "path_response"
"""The hello capability of a client that answers ``path_challenge`` (SPEC §3.4)."""
PATH_CHALLENGE_BYTES = 8


@dataclass(frozen=True)
class Limits:
    """Limits a client must respect; sent in welcome.limits (SPEC §9)."""

    max_control_bytes: int = 4096
    max_prompt_chars: int = 1000
    max_event_chars: int = 300
    max_events: int = 4
    max_upload_bytes: int = 8 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    idle_timeout_ms: int = 10_000
    frame_deadline_ms: int = 300
    max_nack_fragments: int = 128
    max_keys: int = 16
    max_sessions: int = 4

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class FrameHeader:
    """The 44-byte header of a frame fragment (SPEC §6.1; ``latent`` and ``cut_latents``: §6.5)."""

    session: int
    frame: int
    chunk: int
    frame_in_chunk: int
    fragment_index: int
    fragment_count: int
    payload_length: int
    frame_length: int
    input_seq: int
    time_us: int
    action: int
    flags: FrameFlags = FrameFlags.NONE
    latent: int = 0
    """The latent of its chunk this frame was decoded from (0 from a daemon that does not say)."""
    cut_latents: int = 0
    """With AFTER_CUT: how many latents of the previous chunk were shown before it was cut."""

    def pack(self) -> bytes:
        return FRAME_HEADER.pack(
            FRAME_MAGIC,
            FRAME_VERSION,
            int(self.flags),
            self.session,
            self.frame,
            self.chunk,
            self.frame_in_chunk,
            self.fragment_index,
            self.fragment_count,
            self.payload_length,
            self.frame_length,
            self.input_seq,
            self.time_us,
            self.action,
            self.latent,
            self.cut_latents,
        )

    @classmethod
    def unpack(cls, data: bytes) -> FrameHeader | None:
        """Parse a header; None unless magic and version match and the datagram is long enough."""
        if len(data) < FRAME_HEADER_BYTES:
            return None
        (magic, version, flags, session, frame, chunk, frame_in_chunk, index, count, payload_length,
         frame_length, input_seq, time_us, action, latent, cut_latents) = FRAME_HEADER.unpack_from(data)
        if magic != FRAME_MAGIC or version != FRAME_VERSION:
            return None
        return cls(session, frame, chunk, frame_in_chunk, index, count, payload_length, frame_length,
                   input_seq, time_us, action, FrameFlags(flags & KNOWN_FRAME_FLAGS), latent, cut_latents)

    @property
    def stride(self) -> int:
        """Bytes per fragment except possibly the last: ceil(frame_length / fragment_count)."""
        return -(-self.frame_length // self.fragment_count)

    def expected_payload_length(self) -> int | None:
        """The payload size this fragment must have, or None if the header is inconsistent."""
        if self.frame_length < 1 or self.fragment_count < 1 or self.fragment_index >= self.fragment_count:
            return None
        stride = self.stride
        if (self.fragment_count - 1) * stride >= self.frame_length:
            return None
        start = self.fragment_index * stride
        return min(stride, self.frame_length - start)

    def same_frame(self, other: FrameHeader) -> bool:
        """True if both fragments describe the same frame identically (SPEC §6.2)."""
        return (self.session, self.frame, self.chunk, self.frame_in_chunk, self.fragment_count,
                self.frame_length, self.input_seq, self.time_us, self.action, self.latent, self.cut_latents,
                self.flags & _SAME_FRAME_FLAGS) == (
                other.session, other.frame, other.chunk, other.frame_in_chunk, other.fragment_count,
                other.frame_length, other.input_seq, other.time_us, other.action, other.latent, other.cut_latents,
                other.flags & _SAME_FRAME_FLAGS)
