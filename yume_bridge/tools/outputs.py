"""What a client session or a replay leaves on disk: recordings, frame folders, MP4s — never over a file unasked.

``client_outputs`` wraps one ``run_client`` call; ``run_replay`` is the whole of
``yume-bridge replay``. Both check every target before any work starts, so a
refusal to overwrite costs nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from yume_bridge.daemon.recorder import RecordingWriter
from yume_bridge.protocol import recording as rec
from yume_bridge.protocol.client import FrameReceived
from yume_bridge.tools.client import ClientOptions
from yume_bridge.tools.export import (
    VideoOptions,
    VideoWriter,
    caption_lines,
    export_frame_folder,
    export_frames,
    frame_files,
    refuse_existing,
    require_video_support,
)
from yume_bridge.tools.recording import ClientRecorder, load_recording
from yume_bridge.tools.replay import BackendChoice, OfflineReplay, build_replay_backend, version_warnings
from yume_bridge.tools.replay_daemon import DaemonReplay, DaemonReplayOptions

VideoChoice = tuple[Path, bool, bool]
"""(path, full size, captions), as the command line gives them."""
Progress = Callable[[int, str], object]
"""``progress(length, label)`` → a context manager with ``update(n)`` (click.progressbar)."""


def refuse_frame_folder(folder: Path | None, force: bool) -> None:
    if folder is not None and not force and frame_files(folder):
        raise FileExistsError(f"{folder} already holds frames; choose another folder or pass --force to overwrite")


@dataclass
class ClientOutputs:
    client_options: ClientOptions
    observer: ClientRecorder | None
    video: VideoChoice | None
    recording: Path | None

    def finish(self, summary: dict, progress: Progress | None = None) -> None:
        """Close the recording, then export the video (with a progress bar when given one)."""
        if self.observer is not None:
            self.observer.close(summary)
        if self.video is None or self.client_options.output is None:
            return
        folder = self.client_options.output
        chunks = ()
        if self.recording is not None:
            chunks = tuple(load_recording(self.recording, allow_truncated=True).of_type(rec.Chunk))
        path, full_size, captions = self.video
        options = VideoOptions(fps=_header_fps(self.recording) or 16.0, full_size=full_size, captions=captions)
        count = len(frame_files(folder))
        if count == 0:
            return
        with (progress(count, f"writing {path.name}") if progress else nullcontext()) as bar:
            export_frame_folder(folder, path, options, chunks=chunks, force=True,
                                progress=bar.update if bar is not None else None)


def _header_fps(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return load_recording(path, allow_truncated=True).header.fps
    except rec.RecordingError:
        return None


@contextmanager
def client_outputs(options: ClientOptions, *, record: Path | None, record_frames: bool, video: VideoChoice | None,
                   force: bool) -> Iterator[ClientOutputs]:
    """Check the targets, open the recording; a video needs frames and a recording, kept in a temporary folder."""
    if video is not None:
        require_video_support()
        refuse_existing(video[0], force)
    refuse_frame_folder(options.output, force)
    with ExitStack() as stack:
        scratch = None
        if video is not None and (options.output is None or record is None):
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="yume-bridge-")))
            if options.output is None:
                options = dataclasses.replace(options, output=scratch / "frames")
        path = record if record is not None else (scratch / "session.ybr" if scratch is not None else None)
        observer = None
        if path is not None:
            writer = RecordingWriter(path, force=force or path.parent == scratch)
            observer = ClientRecorder(writer, image=options.image, prompt=options.prompt, frames=record_frames)
        yield ClientOutputs(options, observer, video, path)


@dataclass(frozen=True)
class ReplayRequest:
    recording: Path
    out: Path | None = None
    video: VideoChoice | None = None
    offline: bool = False
    host: str = "127.0.0.1"
    port: int = 47800
    token: str | None = None
    backend: str | None = None
    weights: Path | None = None
    device: str | None = None
    dtype: str | None = None
    force: bool = False


def _write_frame(folder: Path | None, number: int, jpeg: bytes) -> None:
    if folder is not None:
        (folder / f"frame_{number:06d}.jpg").write_bytes(jpeg)


def run_replay(request: ReplayRequest, *, warn: Callable[[str], None],
               progress: Progress | None = None) -> dict:
    """Replay a recording offline or through a daemon; returns a summary. Raises RecordingError, FileExistsError."""
    recording = load_recording(request.recording)
    if request.video is not None:
        require_video_support()
        refuse_existing(request.video[0], request.force)
    refuse_frame_folder(request.out, request.force)
    if request.out is not None:
        request.out.mkdir(parents=True, exist_ok=True)
    header = recording.header
    video_options = None
    if request.video is not None:
        video_options = VideoOptions(fps=header.fps, full_size=request.video[1], captions=request.video[2])
    if request.offline:
        return _replay_offline(request, recording, video_options, warn, progress)

    def on_frame(event: FrameReceived) -> None:
        _write_frame(request.out, event.frame.header.frame, event.frame.jpeg)

    replay = DaemonReplay(recording, DaemonReplayOptions(host=request.host, port=request.port, token=request.token),
                          on_frame=on_frame)
    frames = asyncio.run(replay.run())
    for line in replay.warnings:
        warn(line)
    if video_options is not None and frames:
        assert request.video is not None
        with (progress(len(frames), f"writing {request.video[0].name}") if progress else nullcontext()) as bar:
            export_frames(sorted(frames.items()), request.video[0], video_options,
                          chunks=tuple(recording.of_type(rec.Chunk)), force=True,
                          progress=bar.update if bar is not None else None)
    return {"frames": len(frames), "worlds": len(replay.worlds), "chunks": sum(len(w.chunks) for w in replay.worlds),
            "through": f"{request.host}:{request.port}", "warnings": replay.warnings,
            "video": str(request.video[0]) if request.video else None}


def _replay_offline(request: ReplayRequest, recording: rec.Recording, video_options: VideoOptions | None,
                    warn: Callable[[str], None], progress: Progress | None) -> dict:
    backend = build_replay_backend(recording.header, BackendChoice(backend=request.backend, weights=request.weights,
                                                                   device=request.device, dtype=request.dtype))
    backend.load(lambda stage, fraction: None)
    replay = OfflineReplay(recording, backend)
    warnings = version_warnings(recording.header, backend.spec) + replay.warnings
    for line in warnings:
        warn(line)
    count = 0
    with ExitStack() as stack:
        writer = None
        if video_options is not None:
            assert request.video is not None
            writer = stack.enter_context(VideoWriter(request.video[0], video_options, force=True))
        bar = stack.enter_context(progress(replay.frame_count, "replaying")) if progress else None
        for frame in replay.frames():
            _write_frame(request.out, frame.frame, frame.jpeg)
            if writer is not None:
                writer.add_jpeg(frame.jpeg, caption_lines(frame.plan.action, frame.plan.events))
            count += 1
            if bar is not None:
                bar.update(1)
    backend.close()
    return {"frames": count, "worlds": len(replay.worlds), "chunks": sum(len(w.chunks) for w in replay.worlds),
            "through": "offline", "warnings": warnings,
            "video": str(request.video[0]) if request.video else None}
