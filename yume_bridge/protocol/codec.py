"""Control messages ↔ datagram bytes, in JSON or MessagePack, with an optional tag.

``decode`` finds the end of the body by parsing it (SPEC §2): what follows must
be nothing or a 16-byte tag. Every failure raises ``RemoteProtocolError``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import msgpack

from yume_bridge.protocol.errors import RemoteProtocolError
from yume_bridge.protocol.messages import MESSAGE_TYPES, Message, binary_fields, from_fields, to_fields
from yume_bridge.protocol.wire import TAG_BYTES, DatagramKind, Encoding, ErrorCode, datagram_kind

MAX_CONTROL_BYTES = 4096

_BINARY_FIELDS = {name: binary_fields(cls) for name, cls in MESSAGE_TYPES.items()}


@dataclass(frozen=True)
class Decoded:
    """A decoded control datagram: the message, its encoding, and the raw parts for tag checks."""

    message: Message
    encoding: Encoding
    body: bytes
    tag: bytes | None


@dataclass(frozen=True)
class Envelope:
    """The readable parts of a control datagram that failed validation: enough to authenticate and answer it."""

    session: int | None
    seq: int | None
    encoding: Encoding
    body: bytes
    tag: bytes | None


def _u32_or_none(value: Any) -> int | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF else None


def encode(message: Message, encoding: Encoding) -> bytes:
    """The body bytes of ``message`` (no tag)."""
    fields = {"type": message.TYPE, **to_fields(message)}
    if encoding is Encoding.MSGPACK:
        return msgpack.packb(fields, use_bin_type=True)
    for name in _BINARY_FIELDS[message.TYPE]:
        if name in fields:
            fields[name] = base64.b64encode(fields[name]).decode("ascii")
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _split_json(data: bytes) -> tuple[dict, int]:
    # Everything up to the closing brace is UTF-8; a tag after it may be any bytes, and
    # because '}' is ASCII the decoded prefix maps one to one onto the body's bytes.
    text = data.decode("utf-8", "surrogateescape")
    try:
        value, end = _JSON.raw_decode(text)
    except (ValueError, RecursionError) as exc:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"not valid JSON: {exc}") from None
    body_len = len(text[:end].encode("utf-8", "surrogateescape"))
    if not isinstance(value, dict):
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "a control message must be a JSON object")
    try:
        data[:body_len].decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "JSON body is not valid UTF-8") from None
    return value, body_len


def _split_msgpack(data: bytes) -> tuple[dict, int]:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True, max_buffer_size=MAX_CONTROL_BYTES)
    unpacker.feed(data)
    try:
        value = unpacker.unpack()
    except msgpack.OutOfData:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "truncated MessagePack") from None
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"not valid MessagePack: {exc}") from None
    if not isinstance(value, dict):
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "a control message must be a MessagePack map")
    return value, unpacker.tell()


def decode(data: bytes) -> Decoded:
    """Parse one control datagram; raise RemoteProtocolError if it is not a valid message."""
    if len(data) > MAX_CONTROL_BYTES:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"control datagram larger than {MAX_CONTROL_BYTES} bytes")
    kind = datagram_kind(data)
    if kind is DatagramKind.JSON:
        encoding = Encoding.JSON
        fields, body_len = _split_json(data)
    elif kind is DatagramKind.MSGPACK:
        encoding = Encoding.MSGPACK
        fields, body_len = _split_msgpack(data)
    else:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "not a control datagram")
    trailer = data[body_len:]
    if len(trailer) not in (0, TAG_BYTES):
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"{len(trailer)} stray bytes after the message")
    try:
        return _message(fields, encoding, data[:body_len], trailer or None)
    except RemoteProtocolError as exc:
        exc.envelope = Envelope(_u32_or_none(fields.get("session")), _u32_or_none(fields.get("seq")), encoding,
                                data[:body_len], trailer or None)
        raise


def _message(fields: dict, encoding: Encoding, body: bytes, tag: bytes | None) -> Decoded:
    type_name = fields.get("type")
    cls = MESSAGE_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"unknown message type {type_name!r}")
    if encoding is Encoding.JSON:
        fields = dict(fields)
        for name in _BINARY_FIELDS[cls.TYPE]:
            value = fields.get(name)
            if isinstance(value, str):
                try:
                    fields[name] = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"field {name!r} is not base64") from None
    try:
        message = from_fields(cls, fields)
    except RemoteProtocolError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, str(exc)) from None
    return Decoded(message, encoding, body, tag)
