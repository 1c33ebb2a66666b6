"""Writing session recordings to disk: the bounded file writer, and ``serve --record``'s per-session hook.

The format is protocol/RECORDING.md (codec in ``protocol.recording``). Each
record is flushed as it is written, so a recording cut short by a crash still
holds everything up to the crash (readers call it truncated).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from yume_bridge import __version__
from yume_bridge.actions import Axes
from yume_bridge.backends.base import WorldSpec
from yume_bridge.config import BridgeConfig
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.protocol import recording as rec
from yume_bridge.protocol.daemon_events import (
    ConfigChanged,
    EventsChanged,
    InputReceived,
    SessionClosed,
    SessionOpened,
    StartRequested,
)
from yume_bridge.protocol.messages import Latency

log = logging.getLogger("yume_bridge")


class RecordingExists(FileExistsError):
    """The target exists and overwriting was not asked for."""


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RecordingWriter:
    """One recording file: the prefix on open, then records within a byte budget; ``close`` writes the end."""

    def __init__(self, path: Path, *, force: bool = False, limit_bytes: int = rec.DEFAULT_LIMIT_BYTES,
                 clock: Callable[[], float] = time.monotonic, origin: float | None = None) -> None:
        self.path = Path(path)
        try:
            self._file = self.path.open("wb" if force else "xb")
        except FileExistsError:
            raise RecordingExists(f"{self.path} exists; choose another name or pass --force to overwrite it") \
                from None
        self._clock = clock
        self._origin = clock() if origin is None else origin
        self._budget = rec.RecordBudget(limit_bytes=limit_bytes)
        self._images: set[bytes] = set()
        self._file.write(rec.file_prefix())
        self._file.flush()
        self.closed = False

    def t_us(self, now: float | None = None) -> int:
        return int(((self._clock() if now is None else now) - self._origin) * 1e6)

    def write(self, record: rec.Record) -> bool:
        """Append ``record`` unless the size policy drops it; True if written."""
        if self.closed:
            return False
        data = self._budget.encode(record)
        if data is None:
            return False
        self._file.write(data)
        self._file.flush()
        return True

    def write_image(self, data: bytes) -> bytes:
        """Write a start image once; returns its SHA-256."""
        digest = hashlib.sha256(data).digest()
        if digest not in self._images and self.write(rec.Image(sha256=digest, data=data)):
            self._images.add(digest)
        return digest

    def close(self, *, reason: str = "", last_status: dict | None = None, summary: dict | None = None) -> None:
        if self.closed:
            return
        self.write(rec.End(t_us=self.t_us(), reason=reason, dropped=dict(self._budget.dropped),
                           last_status=last_status, summary=summary))
        self.closed = True
        self._file.close()


@dataclass(frozen=True)
class DaemonRecordingOptions:
    folder: Path
    limit_bytes: int = rec.DEFAULT_LIMIT_BYTES
    default_image: bytes | None = None
    """The daemon's configured start image, stored with ``default`` starts so that a replay has it."""


PENDING_LIMIT = 256
"""Records kept in memory before a session's first start; past it the oldest are dropped."""


class SessionRecorder:
    """One daemon session's recording. The file is made at the first start, so probes leave none behind."""

    def __init__(self, options: DaemonRecordingOptions, *, session: int, header: rec.Header,
                 clock: Callable[[], float]) -> None:
        self._options = options
        self._session = session
        self._header = header
        self._clock = clock
        self._origin = clock()
        self.writer: RecordingWriter | None = None
        self._pending: deque[rec.Record] = deque(maxlen=PENDING_LIMIT)
        self._failed = False
        self._events = rec.EventTimeline()
        self._world = 0
        self._last_state = ""
        self._last_status: dict | None = None

    def _t_us(self, now: float) -> int:
        return int((now - self._origin) * 1e6)

    def _write(self, record: rec.Record) -> None:
        if self.writer is None:
            self._pending.append(record)
        else:
            self.writer.write(record)

    def _open(self) -> bool:
        if self.writer is not None or self._failed:
            return not self._failed
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = self._options.folder / f"{stamp}-{self._session:08x}.ybr"
        try:
            self._options.folder.mkdir(parents=True, exist_ok=True)
            self.writer = RecordingWriter(path, limit_bytes=self._options.limit_bytes, clock=self._clock,
                                          origin=self._origin)
        except OSError as exc:
            log.error("cannot record session %08x to %s: %s", self._session, path, exc)
            self._failed = True
            return False
        log.info("recording session %08x to %s", self._session, path)
        self.writer.write(self._header)
        for record in self._pending:
            self.writer.write(record)
        self._pending.clear()
        return True

    def start(self, *, source: str, image: bytes | None, prompt: str, seed: int, now: float) -> None:
        if not self._open():
            return
        assert self.writer is not None
        self._world += 1
        if image is None and source == "default":
            image = self._options.default_image
        digest = self.writer.write_image(image) if image is not None else None
        self._write(rec.Start(t_us=self._t_us(now), world=self._world, source=source, seed=seed, prompt=prompt,
                              image_sha256=digest))

    def input(self, *, seq: int, axes: Axes, now: float) -> None:
        self._write(rec.Input(t_us=self._t_us(now), seq=seq, move=(axes.move_x, axes.move_y),
                              look=(axes.look_x, axes.look_y)))

    def event(self, *, event_id: int, events: tuple[str, ...], active: tuple[int, ...], chunk: int,
              now: float) -> None:
        text = events[active.index(event_id)] if event_id in active else ""
        self._events.change(event_id, text, chunk)
        self._write(rec.Event(t_us=self._t_us(now), id=event_id, text=text, chunk=chunk))

    def config(self, *, fps: float, quality: int, paused: bool, now: float) -> None:
        self._write(rec.Config(t_us=self._t_us(now), fps=fps, quality=quality, paused=paused))

    def chunk_begun(self, *, chunk: int, action: int, input_seq: int, first_frame: int, now: float) -> None:
        self._write(rec.Chunk(t_us=self._t_us(now), world=self._world, chunk=chunk, action=action,
                              input_seq=input_seq, first_frame=first_frame, events=self._events.events_for(chunk)))

    def status(self, *, state: str, chunk: int, action: int, latency: Latency, now: float) -> None:
        fields = {"state": state, "chunk": chunk, "action": action,
                  "latency": {name: round(getattr(latency, name), 3) for name in
                              ("queue_ms", "generate_ms", "encode_ms", "send_ms")}}
        self._last_status = fields
        if state != self._last_state:
            self._last_state = state
            self._write(rec.Status(t_us=self._t_us(now), fields=fields))

    def close(self, reason: str) -> None:
        if self.writer is not None:
            self.writer.close(reason=reason, last_status=self._last_status)


class DaemonRecorders:
    """``serve --record``: one SessionRecorder per open session, fed the protocol events the app has handled."""

    def __init__(self, options: DaemonRecordingOptions, *, spec: WorldSpec, config: BridgeConfig,
                 vocabulary_version: str, clock: Callable[[], float]) -> None:
        self.options = options
        self._spec = spec
        self._config = config
        self._vocabulary_version = vocabulary_version
        self._clock = clock
        self._sessions: dict[int, SessionRecorder] = {}

    def observe(self, event: object, *, inbox: ConditioningInbox | None, now: float) -> None:
        """Record ``event`` after the app applied it (``inbox``: its session's, for the chunk events apply to)."""
        match event:
            case SessionOpened(session=session, quality=quality):
                header = daemon_header(self._spec, self._config, quality=quality,
                                       vocabulary_version=self._vocabulary_version)
                self._sessions[session] = SessionRecorder(self.options, session=session, header=header,
                                                          clock=self._clock)
            case SessionClosed(session=session, reason=reason):
                if (recorder := self._sessions.pop(session, None)) is not None:
                    recorder.close(reason)
            case StartRequested(session=session, source=source, image=image, prompt=prompt, seed=seed):
                if (recorder := self._sessions.get(session)) is not None:
                    recorder.start(source=source.value, image=image, prompt=prompt, seed=seed, now=now)
            case InputReceived(session=session, seq=seq, axes=axes):
                if (recorder := self._sessions.get(session)) is not None:
                    recorder.input(seq=seq, axes=axes, now=now)
            case EventsChanged(session=session, event_id=event_id, events=events, active=active):
                if (recorder := self._sessions.get(session)) is not None and inbox is not None:
                    recorder.event(event_id=event_id, events=events, active=active, chunk=inbox.events_chunk,
                                   now=now)
            case ConfigChanged(session=session, fps=fps, quality=quality, paused=paused):
                if (recorder := self._sessions.get(session)) is not None:
                    recorder.config(fps=fps, quality=quality, paused=paused, now=now)

    def chunk_begun(self, session: int, **fields) -> None:
        if (recorder := self._sessions.get(session)) is not None:
            recorder.chunk_begun(**fields)

    def status(self, session: int, **fields) -> None:
        if (recorder := self._sessions.get(session)) is not None:
            recorder.status(**fields)

    def close_all(self, reason: str) -> None:
        for recorder in self._sessions.values():
            recorder.close(reason)
        self._sessions.clear()


def software_name() -> str:
    return f"yume-bridge {__version__}"


def daemon_header(spec: WorldSpec, config: BridgeConfig, *, quality: int, vocabulary_version: str) -> rec.Header:
    """The header of a recording the daemon makes: everything a replay needs to rebuild the same world."""
    backend = config.backend
    settings: dict = {"resolution": config.stream.resolution, "frames_per_chunk": spec.frames_per_chunk}
    if backend.name == "yume":
        settings |= {"steps": backend.steps, "shift": backend.shift, "device": backend.device,
                     "dtype": backend.dtype}
    return rec.Header(recorder="daemon", software=software_name(), created=utc_now_iso(),
                      daemon_version=__version__, backend=spec.backend, model=spec.model,
                      model_version=spec.model_version, width=spec.width, height=spec.height, fps=config.stream.fps,
                      frames_per_chunk=spec.frames_per_chunk, quality=quality,
                      vocabulary=config.actions.vocabulary, vocabulary_version=vocabulary_version,
                      speed=config.actions.speed, settings=settings)
