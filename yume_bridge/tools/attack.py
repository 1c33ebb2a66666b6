"""``yume-bridge bench --attack``: what one hostile session can make a daemon process do, measured.

Each figure comes from a daemon process on loopback and sessions driven from this process:
amplification of single post-handshake datagrams, the send rate under a NACK flood, what a
start/event/input/upload flood from one session costs another session, and the daemon's peak
memory while it decodes a small start image of many pixels (docs/SECURITY.md quotes these).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import sys
import time
from dataclasses import dataclass, field

from PIL import Image

from yume_bridge.daemon.udp import CallbackDatagramProtocol
from yume_bridge.protocol.client import ClientEndpoint, ClientState
from yume_bridge.protocol.codec import decode
from yume_bridge.protocol.errors import RemoteProtocolError
from yume_bridge.protocol.messages import Config, Event, Input, Message, Nack, Ping, Start, Upload
from yume_bridge.protocol.wire import FRAME_MAGIC, FrameFlags, FrameHeader
from yume_bridge.tools.bench import daemon_process, last_daemon_pid
from yume_bridge.tools.client import ClientOptions, ScriptStep, run_client


@dataclass
class _Arrival:
    at: float
    size: int
    kind: str  # a control message type, "fragment" or "resent"


@dataclass
class ProbeSession:
    """A real session whose every datagram in and out is counted; sends any message it is told to."""

    port: int
    max_datagram: int = 1200
    client: ClientEndpoint = field(init=False)
    arrivals: list[_Arrival] = field(default_factory=list)
    newest: FrameHeader | None = None
    sent_bytes: int = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.client = ClientEndpoint(client="bench-attack", max_datagram=self.max_datagram)
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: CallbackDatagramProtocol(self._on_datagram), remote_addr=("127.0.0.1", self.port))
        self.client.connect(time.monotonic())
        self._flush()
        for _ in range(100):
            if self.client.state is ClientState.CONNECTED:
                return
            await asyncio.sleep(0.05)
            self.client.handle_timer(time.monotonic())
            self._flush()
        raise RuntimeError("the daemon did not accept the probe session")

    def _on_datagram(self, data: bytes, address: tuple) -> None:
        now = time.monotonic()
        if data[:2] == FRAME_MAGIC:
            header = FrameHeader.unpack(data)
            if header is not None and (self.newest is None or header.frame >= self.newest.frame):
                self.newest = header
            resent = header is not None and header.flags & FrameFlags.RETRANSMISSION
            self.arrivals.append(_Arrival(now, len(data), "resent" if resent else "fragment"))
            return
        try:
            kind = decode(data).message.TYPE
        except RemoteProtocolError:
            kind = "invalid"
        self.arrivals.append(_Arrival(now, len(data), kind))
        self.client.receive_datagram(data, now)

    def _flush(self) -> None:
        for datagram in self.client.datagrams_to_send():
            self.sent_bytes += len(datagram)
            self.transport.sendto(datagram)

    def send(self, message: Message) -> int:
        """Send one session message; returns its size on the wire."""
        before = self.sent_bytes
        self.client.send_message(message, time.monotonic())
        self._flush()
        return self.sent_bytes - before

    def send_raw(self, data: bytes) -> int:
        self.transport.sendto(data)
        return len(data)

    def bytes_since(self, since: float, kinds: set[str]) -> int:
        return sum(a.size for a in self.arrivals if a.at >= since and a.kind in kinds)

    def close(self) -> None:
        if self.client.state is ClientState.CONNECTED:
            self.client.close(time.monotonic())  # a bye: the next measurement starts without this session
            self._flush()
        self.transport.close()


ANSWERS = {"ping": {"pong"}, "config": {"status"}, "start": {"started"}, "event": {"event_ack"},
           "upload": {"upload_ack"}, "nack": {"resent"}, "invalid": {"error"}}


async def amplification(port: int) -> dict:
    """Bytes answered ÷ bytes received for single datagrams of a live session, the worst of each kind."""
    probe = ProbeSession(port, max_datagram=65000)  # the largest fragments a client may negotiate
    await probe.open()
    sid = probe.client.session
    probe.send(Start(session=sid, seq=0, source="default"))
    await asyncio.sleep(2.0)  # the world opens and frames flow
    if probe.newest is None:
        raise RuntimeError("no frames arrived from the daemon")
    image = b"\x89PNG not really an image"
    probes: list[tuple[str, Message | bytes]] = [
        ("ping", Ping(session=sid, seq=0)),
        ("config", Config(session=sid, seq=0, quality=80)),
        ("event", Event(session=sid, seq=0, id=1, text="a storm gathers")),
        ("upload", Upload(session=sid, seq=0, hash=hashlib.sha256(image).digest(), size=len(image) + 10, offset=0,
                          data=image)),
        ("invalid", Config(session=sid, seq=0, fps=0.0)),  # outside 1-240: answered with an error
        ("start", Start(session=sid, seq=0, source="text", prompt="x", seed=1)),
    ]
    worst: dict[str, float] = {}
    for _ in range(3):
        for kind, message in probes:
            await asyncio.sleep(0.3)
            since = time.monotonic()
            sent = probe.send_raw(message) if isinstance(message, bytes) else probe.send(message)
            await asyncio.sleep(0.15)
            worst[kind] = max(worst.get(kind, 0.0), probe.bytes_since(since, ANSWERS[kind] | {"error"}) / sent)
        for missing in ((0,) * 128, tuple(range(128))):
            await asyncio.sleep(0.05)
            newest = probe.newest
            assert newest is not None
            since = time.monotonic()
            sent = probe.send(Nack(session=sid, seq=0, frame=newest.frame, missing=missing))
            await asyncio.sleep(0.15)
            worst["nack"] = max(worst.get("nack", 0.0), probe.bytes_since(since, {"resent"}) / sent)
    probe.close()
    return {kind: round(ratio, 2) for kind, ratio in worst.items()} | {"max": round(max(worst.values()), 2)}


async def nack_flood(port: int, seconds: float, nacks_per_s: float = 2000.0) -> dict:
    """The session's own receive rate while it floods padded NACKs, against its rate before the flood."""
    probe = ProbeSession(port)
    await probe.open()
    sid = probe.client.session
    probe.send(Start(session=sid, seq=0, source="default"))
    await asyncio.sleep(2.0)  # the stream settles
    quiet_from = time.monotonic()
    await asyncio.sleep(seconds)
    flood_from = time.monotonic()
    sent = 0
    while time.monotonic() < flood_from + seconds:
        newest = probe.newest
        if newest is not None:
            for frame in (newest.frame, max(0, newest.frame - 1)):
                missing = tuple(range(min(newest.fragment_count, 32)))
                sent += probe.send(Nack(session=sid, seq=0, frame=frame, missing=missing, pad=bytes(3800)))
        await asyncio.sleep(2 / nacks_per_s)
    flood_to = time.monotonic()
    every = {"fragment", "resent", "status", "pong", "error", "started"}
    before = probe.bytes_since(quiet_from, every) - probe.bytes_since(flood_from, every)
    during = probe.bytes_since(flood_from, every) - probe.bytes_since(flood_to, every)
    probe.close()
    return {"stream_bytes_per_s": round(before / seconds), "flood_bytes_per_s": round(during / seconds),
            "send_rate_ratio": round(during / max(before, 1), 3), "nack_bytes_per_s": round(sent / seconds)}


async def flood(port: int, kind: str, seconds: float) -> int:
    """A session that starts a world (so it streams and takes its fair share, like any client) and then sends
    ``kind`` messages as fast as this process can for ``seconds`` (``none``: nothing more); returns the count."""
    probe = ProbeSession(port)
    await probe.open()
    sid = probe.client.session
    probe.send(Start(session=sid, seq=0, source="default"))
    sent = 0
    digest = hashlib.sha256(b"scattered").digest()
    began = time.monotonic()
    if kind == "none":
        await asyncio.sleep(seconds)
    while kind != "none" and time.monotonic() < began + seconds:
        for _ in range(20):
            index = sent
            match kind:
                case "start":
                    message: Message = Start(session=sid, seq=0, source="text", prompt=f"world {index}")
                case "event":
                    message = Event(session=sid, seq=0, id=index % 8, text=f"event {index}")
                case "input":
                    message = Input(session=sid, seq=0, move=(1.0, 0.0))
                case _:
                    message = Upload(session=sid, seq=0, hash=digest, size=8_000_000, offset=(index * 7919) % 7_999_000,
                                     data=b"z" * 16)
            probe.send(message)
            sent += 1
        await asyncio.sleep(0.004 if kind in ("input", "event") else 0.02)
    probe.close()
    return sent


async def flood_effects(port: int, seconds: float) -> dict:
    """Another session's frame rate and ping round trip while a streaming neighbour floods, against the same
    neighbour streaming without flooding (the neighbour's fair share of the generator is not the flood's cost)."""
    options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0.0, 0.0), seconds),), tail_s=0.3,
                            ping_interval_s=0.2)
    rows: dict[str, dict] = {}
    baseline = None
    for kind in ("none", "start", "event", "input", "upload"):
        # The attacker runs in a process of its own, so that its sending does not slow the victim's client.
        attacker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "yume_bridge.tools.attack", str(port), kind, str(seconds + 2.0),
            stdout=asyncio.subprocess.PIPE)
        await asyncio.sleep(1.0)
        victim = await run_client(options)
        out, _ = await attacker.communicate()
        sent = int(out.decode().strip() or 0)
        baseline = baseline or victim
        rows[kind] = {"victim_fps": victim.fps, "fps_kept": round(victim.fps / max(baseline.fps, 1e-9), 3),
                      "victim_rtt_p50_ms": victim.rtt_percentiles_ms.get("p50"),
                      "flood_datagrams_per_s": round(sent / (seconds + 2.0)), "victim_errors": victim.errors}
    return rows


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))


async def start_image_memory(port: int, pid: int) -> dict:
    """The daemon's peak RSS growth while it decodes a 6320×6320 palette PNG of a few kilobytes."""
    image = Image.new("P", (6320, 6320))
    image.putpalette([i % 256 for i in range(768)])
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    data = buffer.getvalue()
    probe = ProbeSession(port)
    await probe.open()
    await asyncio.sleep(1.0)
    before = _peak_rss_kib(pid)
    digest = probe.client.upload_image(data, time.monotonic())
    probe._flush()
    for _ in range(200):
        await asyncio.sleep(0.05)
        probe.client.handle_timer(time.monotonic())
        probe._flush()
        if any(a.kind == "upload_ack" for a in probe.arrivals) and not probe.client._upload_unacked:
            break
    probe.client.start(time.monotonic(), source="image", image=digest)
    probe._flush()
    await asyncio.sleep(4.0)
    probe.close()
    return {"file_bytes": len(data), "pixels": 6320 * 6320,
            "peak_rss_growth_mib": round((_peak_rss_kib(pid) - before) / 1024, 1)}


async def run_attacks(seconds: float = 4.0) -> dict:
    results: dict = {}
    with daemon_process("--fps", "30") as port:
        results["amplification_per_datagram"] = await amplification(port)
    with daemon_process("--fps", "30") as port:
        results["nack_flood"] = await nack_flood(port, seconds)
    with daemon_process("--fps", "16") as port:
        results["floods_from_one_session"] = await flood_effects(port, seconds)
    with daemon_process() as port:
        results["start_image_decode"] = await start_image_memory(port, last_daemon_pid())
    results["victim_fps_kept_min"] = min(row["fps_kept"] for kind, row in results["floods_from_one_session"].items()
                                         if kind != "none")
    results["victim_rtt_p50_ms_max"] = max(row["victim_rtt_p50_ms"] or 0.0
                                           for row in results["floods_from_one_session"].values())
    return results


if __name__ == "__main__":  # the attacker process of ``flood_effects``
    print(asyncio.run(flood(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))))
