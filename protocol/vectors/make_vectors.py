"""Writes the canonical test vectors of protocol v1 from the reference implementation.

Run ``python protocol/vectors/make_vectors.py`` after a protocol change; the test
suite fails while the committed files differ from what this script writes.
Binary values inside ``value`` objects are written as ``{"$bytes": "<hex>"}``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import msgpack

from yume_bridge.protocol import auth
from yume_bridge.protocol.codec import encode
from yume_bridge.protocol.fragment import split_frame
from yume_bridge.protocol.messages import (
    Bye,
    Config,
    Error,
    Event,
    EventAck,
    Hello,
    Input,
    Latency,
    Nack,
    PathChallenge,
    PathResponse,
    Ping,
    Pong,
    Retry,
    Start,
    Started,
    Status,
    Upload,
    UploadAck,
    Vocabulary,
    Welcome,
    WireLimits,
    to_fields,
)
from yume_bridge.protocol.wire import Encoding, FrameFlags, FrameHeader

HERE = Path(__file__).parent
NONCE_C = bytes(range(16))
NONCE_S = bytes(range(100, 116))
IMAGE = b"\xff\xd8\xff\xe0 a tiny stand-in for an image file \xff\xd9"
IMAGE_HASH = hashlib.sha256(IMAGE).digest()
FOX = b"The quick brown fox jumps over the lazy dog"
LARGE_KEY_TEXT = b"Test Using Larger Than Block-Size Key - Hash Key First"  # RFC 4231 case 6


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def messages() -> list[dict[str, Any]]:
    vocabulary = Vocabulary(name="camera", version="yume1.5-camera-1",
                            movement=("None", "W", "A", "S", "D", "W+A", "W+D", "S+A", "S+D"),
                            look=("\u00b7", "\u2192", "\u2190", "\u2191", "\u2193", "\u2191\u2192", "\u2191\u2190",
                                  "\u2193\u2192", "\u2193\u2190"))
    cases = [
        ("hello_minimal", Hello(protocol=1, nonce=NONCE_C)),
        ("hello_full", Hello(protocol=1, nonce=NONCE_C, client="yume-bridge-unity", client_version="0.1.0",
                             engine="Unity 2022.3", width=960, height=544, fps=16.0, quality=85,
                             max_datagram=1200, cookie=bytes(20), auth=bytes(range(16)))),
        ("retry", Retry(nonce=NONCE_C, cookie=bytes(range(20)), token_required=True)),
        ("welcome", Welcome(session=305419896, seq=1, protocol=1, nonce=NONCE_S, daemon_version="0.1.0",
                            backend="preview", model="preview", model_version="1", state="ready", width=960,
                            height=544, fps=16.0, frames_per_chunk=29, quality=85, max_datagram=1200,
                            authenticated=False, vocabulary=vocabulary, limits=WireLimits(),
                            capabilities=("json", "msgpack", "upload", "text_start", "events", "nack", "keys",
                                          "pause"))),
        ("upload", Upload(session=7, seq=2, hash=IMAGE_HASH, size=len(IMAGE), offset=0, data=IMAGE[:16])),
        ("upload_ack", UploadAck(session=7, seq=3, hash=IMAGE_HASH, offset=0, length=16, received=16,
                                 complete=False)),
        ("start_image", Start(session=7, seq=4, source="image", image=IMAGE_HASH, prompt="", seed=42)),
        ("start_text", Start(session=7, seq=4, source="text", prompt="a lighthouse on a cliff at dusk")),
        ("start_default", Start(session=7, seq=4, source="default")),
        ("started", Started(session=7, seq=5, world=1, source="image", seed=42)),
        ("input_axes", Input(session=7, seq=5, time_us=1_000_000, move=(0.0, 1.0), look=(0.75, -0.5))),
        ("input_keys", Input(session=7, seq=6, time_us=1_016_000, keys=("KeyW", "ArrowRight"))),
        ("event", Event(session=7, seq=7, id=1, text="a dragon circles the tower")),
        ("event_clear", Event(session=7, seq=8, id=1, text="")),
        ("event_ack", EventAck(session=7, seq=9, id=1, chunk=3, active=(1,))),
        ("config", Config(session=7, seq=10, quality=70, fps=24.0, paused=False)),
        ("config_pause", Config(session=7, seq=11, paused=True)),
        ("ping", Ping(session=7, seq=12, time_us=123456789)),
        ("pong", Pong(session=7, seq=13, time_us=123456789, daemon_time_us=987654321)),
        ("nack", Nack(session=7, seq=14, frame=12, missing=(3, 4, 60))),
        ("status", Status(session=7, seq=15, state="generating", progress=1.0, world=1, chunk=3, queue=0,
                          fps=16.0, frames_sent=100, action=10, input_seq=42,
                          latency=Latency(queue_ms=0.5, generate_ms=80.25, encode_ms=2.5, send_ms=0.25))),
        ("bye", Bye(session=7, seq=16, reason="client")),
        ("error_session", Error(code="text_too_long", message="event text is longer than 300 characters",
                                session=7, seq=17, ref=8, fatal=False)),
        ("error_handshake", Error(code="auth_failed", message="wrong token")),
    ]
    return _message_vectors(cases)


def invalid() -> list[dict[str, Any]]:
    hello = encode(Hello(protocol=1, nonce=NONCE_C), Encoding.MSGPACK)
    cases = [
        ("empty", b"", "drop"),
        ("unknown_first_byte", b"\x00hello", "drop"),
        ("json_not_object", b"{", "bad_message"),
        ("json_truncated", b'{"type":"ping","session":7,', "bad_message"),
        ("json_nan_axis", b'{"type":"input","session":7,"seq":1,"move":[NaN,0],"look":[0,0]}', "bad_message"),
        ("json_axis_out_of_range", b'{"type":"input","session":7,"seq":1,"move":[1.5,0],"look":[0,0]}',
         "value_out_of_range"),
        ("json_unknown_type", b'{"type":"teleport","session":7,"seq":1}', "bad_message"),
        ("json_missing_field", b'{"type":"event","session":7,"seq":1,"text":"x"}', "bad_message"),
        ("json_wrong_type", b'{"type":"ping","session":"7","seq":1}', "bad_message"),
        ("json_fraction_for_int", b'{"type":"ping","session":7.5,"seq":1}', "bad_message"),
        ("json_bad_base64", b'{"type":"hello","protocol":1,"nonce":"***"}', "bad_message"),
        ("json_short_nonce", b'{"type":"hello","protocol":1,"nonce":"AAAA"}', "bad_message"),
        ("json_stray_bytes", b'{"type":"ping","session":7,"seq":1}xyz', "bad_message"),
        ("msgpack_truncated", hello[:-3], "bad_message"),
        ("msgpack_stray_bytes", hello + b"\x00\x01", "bad_message"),
        ("msgpack_seq_negative", bytes.fromhex("83a474797065a470696e67a773657373696f6e07a3736571ff"),
         "value_out_of_range"),
        ("msgpack_nan_axis", msgpack.packb({"type": "input", "session": 7, "seq": 1, "move": [float("nan"), 0.0],
                                            "look": [0.0, 0.0]}), "value_out_of_range"),
        ("msgpack_infinite_look", msgpack.packb({"type": "input", "session": 7, "seq": 1, "move": [0.0, 0.0],
                                                 "look": [float("inf"), 0.0]}), "value_out_of_range"),
        ("msgpack_not_a_map", msgpack.packb(["type", "ping"]), "drop"),
        ("fragment_header_only", FrameHeader(7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0).pack(), "drop"),
    ]
    return [{"name": name, "hex": data.hex(), "expect": expect} for name, data, expect in cases]


def auth_vectors() -> dict[str, Any]:
    token = "correct horse battery staple"
    cookie = bytes(range(200, 220))
    key = auth.session_key(token, NONCE_C, NONCE_S, 305419896)
    body = encode(Ping(session=305419896, seq=2, time_us=5), Encoding.JSON)
    body_mp = encode(Ping(session=305419896, seq=2, time_us=5), Encoding.MSGPACK)
    return {
        "token": token,
        "client_nonce": NONCE_C.hex(),
        "server_nonce": NONCE_S.hex(),
        "session": 305419896,
        "cookie": cookie.hex(),
        "hello_auth": auth.hello_auth(token, NONCE_C, cookie).hex(),
        "session_key": key.hex(),
        "tagged": [
            {"body": body.hex(), "tag": auth.tag(key, body).hex()},
            {"body": body_mp.hex(), "tag": auth.tag(key, body_mp).hex()},
        ],
        "hmac_sha256": [
            {"key": "", "message": "", "digest": auth._hmac(b"", b"").hex()},
            {"key": b"key".hex(), "message": FOX.hex(), "digest": auth._hmac(b"key", FOX).hex()},
            {"key": ("aa" * 131), "message": LARGE_KEY_TEXT.hex(),
             "digest": auth._hmac(b"\xaa" * 131, LARGE_KEY_TEXT).hex()},
        ],
    }


def frames() -> dict[str, Any]:
    max_datagram = 576
    payload_a = bytes((i * 7 + 3) % 256 for i in range(2500))
    payload_b = bytes((i * 13 + 1) % 256 for i in range(600))
    base = dict(session=7, chunk=2, frame_in_chunk=5, fragment_index=0, fragment_count=0, payload_length=0,
                frame_length=0, input_seq=42, time_us=1_500_000, action=10)
    frame_a = split_frame(FrameHeader(frame=61, **base), payload_a, max_datagram)
    frame_b = split_frame(FrameHeader(frame=62, **{**base, "frame_in_chunk": 6},
                                      flags=FrameFlags.LAST_IN_CHUNK), payload_b, max_datagram)
    pool = frame_a + frame_b
    na = len(frame_a)
    bad_length = bytearray(frame_a[0])
    bad_length[22] ^= 1
    other_session = bytearray(frame_a[1])
    other_session[4] = 8
    pool += [bytes(bad_length), bytes(other_session)]
    scenarios = [
        ("in_order", list(range(na)), [61], {}),
        ("reversed", list(reversed(range(na))), [61], {}),
        ("duplicates", [0, 0, 1, 2, 2, 3, 4, 4], [61], {}),
        ("one_lost", [0, 1, 3, 4], [], {"61": [2]}),
        ("interleaved_two_frames", [na, 0, na + 1, 1, 2, 3, 4], [62], {}),
        ("older_after_newer_is_dropped", [na, na + 1, 0, 1, 2, 3, 4], [62], {}),
        ("newer_completes_first_then_older_is_stale", [0, 1, na, na + 1, 2, 3, 4], [62], {}),
        ("inconsistent_length_is_dropped", [na + 2, 1, 2, 3, 4], [], {"61": [0]}),
        ("wrong_session_is_dropped", [0, na + 3, 2, 3, 4], [], {"61": [1]}),
    ]
    return {
        "max_datagram": max_datagram,
        "receiver_session": 7,
        "frames": [
            {"frame": 61, "header": {**base, "frame": 61, "flags": 0}, "payload": payload_a.hex(),
             "datagrams": list(range(na))},
            {"frame": 62, "header": {**base, "frame": 62, "frame_in_chunk": 6, "flags": 2},
             "payload": payload_b.hex(), "datagrams": [na, na + 1]},
        ],
        "datagrams": [d.hex() for d in pool],
        "scenarios": [{"name": n, "deliver": d, "complete": c, "missing": m} for n, d, c, m in scenarios],
    }


def _message_vectors(cases: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, "type": message.TYPE, "value": _plain({"type": message.TYPE, **to_fields(message)}),
             "json": encode(message, Encoding.JSON).decode("utf-8"),
             "msgpack": encode(message, Encoding.MSGPACK).hex()} for name, message in cases]


def revision_1_1() -> dict[str, Any]:
    """What revision 1.1 added (SPEC §12), in a file of its own so that 1.0 clients' vector tests stay green."""
    nack = Nack(session=7, seq=18, frame=12, missing=(3, 4, 60))
    wanted = -(-len(nack.missing) * 1200 // 10)  # three fragments of up to 1,200 bytes: a 360-byte nack
    padded = Nack(session=7, seq=18, frame=12, missing=(3, 4, 60),
                  pad=bytes(wanted - len(encode(nack, Encoding.MSGPACK)) - 3))
    messages = _message_vectors([
        ("hello_1_1", Hello(protocol=1, nonce=NONCE_C, client="yume-bridge-unity", minor=1,
                            capabilities=("path_response",))),
        ("started_with_ref", Started(session=7, seq=5, world=1, source="text", seed=42, ref=4)),
        ("path_challenge", PathChallenge(session=7, seq=19, data=bytes(range(1, 9)))),
        ("path_response", PathResponse(session=7, seq=20, data=bytes(range(1, 9)))),
        ("nack_padded", padded),
        ("error_rate_limited", Error(code="rate_limited", message="starts arrive too fast; wait a second and resend",
                                     session=7, seq=21, ref=30)),
    ])
    integral = {"name": "json_integral_floats", "hex": b'{"type":"ping","session":7.0,"seq":1.0,"time_us":5e0}'.hex(),
                "value": {"type": "ping", "session": 7, "seq": 1, "time_us": 5}}
    invalid = [{"name": "json_trailing_newline", "hex": b'{"type":"ping","session":7,"seq":1}\n'.hex(),
                "expect": "bad_message"},
               {"name": "json_fraction_for_int", "hex": b'{"type":"ping","session":7.5,"seq":1}'.hex(),
                "expect": "bad_message"}]
    return {"note": "revision 1.1: messages (as messages.json), accepted (decode to value), invalid (as invalid.json), "
                    "nack_budget (the smallest nack that pays for k fragments of max_datagram bytes: "
                    "ceil(k * max_datagram / 10))",
            "messages": messages, "accepted": [integral], "invalid": invalid,
            "nack_budget": [{"fragments": k, "max_datagram": size, "min_nack_bytes": -(-k * size // 10)}
                            for k, size in ((1, 1200), (3, 1200), (32, 1200), (1, 65000))]}


def preemption() -> dict[str, Any]:
    """Pre-emption (SPEC §6.5): the fields it adds to hello, config and status, and a cut chunk's frames."""
    max_datagram = 576
    payload_cut = bytes((i * 5 + 2) % 256 for i in range(700))
    payload_next = bytes((i * 11 + 9) % 256 for i in range(300))
    base = dict(session=7, fragment_index=0, fragment_count=0, payload_length=0, frame_length=0, input_seq=42,
                time_us=2_000_000)
    # The last frame sent of chunk 2 (frame 8, latent 2: the chunk was cut after 3 latents), then chunk 3's
    # first frame, with the new action and the after-cut flag.
    last_of_cut = FrameHeader(frame=63, chunk=2, frame_in_chunk=8, action=10, latent=2, **base)
    after_cut = FrameHeader(frame=64, chunk=3, frame_in_chunk=0, action=12, latent=0, cut_latents=3,
                            flags=FrameFlags.AFTER_CUT, **{**base, "input_seq": 47})
    first = split_frame(last_of_cut, payload_cut, max_datagram)
    second = split_frame(after_cut, payload_next, max_datagram)

    def header(h: FrameHeader) -> dict[str, Any]:
        return {"session": h.session, "frame": h.frame, "chunk": h.chunk, "frame_in_chunk": h.frame_in_chunk,
                "input_seq": h.input_seq, "time_us": h.time_us, "action": h.action, "flags": int(h.flags),
                "latent": h.latent, "cut_latents": h.cut_latents}

    latency = Latency(queue_ms=1.5, generate_ms=240.0, encode_ms=2.5, send_ms=0.75, wait_ms=3.25, decode_ms=55.0,
                      pacing_ms=0.75, total_ms=303.0)
    return {
        "note": "additions of SPEC §6.5, all v1-compatible; a receiver that ignores them still works",
        "messages": _message_vectors([
            ("hello_preempt", Hello(protocol=1, nonce=NONCE_C, preempt="latent")),
            ("config_preempt_off", Config(session=7, seq=10, preempt="off")),
            ("status_breakdown", Status(session=7, seq=15, state="generating", progress=1.0, world=1, chunk=3,
                                        queue=0, fps=16.0, frames_sent=100, action=12, input_seq=47,
                                        latency=latency, preempt="latent", cuts=2, wasted=0.125)),
        ]),
        "max_datagram": max_datagram,
        "receiver_session": 7,
        "frames": [
            {"frame": 63, "header": header(last_of_cut), "payload": payload_cut.hex(),
             "datagrams": [d.hex() for d in first]},
            {"frame": 64, "header": header(after_cut), "payload": payload_next.hex(),
             "datagrams": [d.hex() for d in second]},
        ],
    }


def write_all(directory: Path = HERE) -> dict[str, str]:
    files = {
        "messages.json": {"note": "value: decoded message; binary values as {\"$bytes\": hex}", "messages": messages()},
        "invalid.json": {"note": "expect: the error code a daemon answers (from a validated address), or drop",
                         "datagrams": invalid()},
        "auth.json": auth_vectors(),
        "frames.json": frames(),
        "preemption.json": preemption(),
        "revision_1_1.json": revision_1_1(),
    }
    texts = {name: json.dumps(content, indent=1, ensure_ascii=False) + "\n" for name, content in files.items()}
    if directory is not None:
        for name, text in texts.items():
            (directory / name).write_text(text, encoding="utf-8")
    return texts


if __name__ == "__main__":
    write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
