"""A headless reference client: handshake, start, scripted input, events, frames, a JSON summary.

Used by ``yume-bridge client`` (humans, CI, bug reports), by the loopback tests
and by ``yume-bridge bench``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

import numpy as np

from yume_bridge.actions import Action, Axes, AxisQuantizer
from yume_bridge.daemon.udp import CallbackDatagramProtocol
from yume_bridge.protocol.client import (
    MAX_PLAYOUT_DELAY_S,
    ClientEndpoint,
    ClientState,
    Closed,
    Connected,
    ErrorReceived,
    EventAcknowledged,
    FrameReceived,
    PongReceived,
    StatusReceived,
    UploadFinished,
    WorldStarted,
)
from yume_bridge.protocol.wire import Encoding, FrameFlags
from yume_bridge.tools.websocket_link import WebSocketLink

STAGES = ("wait_ms", "queue_ms", "generate_ms", "decode_ms", "encode_ms", "pacing_ms", "network_ms", "total_ms")
"""The latency breakdown's stages in order (SPEC §6.5); network_ms is measured here, the rest by the daemon."""

PING_INTERVAL_S = 2.0
"""How often the client measures round trip and clock offset while it runs."""
_MOVE_AXES = {"W": (0, 1), "S": (0, -1), "D": (1, 0), "A": (-1, 0)}
_LOOK_AXES = {"\u2192": (1, 0), "\u2190": (-1, 0), "\u2191": (0, 1), "\u2193": (0, -1),
              "right": (1, 0), "left": (-1, 0), "up": (0, 1), "down": (0, -1)}


class ClientObserver(Protocol):
    """What ``run_client`` reports as it goes (``tools.recording.ClientRecorder`` is one)."""

    def on_event(self, event: object, now: float) -> None: ...

    def on_input(self, seq: int, move: tuple[float, float], look: tuple[float, float], now: float) -> None: ...

    def on_event_sent(self, event_id: int, text: str, now: float) -> None: ...

    whole_chunks: bool
    """True for an observer that needs every chunk played whole (a recording, replayed chunk by chunk): the
    client then asks the daemon not to pre-empt, unless its options name a policy."""


@dataclass(frozen=True)
class ScriptStep:
    move: tuple[float, float]
    look: tuple[float, float]
    seconds: float


def parse_script(text: str) -> tuple[ScriptStep, ...]:
    """``W:2s,W+→:1s,none:500ms`` → steps. Keys W/A/S/D, looks →←↑↓ (or right/left/up/down)."""
    steps = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = re.fullmatch(r"(.+?):(\d+(?:\.\d+)?)(ms|s)", item)
        if not match:
            raise ValueError(f"script step {item!r} is not KEYS:DURATION (e.g. W+\u2192:1.5s)")
        keys, amount, unit = match.groups()
        seconds = float(amount) / (1000 if unit == "ms" else 1)
        move, look = [0, 0], [0, 0]
        for key in keys.split("+"):
            key = key.strip()
            if key.lower() in ("none", "\u00b7", ""):
                continue
            if key.upper() in _MOVE_AXES:
                dx, dy = _MOVE_AXES[key.upper()]
                move = [move[0] + dx, move[1] + dy]
            elif key.lower() in _LOOK_AXES or key in _LOOK_AXES:
                dx, dy = _LOOK_AXES.get(key, _LOOK_AXES.get(key.lower(), (0, 0)))
                look = [look[0] + dx, look[1] + dy]
            else:
                raise ValueError(f"unknown key {key!r} in script step {item!r}")
        steps.append(ScriptStep((float(move[0]), float(move[1])), (float(look[0]), float(look[1])), seconds))
    if not steps:
        raise ValueError("the script is empty: give at least one KEYS:DURATION step (e.g. W:2s, or none:5s to stand)")
    return tuple(steps)


class Transport(Enum):
    UDP = "udp"
    WEBSOCKET = "ws"
    """The studio's WebSocket: one datagram per message (SPEC §13); ``port`` is then the studio's port."""


@dataclass(frozen=True)
class ClientOptions:
    host: str = "127.0.0.1"
    port: int = 47800
    token: str | None = None
    image: bytes | None = None
    prompt: str = ""
    seed: int | None = None
    script: tuple[ScriptStep, ...] = (ScriptStep((0.0, 1.0), (0.0, 0.0), 2.0),)
    events: tuple[tuple[float, str], ...] = ()
    tail_s: float = 2.5
    """How long to keep receiving after the script ends."""
    fps: float = 0.0
    quality: int = 85
    max_datagram: int = 1200
    encoding: Encoding = Encoding.MSGPACK
    input_rate_hz: float = 30.0
    output: Path | None = None
    reconnect: bool = False
    """Reconnect with backoff when the daemon goes away (restart, idle timeout)."""
    ping_interval_s: float = 0.0
    """Ping this often to measure round trips (0: only the keep-alive when nothing else is sent)."""
    transport: Transport = Transport.UDP
    preempt: str | None = None
    """Ask for a pre-emption policy ("latent" or "off"); None: the daemon's."""
    max_playout_delay_s: float = MAX_PLAYOUT_DELAY_S
    """How long a complete frame may wait for an older one under repair (SPEC §6.3); 0: show it at once."""


@dataclass
class Summary:
    connected: bool = False
    width: int = 0
    height: int = 0
    frames_received: int = 0
    frames_complete: int = 0
    frames_lost: int = 0
    complete_ratio: float = 0.0
    fps: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    actions: list[int] = field(default_factory=list)
    action_names: list[str] = field(default_factory=list)
    events_acknowledged: list[int] = field(default_factory=list)
    rtt_ms: float | None = None
    rtt_percentiles_ms: dict[str, float] = field(default_factory=dict)
    status_states: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_frame_s: float | None = None
    reconnects: int = 0
    action_latency_ms: dict[str, float] = field(default_factory=dict)
    """From sending an input that changes the action to the first frame showing that action."""
    cuts: int = 0
    """Chunks the daemon cut short (frames that arrived with the after-cut flag)."""
    stages_ms: dict[str, float] = field(default_factory=dict)
    """Median per stage of the daemon's latency breakdowns (status), plus network_ms measured here."""
    wasted: float | None = None
    """The daemon's share of generator time spent on frames never sent (newest status)."""
    preempt: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def median_stages(breakdowns: list[dict[str, float]], network_ms: list[float]) -> dict[str, float]:
    """The median of every stage over the breakdowns received (and of the network times measured)."""
    out = {}
    for stage in STAGES:
        values = network_ms if stage == "network_ms" else [b[stage] for b in breakdowns if b.get(stage) is not None]
        if values:
            out[stage] = round(float(np.median(values)), 2)
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.asarray(values)
    return {f"p{p}": round(float(np.percentile(array, p)), 2) for p in (50, 90, 99)} | {
        "max": round(float(array.max()), 2), "count": len(values)}


async def run_client(options: ClientOptions, clock: Callable[[], float] = time.monotonic,
                     on_frame: Callable[[FrameReceived], None] | None = None,
                     progress: Callable[[str], None] | None = None, stop: asyncio.Event | None = None,
                     observer: ClientObserver | None = None) -> Summary:
    """Run one scripted session against a daemon and summarise what arrived.

    ``progress`` receives a line for people (connecting, connected, one a second while streaming);
    setting ``stop`` ends the session early and still returns the summary of what arrived.
    ``observer`` (e.g. a recorder) sees every client event, input and event prompt as they happen.
    """
    loop = asyncio.get_running_loop()
    say = progress or (lambda line: None)
    stopping = stop or asyncio.Event()

    preempt = options.preempt or ("off" if getattr(observer, "whole_chunks", False) else None)

    def new_endpoint() -> ClientEndpoint:
        return ClientEndpoint(fps=options.fps, quality=options.quality, max_datagram=options.max_datagram,
                              token=options.token, encoding=options.encoding, preempt=preempt,
                              max_playout_delay_s=options.max_playout_delay_s)

    client = new_endpoint()
    summary = Summary()
    wake = asyncio.Event()

    def on_datagram(data: bytes, address: tuple) -> None:
        client.receive_datagram(data, clock())
        flush()  # NACKs leave at once: a retransmission must beat the next frame
        wake.set()

    if options.transport is Transport.WEBSOCKET:
        try:
            transport = await WebSocketLink.connect(options.host, options.port, on_datagram)
        except (OSError, asyncio.TimeoutError) as exc:
            summary.errors.append(f"daemon unreachable: no studio at {options.host}:{options.port} ({exc})")
            return summary
    else:
        transport, _ = await loop.create_datagram_endpoint(lambda: CallbackDatagramProtocol(on_datagram),
                                                           remote_addr=(options.host, options.port))
    input_sent: dict[int, float] = {}
    latencies: list[float] = []
    round_trips: list[float] = []
    reflected_up_to = 0
    frame_times: list[float] = []
    quantizer = AxisQuantizer()
    change: dict = {}  # the newest input that changed the action: seq, sent_at, action
    action_latencies: list[float] = []
    breakdowns: list[dict[str, float]] = []
    network_ms: list[float] = []
    clock_offset = {"s": 0.0}
    started_at = clock()
    state = {"uploaded": options.image is None, "world": False}
    if options.output is not None:
        options.output.mkdir(parents=True, exist_ok=True)

    def flush() -> None:
        for datagram in client.datagrams_to_send():
            transport.sendto(datagram)

    def drain(now: float) -> None:
        nonlocal reflected_up_to
        while (event := client.next_event()) is not None:
            if observer is not None:
                observer.on_event(event, now)
            if isinstance(event, Connected):
                summary.connected = True
                welcome = event.welcome
                summary.width, summary.height = welcome.width, welcome.height
                say(f"connected to {options.host}:{options.port}: {welcome.backend} world {welcome.width}x"
                    f"{welcome.height} at {welcome.fps:g} fps, daemon {welcome.daemon_version}, state {welcome.state}")
            elif isinstance(event, FrameReceived):
                header = event.frame.header
                summary.frames_complete += 1
                frame_times.append(now)
                if summary.first_frame_s is None:
                    summary.first_frame_s = round(now - started_at, 3)
                if not summary.actions or summary.actions[-1] != header.action:
                    summary.actions.append(header.action)
                    summary.action_names.append(Action.from_id(header.action).label)
                if header.input_seq > reflected_up_to:
                    for seq in [s for s in input_sent if reflected_up_to < s <= header.input_seq]:
                        latencies.append((now - input_sent.pop(seq)) * 1e3)
                    reflected_up_to = header.input_seq
                if change and header.action == change["action"] and header.input_seq >= change["seq"]:
                    action_latencies.append((now - change.pop("sent_at")) * 1e3)
                    change.clear()
                if header.flags & FrameFlags.AFTER_CUT:
                    summary.cuts += 1
                if header.frame_in_chunk == 0:
                    network_ms.append(max(0.0, now - (header.time_us / 1e6 - clock_offset["s"])) * 1e3)
                if options.output is not None:
                    (options.output / f"frame_{header.frame:06d}.jpg").write_bytes(event.frame.jpeg)
                if on_frame is not None:
                    on_frame(event)
            elif isinstance(event, UploadFinished):
                state["uploaded"] = True
            elif isinstance(event, WorldStarted):
                state["world"] = True
            elif isinstance(event, EventAcknowledged):
                summary.events_acknowledged.append(event.event_id)
            elif isinstance(event, StatusReceived):
                status = event.status
                if not summary.status_states or summary.status_states[-1] != status.state:
                    summary.status_states.append(status.state)
                summary.wasted, summary.preempt = status.wasted, status.preempt
                stages = asdict(status.latency)
                if stages.get("total_ms") and (not breakdowns or breakdowns[-1] != stages):
                    breakdowns.append(stages)
            elif isinstance(event, PongReceived):
                summary.rtt_ms = round(event.rtt_s * 1e3, 3)
                clock_offset["s"] = event.clock_offset_s
                round_trips.append(event.rtt_s * 1e3)
            elif isinstance(event, ErrorReceived):
                summary.errors.append(f"{event.code}: {event.message}")
            elif isinstance(event, Closed):
                if event.reason not in ("client",):
                    summary.errors.append(f"closed: {event.reason}")

    totals = {"received": 0}

    def account_frames(endpoint: ClientEndpoint) -> None:
        reassembler = endpoint.reassembler
        if reassembler is not None and reassembler.newest_seen >= 0:
            received = reassembler.newest_seen + 1
            if reassembler.newest_seen > reassembler.newest_complete and reassembler.arriving(clock(), 0.1):
                received -= 1  # the newest frame was still arriving when the client stopped
            totals["received"] += received

    async def step(limit: float = 0.05) -> None:
        await _wait(wake, client, clock, limit)
        client.handle_timer(clock())
        drain(clock())
        flush()

    async def establish() -> bool:
        """Handshake, upload and start on a fresh endpoint; False if the daemon did not answer."""
        nonlocal client, reflected_up_to
        client = new_endpoint()
        input_sent.clear()
        reflected_up_to = 0
        state["uploaded"] = options.image is None
        say(f"connecting to {options.host}:{options.port} ...")
        client.connect(clock())
        flush()
        while client.state is ClientState.CONNECTING and not stopping.is_set():
            await step()
        if client.state is not ClientState.CONNECTED:
            return False
        digest = client.upload_image(options.image, clock()) if options.image is not None else None
        flush()
        while not state["uploaded"] and client.state is ClientState.CONNECTED:
            await step()
        source = "image" if digest else ("text" if options.prompt else "default")
        client.start(clock(), source=source, image=digest, prompt=options.prompt, seed=options.seed)
        flush()
        return True

    try:
        if not await establish():
            if not summary.errors or any("unreachable" in error for error in summary.errors):
                summary.errors = [f"daemon unreachable: no answer from {options.host}:{options.port}; is "
                                      "`yume-bridge serve` running there, on that port (--port)? "
                                      "`yume-bridge discover` lists daemons on the LAN"]
            return summary
        script_start = clock()
        timeline = []
        t = 0.0
        for step_ in options.script:
            timeline.append((t, step_))
            t += step_.seconds
        end = script_start + t + options.tail_s
        pending_events = sorted(options.events)
        previous_action = {"id": -1}
        next_input = next_ping = script_start
        event_id = 0
        backoff = 0.25
        next_report = script_start + 1.0
        while clock() < end and not stopping.is_set():
            if client.state is not ClientState.CONNECTED:
                if not options.reconnect:
                    break
                account_frames(client)
                await asyncio.sleep(backoff)  # the daemon restarts: try again, backing off
                backoff = min(backoff * 2, 4.0)
                if await establish():
                    summary.reconnects += 1
                    backoff = 0.25
                continue
            now = clock()
            elapsed = now - script_start
            if now >= next_report:
                next_report = now + 1.0
                say(_progress_line(elapsed, frame_times, latencies, summary))
            while pending_events and pending_events[0][0] <= elapsed:
                event_id += 1
                text = pending_events.pop(0)[1]
                client.send_event(now, event_id, text)
                if observer is not None:
                    observer.on_event_sent(event_id, text, now)
            if now >= next_ping:
                client.ping(now)
                next_ping = now + PING_INTERVAL_S
            if now >= next_input:
                current = next((s for start, s in reversed(timeline) if start <= elapsed), timeline[-1][1])
                if elapsed > t:
                    current = ScriptStep((0.0, 0.0), (0.0, 0.0), 0.0)
                seq = client.send_input(now, move=current.move, look=current.look)
                input_sent[seq] = now
                action = quantizer.quantize(Axes(*current.move, *current.look)).id
                if previous_action["id"] >= 0 and action != change.get("action", previous_action["id"]):
                    change.update(seq=seq, sent_at=now, action=action)
                previous_action["id"] = action
                if observer is not None:
                    observer.on_input(seq, current.move, current.look, now)
                next_input = now + 1.0 / options.input_rate_hz
            if options.ping_interval_s and now >= next_ping:
                client.ping(now)
                next_ping = now + options.ping_interval_s
            flush()
            await step(limit=max(0.0, next_input - clock()))
        if client.state is ClientState.CONNECTED:
            client.ping(clock())
            flush()
            await asyncio.sleep(0.05)
            drain(clock())
        if client.state is ClientState.CONNECTED:
            client.close(clock())
            flush()
    finally:
        transport.close()
        if isinstance(transport, WebSocketLink):
            await transport.wait_closed()
    account_frames(client)
    if totals["received"]:
        summary.frames_received = totals["received"]
        summary.frames_lost = summary.frames_received - summary.frames_complete
        summary.complete_ratio = round(summary.frames_complete / summary.frames_received, 4)
    if len(frame_times) > 1:
        summary.fps = round((len(frame_times) - 1) / (frame_times[-1] - frame_times[0]), 2)
    summary.latency_ms = percentiles(latencies)
    summary.action_latency_ms = percentiles(action_latencies)
    summary.stages_ms = median_stages(breakdowns, network_ms)
    summary.rtt_percentiles_ms = percentiles(round_trips)
    return summary


def _progress_line(elapsed: float, frame_times: list[float], latencies: list[float], summary: Summary) -> str:
    recent = [t for t in frame_times if t >= frame_times[-1] - 1.0] if frame_times else []
    latency = f"latency p50 {np.percentile(latencies[-60:], 50):.0f} ms" if latencies else "latency -"
    action = summary.action_names[-1] if summary.action_names else "-"
    return (f"{elapsed:5.1f} s  {len(recent):3d} fps  {summary.frames_complete} frames  {latency}  "
            f"action {action}")


async def _wait(wake: asyncio.Event, client: ClientEndpoint, clock, limit: float = 0.05) -> None:
    timer = client.get_timer()
    timeout = limit if timer is None else max(0.0, min(limit, timer - clock()))
    try:
        await asyncio.wait_for(wake.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    wake.clear()


async def probe(host: str, port: int, token: str | None = None, timeout_s: float = 1.0,
                clock: Callable[[], float] = time.monotonic):
    """The daemon's welcome if one answers at host:port within ``timeout_s``, else None; the probe says bye."""
    loop = asyncio.get_running_loop()
    client = ClientEndpoint(token=token)
    wake = asyncio.Event()

    def on_datagram(data: bytes, address: tuple) -> None:
        client.receive_datagram(data, clock())
        wake.set()

    try:
        transport, _ = await loop.create_datagram_endpoint(lambda: CallbackDatagramProtocol(on_datagram),
                                                           remote_addr=(host, port))
    except OSError:
        return None
    welcome = None
    try:
        client.connect(clock())
        deadline = clock() + timeout_s
        while client.state is ClientState.CONNECTING and clock() < deadline:
            for datagram in client.datagrams_to_send():
                transport.sendto(datagram)
            await _wait(wake, client, clock, max(0.0, min(0.05, deadline - clock())))
            client.handle_timer(clock())
            while (event := client.next_event()) is not None:
                if isinstance(event, Connected):
                    welcome = event.welcome
        if client.state is ClientState.CONNECTED:
            client.close(clock())
        for datagram in client.datagrams_to_send():
            transport.sendto(datagram)
    finally:
        transport.close()
    return welcome
