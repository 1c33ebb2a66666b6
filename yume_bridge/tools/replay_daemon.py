"""Replay through a running daemon: the recorded worlds, chunk by chunk in lockstep, over the protocol.

For each chunk the replay first sets the chunk's event prompts (and waits for
their acknowledgements, which must name that chunk), then sends one input that
names the chunk (``input.chunk``, SPEC §5.6) and holds the recorded action; the
daemon waits for it before generating. A frame of the chunk proves it was
taken, and its header proves which action was applied: a daemon that does not
honour chunk inputs is caught there, not trusted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from yume_bridge.actions import Action
from yume_bridge.daemon.udp import CallbackDatagramProtocol
from yume_bridge.protocol import recording as rec
from yume_bridge.protocol.client import (
    ClientEndpoint,
    ClientState,
    Closed,
    Connected,
    ErrorReceived,
    EventAcknowledged,
    FrameReceived,
    UploadFinished,
    WorldStarted,
)
from yume_bridge.protocol.wire import FrameFlags
from yume_bridge.tools.recording import ChunkPlan, WorldPlan, plan_worlds

INPUT_RESEND_S = 0.25
FIRST_INPUT_COPIES = 3
"""The first chunk's input goes out this many times before the start: it has no acknowledgement to wait for."""
STEP_TIMEOUT_S = 120.0
"""How long one chunk may take to show its first frame before the replay gives up."""


class ReplayDiverged(RuntimeError):
    """The daemon did not generate what the recording says; the message says where."""


@dataclass(frozen=True)
class DaemonReplayOptions:
    host: str = "127.0.0.1"
    port: int = 47800
    token: str | None = None
    fps: float = 0.0
    """Playback rate to ask for; 0 = the recording's."""


def axes_for(action: Action) -> tuple[tuple[float, float], tuple[float, float]]:
    """Full-deflection axes that quantise to ``action`` whatever the hysteresis state."""
    return (float(action.strafe), float(action.forward)), (float(action.yaw), float(action.pitch))


@dataclass
class _Progress:
    frames: dict[int, bytes] = field(default_factory=dict)
    chunk_actions: dict[int, int] = field(default_factory=dict)
    chunks_ended: set[int] = field(default_factory=set)
    acks: dict[int, int] = field(default_factory=dict)
    uploaded: bool = False
    started: int = 0
    closed: str = ""
    errors: list[str] = field(default_factory=list)


class DaemonReplay:
    """One replay session against a daemon; ``await run()`` returns frame number → JPEG bytes."""

    def __init__(self, recording: rec.Recording, options: DaemonReplayOptions, *,
                 on_frame: Callable[[FrameReceived], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.recording = recording
        self.options = options
        self.worlds, self.warnings = plan_worlds(recording)
        self.on_frame = on_frame
        self.clock = clock
        header = recording.header
        self.client = ClientEndpoint(fps=options.fps or header.fps, quality=header.quality, token=options.token,
                                     client="yume-bridge-replay")
        self.progress = _Progress()
        self._wake = asyncio.Event()
        self._transport = None
        self._event_ids: dict[str, int] = {}  # active event text → the id this replay gave it
        self._next_event_id = 0

    # --- plumbing -------------------------------------------------------------------------------

    def _flush(self) -> None:
        for datagram in self.client.datagrams_to_send():
            self._transport.sendto(datagram)

    def _on_datagram(self, data: bytes, address: tuple) -> None:
        self.client.receive_datagram(data, self.clock())
        self._drain()
        self._flush()
        self._wake.set()

    def _drain(self) -> None:
        progress = self.progress
        while (event := self.client.next_event()) is not None:
            match event:
                case FrameReceived(frame=frame):
                    header = frame.header
                    progress.frames[header.frame] = frame.jpeg
                    progress.chunk_actions.setdefault(header.chunk, header.action)
                    if header.flags & FrameFlags.LAST_IN_CHUNK:
                        progress.chunks_ended.add(header.chunk)
                    if self.on_frame is not None:
                        self.on_frame(event)
                case EventAcknowledged(event_id=event_id, chunk=chunk):
                    progress.acks[event_id] = chunk
                case UploadFinished():
                    progress.uploaded = True
                case WorldStarted(world=world):
                    progress.started = world
                case ErrorReceived(code=code, message=message):
                    progress.errors.append(f"{code}: {message}")
                case Closed(reason=reason):
                    progress.closed = reason
                case Connected():
                    pass

    async def _until(self, condition: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT_S,
                     resend: Callable[[], None] | None = None) -> None:
        deadline = self.clock() + timeout
        next_resend = self.clock() + INPUT_RESEND_S
        while not condition():
            if self.client.state is ClientState.CLOSED or self.progress.closed:
                raise ReplayDiverged(f"the daemon closed the session while waiting for {what}: "
                                     f"{self.progress.closed or 'closed'}; {'; '.join(self.progress.errors)}")
            now = self.clock()
            if now > deadline:
                raise ReplayDiverged(f"no {what} within {timeout:g} s")
            if resend is not None and now >= next_resend:
                resend()
                next_resend = now + INPUT_RESEND_S
            timer = self.client.get_timer()
            wait = min(0.05, max(0.0, (timer - now) if timer is not None else 0.05))
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            self.client.handle_timer(self.clock())
            self._drain()
            self._flush()

    # --- the replay -----------------------------------------------------------------------------

    async def run(self) -> dict[int, bytes]:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: CallbackDatagramProtocol(self._on_datagram), remote_addr=(self.options.host, self.options.port))
        try:
            self.client.connect(self.clock())
            self._flush()
            await self._until(lambda: self.client.state is not ClientState.CONNECTING, "welcome", 15.0)
            if self.client.state is not ClientState.CONNECTED:
                raise ReplayDiverged(f"cannot connect to {self.options.host}:{self.options.port}: "
                                     f"{'; '.join(self.progress.errors) or 'no answer'}")
            welcome, header = self.client.welcome, self.recording.header
            if (welcome.model, welcome.model_version) != (header.model, header.model_version):
                self.warnings.append(f"the recording was made with {header.model} {header.model_version}, this "
                                     f"daemon runs {welcome.model} {welcome.model_version}: frames may differ")
            next_chunk = 0
            for number, world in enumerate(self.worlds):
                if number == 0 and world.chunks:
                    # Before the first start the daemon does not yet wait for chunk inputs: the first chunk's
                    # events and input go ahead of the start, so that the start finds them there.
                    await self._events_for(world.chunks[0], 0)
                    for _ in range(FIRST_INPUT_COPIES):
                        self._send_input(world.chunks[0], 0)
                await self._start(world, keep_events=number == 0)
                for plan in world.chunks:
                    await self._chunk(plan, next_chunk)
                    next_chunk += 1
            if next_chunk:
                try:
                    await self._until(lambda: next_chunk - 1 in self.progress.chunks_ended, "the last frame", 30.0)
                except ReplayDiverged:
                    self.warnings.append(f"the last frame of chunk {next_chunk - 1} never arrived")
            self.client.close(self.clock())
            self._flush()
        finally:
            self._transport.close()
        return self.progress.frames

    async def _start(self, world: WorldPlan, *, keep_events: bool) -> None:
        client, start = self.client, world.start
        digest = None
        if world.image is not None:
            self.progress.uploaded = False
            digest = client.upload_image(world.image, self.clock())
            self._flush()
            await self._until(lambda: self.progress.uploaded, "the image upload", 60.0)
        expected = self.progress.started + 1
        client.start(self.clock(), source=start.source if digest is None else "image", image=digest,
                     prompt=start.prompt, seed=start.seed)
        self._flush()
        await self._until(lambda: self.progress.started >= expected, "started", 30.0)
        if keep_events:
            return
        for event_id in list(self._event_ids.values()):  # a new world starts without events
            await self._set_event(event_id, "", None)
        self._event_ids.clear()

    async def _set_event(self, event_id: int, text: str, chunk: int | None) -> None:
        self.progress.acks.pop(event_id, None)
        self.client.send_event(self.clock(), event_id, text)
        self._flush()
        await self._until(lambda: event_id in self.progress.acks, f"the acknowledgement of event {event_id}", 10.0)
        if chunk is not None and self.progress.acks[event_id] != chunk:
            raise ReplayDiverged(f"event {text!r} took effect from chunk {self.progress.acks[event_id]}, "
                                 f"not {chunk}")

    async def _events_for(self, plan: ChunkPlan, chunk: int) -> None:
        current = list(self._event_ids)
        if current == list(plan.events):
            return
        keep = [text for text in current if text in plan.events]
        if keep != list(plan.events[: len(keep)]):
            keep = []  # the order changed: clear and add again, oldest first
        for text in current:
            if text not in keep:
                await self._set_event(self._event_ids.pop(text), "", chunk)
        for text in plan.events[len(keep):]:
            self._next_event_id += 1
            self._event_ids[text] = self._next_event_id
            await self._set_event(self._next_event_id, text, chunk)

    def _send_input(self, plan: ChunkPlan, chunk: int) -> None:
        move, look = axes_for(plan.action)
        self.client.send_input(self.clock(), move=move, look=look, chunk=chunk)
        self._flush()

    async def _chunk(self, plan: ChunkPlan, chunk: int) -> None:
        await self._events_for(plan, chunk)
        self._send_input(plan, chunk)
        await self._until(lambda: chunk in self.progress.chunk_actions, f"a frame of chunk {chunk}",
                          resend=lambda: self._send_input(plan, chunk))
        applied = self.progress.chunk_actions[chunk]
        if applied != plan.action.id:
            raise ReplayDiverged(f"chunk {chunk} was generated with action {Action.from_id(applied)}, the recording "
                                 f"has {plan.action} (does this daemon honour chunk inputs? it needs yume-bridge "
                                 "0.1.0 or later)")
