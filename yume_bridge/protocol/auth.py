"""Tokens, cookies, session keys, tags and the replay window (SPEC §3.1, §3.3, §4).

Pure functions of their inputs; time arrives as an argument.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from yume_bridge.protocol.wire import TAG_BYTES

HELLO_LABEL = b"yume-bridge/1 hello"
SESSION_LABEL = b"yume-bridge/1 session"
COOKIE_LABEL = b"yume-bridge/1 cookie"
COOKIE_LIFETIME_S = 30.0
REPLAY_WINDOW = 64


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def hello_auth(token: str, client_nonce: bytes, cookie: bytes) -> bytes:
    """The 16-byte proof of the token carried by the second hello."""
    return _hmac(token.encode("utf-8"), HELLO_LABEL + client_nonce + cookie)[:TAG_BYTES]


def hello_auth_valid(token: str, client_nonce: bytes, cookie: bytes, received: bytes) -> bool:
    return hmac.compare_digest(hello_auth(token, client_nonce, cookie), received)


def session_key(token: str, client_nonce: bytes, server_nonce: bytes, session: int) -> bytes:
    """The 32-byte key that tags every control datagram of an authenticated session."""
    return _hmac(token.encode("utf-8"), SESSION_LABEL + client_nonce + server_nonce + struct.pack("<I", session))


def tag(key: bytes, body: bytes) -> bytes:
    return _hmac(key, body)[:TAG_BYTES]


def tag_matches(key: bytes, body: bytes, received: bytes) -> bool:
    return hmac.compare_digest(tag(key, body), received)


def _address_bytes(address: tuple) -> bytes:
    return f"{address[0]}|{address[1]}".encode()


def make_cookie(secret: bytes, address: tuple, client_nonce: bytes, now: float) -> bytes:
    """A stateless cookie: 4 bytes of issue time then 16 bytes of MAC over address and nonce."""
    issued = struct.pack("<I", int(now) & 0xFFFFFFFF)
    return issued + _hmac(secret, COOKIE_LABEL + issued + _address_bytes(address) + client_nonce)[:16]


def cookie_valid(secret: bytes, address: tuple, client_nonce: bytes, cookie: bytes, now: float) -> bool:
    if len(cookie) != 20:
        return False
    issued = struct.unpack("<I", cookie[:4])[0]
    age = (int(now) - issued) & 0xFFFFFFFF
    if age > COOKIE_LIFETIME_S:
        return False
    expected = _hmac(secret, COOKIE_LABEL + cookie[:4] + _address_bytes(address) + client_nonce)[:16]
    return hmac.compare_digest(expected, cookie[4:])


class ReplayWindow:
    """Accepts each sequence number once, within 64 of the highest seen (as in DTLS)."""

    def __init__(self) -> None:
        self.highest = 0
        self._seen = 0  # bit i set: highest - i was seen

    def check(self, seq: int) -> bool:
        """True if ``seq`` is new and recent enough (does not record it)."""
        if seq < 1:
            return False
        if seq > self.highest:
            return True
        offset = self.highest - seq
        return offset < REPLAY_WINDOW and not (self._seen >> offset) & 1

    def record(self, seq: int) -> None:
        if seq > self.highest:
            shift = seq - self.highest
            self._seen = ((self._seen << shift) | 1) & ((1 << REPLAY_WINDOW) - 1)
            self.highest = seq
        else:
            self._seen |= 1 << (self.highest - seq)
