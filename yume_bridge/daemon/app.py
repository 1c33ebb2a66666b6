"""Composition root: wires the protocol endpoint, the generation worker, pacing and discovery.

Everything here runs on the event loop thread. One timer (re-armed after every
input, as in aioquic) drives frame pacing, just-in-time chunk requests, status
messages and the protocol's idle timeouts. When an input or event changes what
the model should apply, the chunk being shown may be cut at its next latent
boundary (``scheduling.plan_cut``) and the next chunk started at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from yume_bridge import __version__
from yume_bridge.actions import Action, AxisQuantizer, CaptionTemplates, Look, Movement, Speed
from yume_bridge.backends.base import BackendError, WorldBackend, WorldSpec
from yume_bridge.config import BridgeConfig, ConfigError
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.discovery import Advertisement, Load, advertise
from yume_bridge.daemon.pool import WorkerPool
from yume_bridge.daemon.recorder import DaemonRecorders, DaemonRecordingOptions
from yume_bridge.daemon.results import ChunkDone, ChunkSampled, ChunkSkipped, FrameReady, Readiness, SessionFailed
from yume_bridge.daemon.scheduling import (
    FramesInFlight,
    GenerationEstimate,
    PendingChange,
    PlaybackPosition,
    Shown,
    breakdown,
    plan_cut,
)
from yume_bridge.daemon.start_images import decode_start_image, start_image_problem
from yume_bridge.daemon.udp import UdpEndpoint
from yume_bridge.daemon.websocket import StudioServer, WebSocketPeer
from yume_bridge.protocol.budget import TokenBucket
from yume_bridge.protocol.daemon_events import (
    ConfigChanged,
    EventsChanged,
    InputReceived,
    SessionClosed,
    SessionOpened,
    StartRequested,
)
from yume_bridge.protocol.handshake import ServerInfo
from yume_bridge.protocol.messages import Latency, Vocabulary
from yume_bridge.protocol.server import DaemonEndpoint
from yume_bridge.protocol.wire import ErrorCode

log = logging.getLogger("yume_bridge")
CHUNK_LOG_INTERVAL_S = 2.0
"""Per session, at most one "chunk made" info line this often."""
CHURN_LOG_LIMIT = (2.0, 20.0)
"""Session open/close lines per second and burst; the rest are counted and summarised (session churn)."""


def printable(text: str, limit: int = 64) -> str:
    """Client-supplied text made safe for one log line: control characters escaped, length bounded."""
    return repr(text[:limit])[1:-1]


class ChurnLog:
    """Logs session open/close lines within a budget; says how many it left out when it logs again."""

    def __init__(self, clock) -> None:
        self._bucket = TokenBucket(*CHURN_LOG_LIMIT)
        self._clock = clock
        self.suppressed = 0

    def info(self, message: str, *args: object) -> None:
        if not self._bucket.take(self._clock()):
            self.suppressed += 1
            return
        if self.suppressed:
            log.info("(%d session open/close lines left out: too many sessions came and went)", self.suppressed)
            self.suppressed = 0
        log.info(message, *args)
STATUS_INTERVAL_S = 1.0
FIRST_CHUNK_ESTIMATE_S = 0.5
SHUTDOWN_TIMEOUT_S = 4.0
QUEUED_CHUNKS = 3
"""Chunks of frames a session may have waiting to be sent; beyond that the oldest frames go (a paused client)."""
LOAD_REFRESH_S = 2.0
"""How often the advertised load (sessions, streaming fps) is refreshed when it changed."""


def build_backends(config: BridgeConfig) -> list[WorldBackend]:
    """One backend per configured device (``--devices``), each for its own generation worker."""
    devices = config.backend.devices
    if devices == ("all",):
        devices = _all_devices(config.backend.name)
    if len(devices) <= 1:
        return [build_backend(config, device=devices[0] if devices else None)]
    return [build_backend(config, device=device) for device in devices]


def _all_devices(backend: str) -> tuple[str, ...]:
    if backend != "yume":
        return ("cpu",)
    import torch

    count = torch.cuda.device_count()
    if count == 0:
        raise ConfigError("--devices all found no CUDA device; give --devices cpu or the devices to use")
    return tuple(f"cuda:{index}" for index in range(count))


def build_backend(config: BridgeConfig, device: str | None = None) -> WorldBackend:
    """The configured backend, not yet loaded (loading happens on the generation thread)."""
    stream, options = config.stream, config.backend
    if options.name == "yume":
        from yume_bridge.model.layout import TINY_DECODER_FILES, find_tiny_decoder, missing_files

        problems = missing_files(options.weights)  # seconds before torch, diffusers and transformers load
        if problems:
            raise ConfigError(f"{options.weights} is not a usable Yume-5B-720P folder:\n  " + "\n  ".join(problems))
        log.info("loading torch, diffusers and transformers to check %s ...", options.weights)
        from yume_bridge.backends.yume import YumeBackend, YumeBackendConfig  # torch only when asked for
        from yume_bridge.model.checkweights import check_weights

        tiny = None
        if options.decoder == "tiny":
            tiny = options.tiny_decoder or find_tiny_decoder(options.weights)
            if tiny is None:
                raise ConfigError(f"--decoder tiny needs the taew2_2 file: put {TINY_DECODER_FILES[0]} or "
                                  f"{TINY_DECODER_FILES[1]} in {options.weights} or pass --tiny-decoder PATH")
        problems = check_weights(options.weights, tiny_decoder=tiny)
        if problems:
            raise ConfigError(f"{options.weights} is not a usable Yume-5B-720P folder:\n  " + "\n  ".join(problems))
        try:
            backend = YumeBackend(YumeBackendConfig(weights=options.weights, resolution=stream.resolution,
                                                    steps=options.steps, shift=options.shift,
                                                    device=device or options.device,
                                                    dtype=options.dtype, fps=stream.fps, vae_dtype=options.vae_dtype,
                                                    decoder=options.decoder, tiny_decoder=options.tiny_decoder,
                                                    compile=options.compile, attention=options.attention,
                                                    fp8=options.fp8, latents_per_chunk=stream.latents_per_chunk,
                                                    sequence_parallel=options.sequence_parallel,
                                                    vae_device=options.vae_device, overlap=options.overlap))
            backend.load_options()  # every device named exists: said now, not after minutes of loading
        except (ValueError, BackendError) as exc:
            raise ConfigError(str(exc)) from None
        return backend
    from yume_bridge.backends.preview import PreviewBackend

    default_image = None
    if options.image is not None:
        try:
            default_image = decode_start_image(options.image.read_bytes(), config.limits.max_image_pixels,
                                               fit=(stream.width, stream.height))
        except OSError as exc:
            raise ConfigError(f"cannot read --image {options.image}: {exc.strerror}") from None
        except Exception as exc:  # BackendError: a readable reason
            raise ConfigError(f"--image {options.image}: {exc}") from None
    spec = WorldSpec("preview", "preview", "1", stream.width, stream.height, stream.fps, stream.chunk_frames)
    return PreviewBackend(spec=spec, default_image=default_image, fail_every=options.fail_every,
                          stall_at=options.stall_at, stall_seconds=options.stall_seconds, simulate=options.simulate,
                          overlap=options.overlap)


@dataclass
class _Playback:
    """Loop-side state of one session's stream."""

    inbox: ConditioningInbox
    fps: float
    estimate: GenerationEstimate
    preempt: str = ""
    """The client's wish ("", "off", "latent"); "" and unknown values: the daemon's policy."""
    world: int = 0
    paused: bool = False
    frames: deque = field(default_factory=deque)
    in_flight: FramesInFlight = field(default_factory=FramesInFlight)
    """Frames of chunks sampled and still decoding: they come before the next chunk's."""
    next_send_at: float = 0.0
    requested: bool = False
    """A chunk was asked for and has not yet been sampled (or made, for a world that does not split chunks)."""
    asked_at: float = 0.0
    epoch: int = 0
    shown: Shown | None = None
    cut_latents: int | None = None
    """Set by a cut that shortened the chunk being shown: the next chunk's first frame says so."""
    latent_limit: tuple[int, int] | None = None
    """(chunk, latents) of the last cut: a second cut of the same chunk keeps no more."""
    pending: PendingChange | None = None
    cutting: bool = False
    """A cut's new chunk has not sent its first frame yet: no second cut until it has (it samples the newest
    input when it starts anyway)."""
    cuts: int = 0
    generated_s: float = 0.0
    wasted_s: float = 0.0
    chunk: int = -1
    action: int = 0
    made_action: int = 0
    """The action of the newest frame the generator made (the log's chunk line)."""
    next_chunk_log_at: float = 0.0
    input_seq: int = 0
    frames_sent: int = 0
    sent_times: deque = field(default_factory=lambda: deque(maxlen=256))
    latency: Latency = field(default_factory=Latency)
    next_status_at: float = 0.0

    def fps_sent(self, now: float) -> int:
        """Frames sent in the last second."""
        return sum(1 for t in self.sent_times if now - t <= 1.0)


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
        self.sessions: dict[int, _Playback] = {}
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
        if isinstance(item, FrameReady):
            playback = self.sessions.get(item.session)
            if playback is not None and item.world == playback.world:
                self._on_frame_ready(item, playback, now)
        elif isinstance(item, ChunkSampled):
            playback = self.sessions.get(item.session)
            if playback is not None and item.world == playback.world and item.epoch == playback.epoch:
                playback.requested = False  # sampling is free: the next chunk may be asked for while this decodes
                playback.in_flight.sampled(item.chunk, self.backend.spec.frames_per_chunk)
        elif isinstance(item, ChunkDone):
            playback = self.sessions.get(item.session)
            if playback is not None and item.world == playback.world:
                playback.generated_s += item.unreported_s
                playback.in_flight.done(item.chunk)
                if item.epoch != playback.epoch:
                    playback.wasted_s += item.unreported_s  # the tail of a chunk a cut stopped
                else:
                    if not item.sampled_apart:
                        playback.requested = False
                    if not item.cancelled:
                        whole = item.generate_s  # the generator's own time (JPEG runs beside it), no queueing
                        playback.estimate.add_whole_chunk(whole)
                        self._backend_estimate.add_whole_chunk(whole)
                        self._log_chunk(item, playback, now)
        elif isinstance(item, ChunkSkipped):
            playback = self.sessions.get(item.session)
            if playback is not None and item.world == playback.world:
                playback.requested = False
        elif isinstance(item, SessionFailed):
            playback = self.sessions.get(item.session)
            if playback is not None and item.world == playback.world:
                self._session_failed(item, playback, now)
        elif isinstance(item, Readiness):
            log.info("generator %s%s", item.state, f": {item.message}" if item.message else "")
            self.endpoint.readiness = item.state
            self.endpoint.progress = item.progress
            self._status_message = item.message
            for session_id, playback in self.sessions.items():
                self._send_status(session_id, playback, now)
        self._process(now)

    def _log_chunk(self, item: ChunkDone, playback: _Playback, now: float) -> None:
        """One line per chunk and session, at most every CHUNK_LOG_INTERVAL_S (a fast generator stays readable)."""
        if now < playback.next_chunk_log_at:
            return
        playback.next_chunk_log_at = now + CHUNK_LOG_INTERVAL_S
        events = playback.inbox.events
        shown = "; events: " + ", ".join(f"'{printable(text, 40)}'" for text in events) if events else ""
        log.info("session %08x chunk %d: %s%s; generated in %.0f ms, JPEG %.0f ms", item.session, item.chunk,
                 Action.from_id(playback.made_action).label, shown, item.generate_s * 1e3, item.encode_s * 1e3)

    def _on_frame_ready(self, item: FrameReady, playback: _Playback, now: float) -> None:
        playback.generated_s += item.cost_s
        playback.made_action = item.action
        if item.epoch != playback.epoch and playback.inbox.outdated(item.epoch, item.chunk, item.frame_in_chunk):
            playback.wasted_s += item.cost_s  # made before a cut that discarded it
            return
        if item.times is not None and item.epoch == playback.epoch:
            playback.chunk = item.chunk  # status reports the last chunk begun
            if item.world_chunk > 0:  # a world's first chunk also waited for the world to open
                playback.estimate.add_first_frame(item.ready_at - item.times.asked_at)
                self._backend_estimate.add_first_frame(item.ready_at - item.times.asked_at)
        if not playback.frames and playback.next_send_at < now:
            playback.next_send_at = now
        playback.frames.append(item)
        playback.in_flight.delivered(item.chunk)
        while len(playback.frames) > QUEUED_CHUNKS * self.backend.spec.frames_per_chunk:
            playback.wasted_s += playback.frames.popleft().cost_s  # a paused or slow client: the oldest go

    def _preempt_enabled(self, playback: _Playback) -> bool:
        if playback.inbox.replaying or self.recorders is not None:
            return False  # recordings and replays name inputs by chunk: every chunk must play whole
        policy = playback.preempt if playback.preempt in ("off", "latent") else self.config.stream.preempt
        if policy == "auto":
            return playback.estimate.faster_than_playback(chunk_frames=self.backend.spec.frames_per_chunk,
                                                          fps=playback.fps)
        return policy == "latent"

    def _on_conditioning_changed(self, session_id: int, playback: _Playback, now: float) -> None:
        """An input or event arrived: note a change of what the model should apply, and cut if that helps."""
        if not playback.world:
            return
        action, events_version = playback.inbox.peek()
        taken = playback.inbox.last_taken
        current = (taken[1].id, taken[2]) if taken is not None else None
        wanted = (action.id, events_version)
        pending = playback.pending
        if pending is not None and (pending.action, pending.events_version) != wanted:
            playback.pending = pending = None  # changed again (or back) before it showed
        if pending is None and current != wanted:
            playback.pending = PendingChange(now, action.id, events_version)
        self._maybe_cut(session_id, playback, now)

    def _maybe_cut(self, session_id: int, playback: _Playback, now: float) -> None:
        assert self.worker is not None
        if playback.paused or playback.cutting or playback.shown is None or not self._preempt_enabled(playback):
            return
        action, events_version = playback.inbox.peek()
        taken = playback.inbox.last_taken
        newest = (taken[0], taken[1].id, taken[2]) if taken is not None else None
        shown = playback.shown
        limit = playback.latent_limit[1] if playback.latent_limit and playback.latent_limit[0] == shown.chunk \
            else None
        position = PlaybackPosition(now=now, next_send_at=playback.next_send_at, fps=playback.fps,
                                    chunk_frames=self.backend.spec.frames_per_chunk,
                                    first_frame_estimate_s=playback.estimate.first_frame_s)
        cut = plan_cut(shown=shown, wanted_action=action.id, wanted_events=events_version, newest_taken=newest,
                       position=position, latent_limit=limit)
        if cut is None:
            return
        kept = deque(f for f in playback.frames if f.chunk == cut.chunk and f.frame_in_chunk < cut.keep_frames)
        playback.wasted_s += sum(f.cost_s for f in playback.frames) - sum(f.cost_s for f in kept)
        playback.frames = kept
        playback.in_flight.cut(cut.chunk, cut.keep_frames)
        playback.epoch = playback.inbox.cut(chunk=cut.chunk, keep_frames=cut.keep_frames,
                                            next_world_chunk=cut.world_chunk + 1)
        playback.latent_limit = (cut.chunk, cut.latents)
        if cut.shortens_chunk:
            playback.cut_latents = cut.latents
            playback.cuts += 1
        playback.requested = playback.cutting = True
        playback.asked_at = now
        self.worker.preempt(session_id, playback.world, chunk=cut.world_chunk, latents=cut.latents,
                            inbox=playback.inbox, epoch=playback.epoch)

    def _session_failed(self, failure: SessionFailed, playback: _Playback, now: float) -> None:
        playback.requested = False
        playback.in_flight.clear()
        if failure.world_lost:
            playback.world = 0  # nothing to continue: the client must start again
            playback.frames.clear()
        elif failure.kept_world:
            playback.world = failure.kept_world  # the new world never opened: the old one goes on
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
            self.sessions[event.session] = _Playback(inbox=inbox, fps=event.fps, estimate=estimate,
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
            playback.world += 1
            playback.frames.clear()
            playback.in_flight.clear()
            playback.requested = False
            playback.shown = playback.pending = playback.cut_latents = None
            playback.cutting = False
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

    def _starves_at(self, playback: _Playback, now: float) -> float:
        """When playback runs out of the frames it has and of those still decoding."""
        coming = len(playback.frames) + playback.in_flight.frames
        return (playback.next_send_at if playback.frames else now) + coming / playback.fps

    def _pace(self, now: float) -> None:
        assert self.worker is not None
        ready = self.endpoint.readiness not in ("loading", "warming", "error")
        for session_id, playback in self.sessions.items():
            if playback.paused or not playback.world:
                continue
            interval = 1.0 / playback.fps
            while playback.frames and now >= playback.next_send_at:
                frame: FrameReady = playback.frames.popleft()
                self._send_frame(session_id, playback, frame, now)
                playback.frames_sent += 1
                playback.sent_times.append(now)
                following = playback.next_send_at + interval
                # Late by more than a frame (a pause, a starved loop): resume the cadence, never burst.
                playback.next_send_at = following if following >= now - interval else now + interval
            if playback.pending is not None:
                self._maybe_cut(session_id, playback, now)
            if ready and not playback.requested and playback.inbox.has_conditioning() and \
                    now >= self._starves_at(playback, now) - self._lead(playback):
                playback.requested = True
                playback.asked_at = now
                self.worker.request_chunk(session_id, playback.world, playback.inbox)
        for session_id, playback in self.sessions.items():
            if now >= playback.next_status_at:
                self._send_status(session_id, playback, now)

    def _lead(self, playback: _Playback) -> float:
        lead = playback.estimate.lead_s(chunk_frames=self.backend.spec.frames_per_chunk, fps=playback.fps)
        return lead + self.config.stream.start_margin_s

    def _send_frame(self, session_id: int, playback: _Playback, frame: FrameReady, now: float) -> None:
        shown = playback.shown
        after_cut = None
        if frame.frame_in_chunk == 0 and playback.cut_latents is not None:
            after_cut, playback.cut_latents = playback.cut_latents, None
        number = self.endpoint.send_frame(session_id, jpeg=frame.jpeg, chunk=frame.chunk,
                                          frame_in_chunk=frame.frame_in_chunk, last_in_chunk=frame.last_in_chunk,
                                          input_seq=frame.input_seq, action=frame.action, now=now,
                                          latent=frame.latent, cut_latents=after_cut)
        if self.recorders is not None and frame.frame_in_chunk == 0:
            self.recorders.chunk_begun(session_id, chunk=frame.chunk, action=frame.action, input_seq=frame.input_seq,
                                       first_frame=number, now=now)
        if shown is None or shown.chunk != frame.chunk:
            playback.cutting = False
            playback.shown = Shown(frame.chunk, frame.world_chunk, frame.action, frame.events_version, 1)
        else:
            playback.shown = Shown(shown.chunk, shown.world_chunk, shown.action, shown.events_version,
                                   shown.frames_sent + 1)
        pending = playback.pending
        if (frame.times is not None and pending is not None and frame.action == pending.action
                and frame.events_version >= pending.events_version and frame.times.started_at >= pending.arrived_at):
            playback.latency = breakdown(pending, frame.times, ready_at=frame.ready_at, sent_at=now)
            playback.pending = None
        playback.action, playback.input_seq = frame.action, frame.input_seq

    def _send_status(self, session_id: int, playback: _Playback, now: float, message: str = "") -> None:
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
            if not playback.requested and playback.inbox.has_conditioning():
                deadlines.append(self._starves_at(playback, now) - self._lead(playback))
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
