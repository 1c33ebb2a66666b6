"""Composition root: wires the protocol endpoint, the generation worker, pacing and discovery.

Everything here runs on the event loop thread. One timer (re-armed after every
input, as in aioquic) drives frame pacing, just-in-time chunk requests, status
messages and the protocol's idle timeouts; each session's stream state and the
decisions about it (which frame is due, when to ask for a chunk, where to cut)
live in ``playback.py``. When an input or event changes what the model should
apply, the chunk being shown may be cut at its next latent boundary
(``scheduling.plan_cut``) and the next chunk started at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack

from yume_bridge import __version__
from yume_bridge.actions import Action, AxisQuantizer, CaptionTemplates, Look, Movement, Speed
from yume_bridge.backends.base import WorldBackend
from yume_bridge.config import BridgeConfig, ConfigError
from yume_bridge.daemon.backend_setup import build_backends
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.discovery import Advertisement, Load, advertise
from yume_bridge.daemon.logs import ChurnLog, printable
from yume_bridge.daemon.playback import Playback
from yume_bridge.daemon.pool import WorkerPool
from yume_bridge.daemon.recorder import DaemonRecorders, DaemonRecordingOptions
from yume_bridge.daemon.results import ChunkDone, ChunkSampled, ChunkSkipped, FrameReady, Readiness, SessionFailed
from yume_bridge.daemon.scheduling import GenerationEstimate
from yume_bridge.daemon.start_images import start_image_problem
from yume_bridge.daemon.udp import UdpEndpoint
from yume_bridge.daemon.websocket import StudioServer, WebSocketPeer
from yume_bridge.protocol.daemon_events import (
    ConfigChanged,
    EventsChanged,
    InputReceived,
    SessionClosed,
    SessionOpened,
    StartRequested,
)
from yume_bridge.protocol.handshake import ServerInfo
from yume_bridge.protocol.messages import Vocabulary
from yume_bridge.protocol.server import DaemonEndpoint
from yume_bridge.protocol.wire import ErrorCode

log = logging.getLogger("yume_bridge")
CHUNK_LOG_INTERVAL_S = 2.0
"""Per session, at most one "chunk made" info line this often."""
STATUS_INTERVAL_S = 1.0
FIRST_CHUNK_ESTIMATE_S = 0.5
SHUTDOWN_TIMEOUT_S = 4.0
LOAD_REFRESH_S = 2.0
"""How often the advertised load (sessions, streaming fps) is refreshed when it changed."""


class Bridge:
    """The daemon: a UDP socket and the studio's WebSocket, one protocol endpoint, a generation worker per device."""

    def __init__(self, config: BridgeConfig, backend: WorldBackend | Sequence[WorldBackend], *,
                 clock=time.monotonic, recording: DaemonRecordingOptions | None = None) -> None:
        self.config = config
        self.backends = [backend] if isinstance(backend, WorldBackend) else list(backend)
        self.backend = backend = self.backends[0]
        self.clock = clock
        spec = backend.spec
        self.templates = CaptionTemplates.load(config.actions.vocabulary)
        vocabulary = Vocabulary(name=self.templates.name, version=self.templates.version,
                                movement=tuple(m.symbol for m in Movement), look=tuple(lk.symbol for lk in Look))
        info = ServerInfo(daemon_version=__version__, backend=spec.backend, model=spec.model,
                          model_version=spec.model_version, width=spec.width, height=spec.height,
                          fps=config.stream.fps, frames_per_chunk=spec.frames_per_chunk, vocabulary=vocabulary,
                          limits=config.limits, max_quality=config.stream.max_quality,
                          max_datagram=config.network.max_datagram,
                          max_sessions_per_host=config.network.host_share(config.limits.max_sessions),
                          image_problem=lambda data: start_image_problem(data, config.limits.max_image_pixels))
        self.endpoint = DaemonEndpoint(info=info, token=config.network.token)
        self.endpoint.readiness = "loading"
        self.endpoint.progress = 0.0
        self.sessions: dict[int, Playback] = {}
        self.udp: UdpEndpoint | None = None
        self.studio: StudioServer | None = None
        self.worker: WorkerPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._status_message = ""
        self._backend_estimate = GenerationEstimate(FIRST_CHUNK_ESTIMATE_S)
        """Across sessions: where a new session's estimate starts."""
        self._churn_log = ChurnLog(clock)
        self.closed = asyncio.Event()
        self.recorders = None if recording is None else DaemonRecorders(
            recording, spec=backend.spec, config=config, vocabulary_version=self.templates.version, clock=clock)

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> tuple:
        """Bind the socket and start the worker; returns the bound address."""
        loop = self._loop = asyncio.get_running_loop()
        network = self.config.network
        _, self.udp = await loop.create_datagram_endpoint(lambda: UdpEndpoint(self._on_datagrams),
                                                          local_addr=(network.host, network.port))
        self.worker = WorkerPool(backends=self.backends, max_image_pixels=self.config.limits.max_image_pixels,
                                 stall_timeout_s=self.config.backend.stall_timeout,
                                 post=lambda item: loop.call_soon_threadsafe(self._on_worker, item),
                                 clock=self.clock)
        self.worker.start()
        if self.config.web.enabled:
            self.studio = StudioServer(host=network.host, config=self.config.web,
                                       max_message_bytes=self.config.limits.max_control_bytes,
                                       on_datagrams=self._on_datagrams, on_disconnect=self._on_disconnect)
            try:
                await self.studio.start()
            except OSError as exc:
                self.studio = None
                await self.close()
                raise ConfigError(f"cannot serve the studio on {network.host}:{self.config.web.port}: "
                                  f"{exc.strerror or exc} (choose another --web-port, or --no-web)") from None
        return self.udp.local_address

    async def close(self) -> None:
        """Say bye to every client, stop the worker and the socket. Idempotent."""
        if self.closed.is_set():
            return
        for session_id in list(self.sessions):
            self.endpoint.close_session(session_id, "shutdown")
        if self.recorders is not None:
            self.recorders.close_all("shutdown")
        self._flush()
        if self.worker is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.worker.stop, SHUTDOWN_TIMEOUT_S - 1)
        if self._timer is not None:
            self._timer.cancel()
        if self.udp is not None and self.udp.transport is not None:
            self.udp.transport.close()
        if self.studio is not None:
            await self.studio.close()
        self.closed.set()

    def load(self, now: float | None = None) -> Load:
        """Sessions and streaming rate right now, for the discovery record."""
        now = self.clock() if now is None else now
        fps = sum(playback.fps_sent(now) for playback in self.sessions.values())
        return Load(devices=len(self.backends), sessions=len(self.sessions),
                    max_sessions=self.config.limits.max_sessions, fps=float(fps))

    # --- inputs -----------------------------------------------------------------------------

    def _on_datagrams(self, batch: list[tuple[bytes, tuple]]) -> None:
        now = self.clock()
        for data, address in batch:
            self.endpoint.receive_datagram(data, address, now)
        self._process(now)

    def _on_disconnect(self, peer: WebSocketPeer) -> None:
        """A closed browser tab frees its sessions at once (no idle timeout to wait for)."""
        for session_id in [s for s in self.endpoint.session_ids if self.endpoint.address_of(s) == peer]:
            self.endpoint.close_session(session_id, "disconnected")
        self._process(self.clock())

    def _on_worker(self, item: object) -> None:
        now = self.clock()
        if isinstance(item, Readiness):
            log.info("generator %s%s", item.state, f": {item.message}" if item.message else "")
            self.endpoint.readiness = item.state
            self.endpoint.progress = item.progress
            self._status_message = item.message
            for session_id, playback in self.sessions.items():
                self._send_status(session_id, playback, now)
        elif isinstance(item, FrameReady | ChunkSampled | ChunkDone | ChunkSkipped | SessionFailed):
            playback = self.sessions.get(item.session)
            if playback is not None and item.world == playback.world:  # else: a closed session's, or an old world's
                self._on_result(item, playback, now)
        self._process(now)

    def _on_result(self, item: FrameReady | ChunkSampled | ChunkDone | ChunkSkipped | SessionFailed,
                   playback: Playback, now: float) -> None:
        match item:
            case FrameReady():
                playback.frame_ready(item, now)
            case ChunkSampled():
                playback.chunk_sampled(item)
            case ChunkDone():
                if playback.chunk_done(item):
                    self._log_chunk(item, playback, now)
            case ChunkSkipped():
                playback.requested = False
            case SessionFailed():
                self._session_failed(item, playback, now)

    def _log_chunk(self, item: ChunkDone, playback: Playback, now: float) -> None:
        """One line per chunk and session, at most every CHUNK_LOG_INTERVAL_S (a fast generator stays readable)."""
        if now < playback.next_chunk_log_at:
            return
        playback.next_chunk_log_at = now + CHUNK_LOG_INTERVAL_S
        events = playback.inbox.events
        shown = "; events: " + ", ".join(f"'{printable(text, 40)}'" for text in events) if events else ""
        log.info("session %08x chunk %d: %s%s; generated in %.0f ms, JPEG %.0f ms", item.session, item.chunk,
                 Action.from_id(playback.made_action).label, shown, item.generate_s * 1e3, item.encode_s * 1e3)

    def _preempt_enabled(self, playback: Playback) -> bool:
        if playback.inbox.replaying or self.recorders is not None:
            return False  # recordings and replays name inputs by chunk: every chunk must play whole
        return playback.preempts(self.config.stream.preempt)

    def _on_conditioning_changed(self, session_id: int, playback: Playback, now: float) -> None:
        """An input or event arrived: note a change of what the model should apply, and cut if that helps."""
        if not playback.world:
            return
        playback.conditioning_changed(now)
        self._maybe_cut(session_id, playback, now)

    def _maybe_cut(self, session_id: int, playback: Playback, now: float) -> None:
        assert self.worker is not None
        if playback.paused or playback.cutting or playback.shown is None or not self._preempt_enabled(playback):
            return
        cut = playback.planned_cut(now)
        if cut is None:
            return
        playback.apply_cut(cut, now)
        self.worker.preempt(session_id, playback.world, chunk=cut.world_chunk, latents=cut.latents,
                            inbox=playback.inbox, epoch=playback.epoch)

    def _session_failed(self, failure: SessionFailed, playback: Playback, now: float) -> None:
        playback.failed(failure)
        self.endpoint.send_error(failure.session, ErrorCode(failure.code), failure.message)
        self._send_status(failure.session, playback, now, message=failure.message)

    def _process(self, now: float) -> None:
        endpoint = self.endpoint
        while (event := endpoint.next_event()) is not None:
            self._on_event(event, now)
            if self.recorders is not None:
                playback = self.sessions.get(getattr(event, "session", -1))
                self.recorders.observe(event, inbox=playback.inbox if playback else None, now=now)
        self._pace(now)
        self._flush()
        self._arm_timer(now)

    def _on_event(self, event: object, now: float) -> None:
        assert self.worker is not None
        if isinstance(event, SessionOpened):
            options = self.config.actions
            inbox = ConditioningInbox(templates=self.templates,
                                      quantizer=AxisQuantizer(press=options.press, release=options.release),
                                      speed=Speed() if options.speed else None)
            inbox.quality = event.quality
            estimate = GenerationEstimate(self._backend_estimate.first_frame_s,
                                          self._backend_estimate.whole_chunk_s)
            self.sessions[event.session] = Playback(inbox=inbox, fps=event.fps, estimate=estimate,
                                                    backend_estimate=self._backend_estimate,
                                                    chunk_frames=self.backend.spec.frames_per_chunk,
                                                    start_margin_s=self.config.stream.start_margin_s,
                                                    preempt=event.preempt)
            self._churn_log.info("session %08x opened by '%s' '%s' from %s", event.session,
                                 printable(event.client), printable(event.engine), event.address)
            self._send_status(event.session, self.sessions[event.session], now)
        elif isinstance(event, SessionClosed):
            if self.sessions.pop(event.session, None) is not None:
                self.worker.close_world(event.session)
                self._churn_log.info("session %08x closed: %s", event.session, printable(event.reason))
        elif isinstance(event, StartRequested):
            playback = self.sessions[event.session]
            playback.new_world()
            playback.inbox.new_world(event.prompt)
            self.worker.open_world(event.session, playback.world, event.image, event.prompt, event.seed)
        elif isinstance(event, InputReceived):
            playback = self.sessions[event.session]
            playback.inbox.put_input(event.seq, event.axes, chunk=event.chunk)
            self._on_conditioning_changed(event.session, playback, now)
        elif isinstance(event, EventsChanged):
            playback = self.sessions[event.session]
            chunk = playback.inbox.set_events(event.events)
            self.endpoint.send_event_ack(event.session, event_id=event.event_id, chunk=chunk, active=event.active)
            if playback.world:
                self.worker.prepare(event.session, playback.inbox.captions_for_events())
            self._on_conditioning_changed(event.session, playback, now)
        elif isinstance(event, ConfigChanged):
            playback = self.sessions[event.session]
            playback.fps, playback.paused = event.fps, event.paused
            if event.preempt is not None:
                playback.preempt = event.preempt
            playback.inbox.quality = event.quality
            self._send_status(event.session, playback, now)

    # --- pacing -----------------------------------------------------------------------------

    def _pace(self, now: float) -> None:
        assert self.worker is not None
        ready = self.endpoint.readiness not in ("loading", "warming", "error")
        for session_id, playback in self.sessions.items():
            if playback.paused or not playback.world:
                continue
            while (frame := playback.next_due_frame(now)) is not None:
                self._send_frame(session_id, playback, frame, now)
            if playback.pending is not None:
                self._maybe_cut(session_id, playback, now)
            if ready and (due := playback.next_chunk_due_at(now)) is not None and now >= due:
                playback.requested = True
                playback.asked_at = now
                self.worker.request_chunk(session_id, playback.world, playback.inbox)
        for session_id, playback in self.sessions.items():
            if now >= playback.next_status_at:
                self._send_status(session_id, playback, now)

    def _send_frame(self, session_id: int, playback: Playback, frame: FrameReady, now: float) -> None:
        number = self.endpoint.send_frame(session_id, jpeg=frame.jpeg, chunk=frame.chunk,
                                          frame_in_chunk=frame.frame_in_chunk, last_in_chunk=frame.last_in_chunk,
                                          input_seq=frame.input_seq, action=frame.action, now=now,
                                          latent=frame.latent, cut_latents=playback.cut_latents_announced_by(frame))
        if self.recorders is not None and frame.frame_in_chunk == 0:
            self.recorders.chunk_begun(session_id, chunk=frame.chunk, action=frame.action, input_seq=frame.input_seq,
                                       first_frame=number, now=now)
        playback.frame_sent(frame, now)

    def _send_status(self, session_id: int, playback: Playback, now: float, message: str = "") -> None:
        readiness = self.endpoint.readiness
        if readiness == "ready" and (playback.world or playback.paused):
            readiness = "paused" if playback.paused else "generating"
        queue = self.worker.queue_depth if self.worker is not None else 0
        self.endpoint.send_status(session_id, state=readiness, progress=self.endpoint.progress, chunk=playback.chunk,
                                  queue=queue, fps=float(playback.fps_sent(now)), frames_sent=playback.frames_sent,
                                  action=playback.action, input_seq=playback.input_seq, latency=playback.latency,
                                  message=message or self._status_message,
                                  preempt="latent" if self._preempt_enabled(playback) else "off", cuts=playback.cuts,
                                  wasted=round(playback.wasted_s / playback.generated_s, 4)
                                  if playback.generated_s else 0.0)
        if self.recorders is not None:
            self.recorders.status(session_id, state=readiness, chunk=playback.chunk, action=playback.action,
                                  latency=playback.latency, now=now)
        playback.next_status_at = now + STATUS_INTERVAL_S

    # --- output and timer -------------------------------------------------------------------

    def _flush(self) -> None:
        datagrams = self.endpoint.datagrams_to_send()
        if self.studio is not None and any(isinstance(address, WebSocketPeer) for _, address in datagrams):
            self.studio.send([d for d in datagrams if isinstance(d[1], WebSocketPeer)])
            datagrams = [d for d in datagrams if not isinstance(d[1], WebSocketPeer)]
        if self.udp is not None:
            self.udp.send(datagrams)

    def _arm_timer(self, now: float) -> None:
        stall = self.worker.stall_deadline() if self.worker is not None else None
        deadlines = [t for t in (self.endpoint.get_timer(), stall) if t is not None]
        for playback in self.sessions.values():
            deadlines.append(playback.next_status_at)
            if playback.paused or not playback.world:
                continue
            if playback.frames:
                deadlines.append(playback.next_send_at)
            if (due := playback.next_chunk_due_at(now)) is not None:
                deadlines.append(due)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadlines and self._loop is not None and not self.closed.is_set():
            when = max(min(deadlines), now + 0.0005)
            self._timer = self._loop.call_at(self._loop.time() + (when - now), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self.clock()
        self.endpoint.handle_timer(now)
        if self.worker is not None and (stalled := self.worker.abandon_stalled(now)) is not None:
            playback = self.sessions.get(stalled.session)
            if playback is not None and stalled.world == playback.world:
                self._session_failed(stalled, playback, now)
        self._process(now)


async def _keep_load_current(bridge: Bridge, advertisement: Advertisement) -> None:
    while True:
        await asyncio.sleep(LOAD_REFRESH_S)
        await advertisement.update(bridge.load())


async def run_bridge(config: BridgeConfig, *, stop: asyncio.Event, started: asyncio.Future | None = None,
                     backend: WorldBackend | None = None, recording: DaemonRecordingOptions | None = None) -> None:
    """Serve until ``stop`` is set, then shut down in order within the shutdown timeout."""
    bridge = Bridge(config, backend or build_backends(config), recording=recording)
    async with AsyncExitStack() as stack:
        address = await bridge.start()
        stack.push_async_callback(bridge.close)
        if config.network.advertise_enabled:
            advertisement = await stack.enter_async_context(
                advertise(config, bridge.backend.spec, address[1], load=bridge.load()))
            refresher = asyncio.create_task(_keep_load_current(bridge, advertisement))
            stack.callback(refresher.cancel)
        log.info("yume-bridge %s serving the %s backend on udp://%s:%d", __version__, config.backend.name,
                 address[0], address[1])
        if bridge.studio is not None:
            web_host, web_port = bridge.studio.local_address
            log.info("studio: open http://%s:%d/ in a browser", _url_host(web_host), web_port)
        if started is not None and not started.done():
            started.set_result((bridge, address))
        await stop.wait()
        log.info("shutting down")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
