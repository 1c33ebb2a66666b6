"""Recordings on the client side: ``client --record`` and reading a file back into per-world chunk plans.

The client learns what the daemon applied from every frame header (chunk,
action, newest input consumed) and from event acknowledgements (the first chunk
an event applies to), so a recording made here replays as exactly as one made
by ``serve --record``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from yume_bridge.actions import Action
from yume_bridge.daemon.recorder import RecordingWriter, software_name, utc_now_iso
from yume_bridge.protocol import recording as rec
from yume_bridge.protocol.client import (
    Connected,
    EventAcknowledged,
    FrameReceived,
    StatusReceived,
    WorldStarted,
)


class ClientRecorder:
    """Observes ``run_client`` (its ``observer``) and writes what it sees to a recording."""

    whole_chunks = True  # a replay plays every chunk whole: the recorded session must not be pre-empted

    def __init__(self, writer: RecordingWriter, *, image: bytes | None, prompt: str, frames: bool = False) -> None:
        self.writer = writer
        self._image = image
        self._prompt = prompt
        self._frames = frames
        self._events = rec.EventTimeline()
        self._sent_events: dict[int, str] = {}
        self._world = 0
        self._last_chunk = -1
        self._last_state = ""
        self.last_status: dict | None = None
        self._header_written = False

    # --- what run_client reports --------------------------------------------------------------

    def on_event(self, event: object, now: float) -> None:
        t_us = self.writer.t_us(now)
        match event:
            case Connected(welcome=welcome):
                self._last_chunk = -1  # a new session numbers its chunks from 0 again
                self._events.reset()
                if not self._header_written:
                    self._header_written = True
                    self.writer.write(_client_header(welcome))
            case WorldStarted(seed=seed):
                self._world += 1
                source = "image" if self._image is not None else ("text" if self._prompt else "default")
                digest = self.writer.write_image(self._image) if self._image is not None else None
                self.writer.write(rec.Start(t_us=t_us, world=self._world, source=source, seed=seed,
                                            prompt=self._prompt, image_sha256=digest))
            case FrameReceived(frame=frame):
                header = frame.header
                if header.chunk > self._last_chunk:
                    self._last_chunk = header.chunk
                    self.writer.write(rec.Chunk(t_us=t_us, world=self._world, chunk=header.chunk,
                                                action=header.action, input_seq=header.input_seq,
                                                first_frame=header.frame - header.frame_in_chunk,
                                                events=self._events.events_for(header.chunk)))
                if self._frames:
                    self.writer.write(rec.Frame(t_us=t_us, frame=header.frame, chunk=header.chunk,
                                                frame_in_chunk=header.frame_in_chunk, jpeg=frame.jpeg))
            case EventAcknowledged(event_id=event_id, chunk=chunk):
                text = self._sent_events.get(event_id, "")
                self._events.change(event_id, text, chunk)
                self.writer.write(rec.Event(t_us=t_us, id=event_id, text=text, chunk=chunk))
            case StatusReceived(status=status):
                fields = {"state": status.state, "chunk": status.chunk, "action": status.action,
                          "input_seq": status.input_seq, "fps": status.fps, "queue": status.queue,
                          "frames_sent": status.frames_sent, "message": status.message,
                          "latency": {name: getattr(status.latency, name)
                                      for name in ("queue_ms", "generate_ms", "encode_ms", "send_ms")}}
                self.last_status = fields
                if status.state != self._last_state:
                    self._last_state = status.state
                    self.writer.write(rec.Status(t_us=t_us, fields=fields))

    def on_input(self, seq: int, move: tuple[float, float], look: tuple[float, float], now: float) -> None:
        self.writer.write(rec.Input(t_us=self.writer.t_us(now), seq=seq, move=move, look=look))

    def on_event_sent(self, event_id: int, text: str, now: float) -> None:
        self._sent_events[event_id] = text

    def close(self, summary: dict | None = None, reason: str = "client") -> None:
        self.writer.close(reason=reason, last_status=self.last_status, summary=summary)


def _client_header(welcome) -> rec.Header:
    return rec.Header(recorder="client", software=software_name(), created=utc_now_iso(),
                      daemon_version=welcome.daemon_version, backend=welcome.backend, model=welcome.model,
                      model_version=welcome.model_version, width=welcome.width, height=welcome.height,
                      fps=welcome.fps, frames_per_chunk=welcome.frames_per_chunk, quality=welcome.quality,
                      vocabulary=welcome.vocabulary.name, vocabulary_version=welcome.vocabulary.version)


# --- reading -----------------------------------------------------------------------------------


def load_recording(path: Path, *, allow_truncated: bool = False) -> rec.Recording:
    """Read a recording file; RecordingError (one line) if it is not a usable one."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise rec.RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
    return rec.decode_recording(data, name=str(path), allow_truncated=allow_truncated)


@dataclass(frozen=True)
class ChunkPlan:
    """One chunk to generate again: its number as recorded, and its conditioning."""

    chunk: int
    action: Action
    events: tuple[str, ...]
    caption: str | None
    first_frame: int


@dataclass(frozen=True)
class WorldPlan:
    start: rec.Start
    image: bytes | None
    chunks: tuple[ChunkPlan, ...]


def plan_worlds(recording: rec.Recording) -> tuple[tuple[WorldPlan, ...], list[str]]:
    """The worlds of a recording, each with its chunks in order, and warnings about anything a replay cannot match.

    A chunk number that is missing (every frame of it was lost on the way to a
    client) ends that world's plan: what follows it could not come out the same.
    """
    images = {r.sha256: r.data for r in recording.of_type(rec.Image)}
    starts = {r.world: r for r in recording.of_type(rec.Start)}
    chunks: dict[int, list[rec.Chunk]] = {}
    for record in recording.of_type(rec.Chunk):
        chunks.setdefault(record.world, []).append(record)
    warnings: list[str] = []
    worlds = []
    for world, start in sorted(starts.items()):
        image = None
        if start.image_sha256 is not None:
            image = images.get(start.image_sha256)
            if image is None:
                warnings.append(f"world {world}: its start image is not in the recording; skipped")
                continue
        elif start.source == "default" and recording.header.recorder == "client":
            warnings.append(f"world {world} began from the daemon's default image, which a client cannot record; "
                            "the replay uses the built-in scene")
        plans = []
        for record in chunks.get(world, []):
            if plans and record.chunk != plans[-1].chunk + 1:
                warnings.append(f"world {world}: chunk {plans[-1].chunk + 1} is missing from the recording; "
                                f"the replay stops at chunk {plans[-1].chunk}")
                break
            plans.append(ChunkPlan(record.chunk, Action.from_id(record.action), tuple(record.events), record.caption,
                                   record.first_frame))
        worlds.append(WorldPlan(start, image, tuple(plans)))
    return tuple(worlds), warnings
