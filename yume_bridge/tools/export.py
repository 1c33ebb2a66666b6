"""H.264 MP4 export of a stream through PyAV (FFmpeg comes in its wheels): frames, optional captions, a fixed fps.

Frames are written at the stream's fps, one video frame per stream frame; a
frame lost on the network repeats the previous one so that time stays true.
Half size by default (an MP4 to attach or share), ``full_size`` for the stream's
own resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image, ImageDraw, ImageFont

from yume_bridge.actions import Action
from yume_bridge.protocol import recording as rec


class OutputExists(FileExistsError):
    """The output exists and overwriting was not asked for."""


def refuse_existing(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise OutputExists(f"{path} exists; choose another name or pass --force to overwrite it")


def require_video_support():
    """The ``av`` module, or a RuntimeError that says how to install it."""
    try:
        import av
    except ImportError:
        raise RuntimeError("video export needs PyAV: pip install 'yume-bridge[video]'") from None
    return av


@dataclass(frozen=True)
class VideoOptions:
    fps: float
    full_size: bool = False
    captions: bool = False
    """Burn the applied action and the active events into each frame."""
    crf: int = 20
    """x264 constant rate factor: lower is better and larger (18–28 is the useful range)."""


def caption_lines(action: Action, events: Sequence[str]) -> tuple[str, ...]:
    return (f"move {action.movement.label}   look {action.look.label}",  # words: the font has no arrows
            *(f"event: {text}" for text in events))


@lru_cache(maxsize=64)
def _band(lines: tuple[str, ...], width: int, font_size: int) -> tuple[np.ndarray, np.ndarray]:
    """A translucent caption band (premultiplied RGB, 256 − alpha), cached per text."""
    try:
        font = ImageFont.load_default(size=font_size)
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    line_height = font_size + 6
    band = Image.new("RGBA", (width, line_height * len(lines) + 8), (0, 0, 0, 160))
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        draw.text((8, 4 + i * line_height), line, fill=(255, 255, 255, 255), font=font)
    rgba = np.asarray(band).astype(np.uint16)
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha, 256 - alpha


def burn_caption(frame: np.ndarray, lines: tuple[str, ...]) -> np.ndarray:
    """The frame with ``lines`` in a band along its bottom edge (a new array)."""
    height, width = frame.shape[:2]
    pixels, inverse_alpha = _band(lines, width, max(10, height // 28))
    out = frame.copy()
    band_height = min(pixels.shape[0], height)
    region = out[height - band_height:]
    region[:] = ((region.astype(np.uint16) * inverse_alpha[-band_height:] + pixels[-band_height:]) >> 8).astype(
        np.uint8)
    return out


class VideoWriter:
    """An MP4 being written; ``add`` frames in order, then ``close`` (or use it as a context manager)."""

    def __init__(self, path: Path, options: VideoOptions, *, force: bool = False) -> None:
        av = require_video_support()
        self.path = Path(path)
        refuse_existing(self.path, force)
        self.options = options
        self._av = av
        self._container = av.open(str(self.path), mode="w")
        self._stream = None
        self.frames_written = 0

    def _open_stream(self, width: int, height: int) -> None:
        rate = Fraction(self.options.fps).limit_denominator(1001)
        stream = self._container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.options.crf), "preset": "veryfast"}
        self._stream = stream

    def add(self, frame: np.ndarray, lines: tuple[str, ...] = ()) -> None:
        """One RGB uint8 frame (H, W, 3); ``lines`` are burned in when captions were asked for."""
        if not self.options.full_size:
            frame = np.asarray(Image.fromarray(frame).reduce(2))
        frame = frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2]  # yuv420p needs even sizes
        if self.options.captions and lines:
            frame = burn_caption(frame, lines)
        if self._stream is None:
            self._open_stream(frame.shape[1], frame.shape[0])
        elif (frame.shape[1], frame.shape[0]) != (self._stream.width, self._stream.height):
            raise ValueError(f"frame of {frame.shape[1]}x{frame.shape[0]} in a {self._stream.width}x"
                             f"{self._stream.height} video")
        video_frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        video_frame.pts = self.frames_written
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def add_jpeg(self, jpeg: bytes, lines: tuple[str, ...] = ()) -> None:
        self.add(simplejpeg.decode_jpeg(jpeg, colorspace="RGB"), lines)

    def close(self) -> None:
        if self._container is None:
            return
        if self._stream is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        self._container.close()
        self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def export_frames(frames: Iterable[tuple[int, bytes]], path: Path, options: VideoOptions, *,
                  chunks: Sequence[rec.Chunk] = (), force: bool = False,
                  progress: Callable[[int], None] | None = None) -> int:
    """(frame number, JPEG) pairs in order → MP4; returns the video frames written.

    ``chunks`` (from a recording of the same session) give the captions: each
    frame takes the action and events of the chunk it belongs to. A frame
    number skipped (a frame lost on the network) repeats the previous frame.
    """
    starts = sorted((c.first_frame, c) for c in chunks if c.first_frame >= 0)
    with VideoWriter(path, options, force=force) as writer:
        previous_number = None
        for number, jpeg in frames:
            owner = next((c for first, c in reversed(starts) if first <= number), None)
            lines = caption_lines(Action.from_id(owner.action), owner.events) if owner is not None else ()
            image = simplejpeg.decode_jpeg(jpeg, colorspace="RGB")
            repeats = 1 if previous_number is None else max(1, number - previous_number)
            for _ in range(repeats):
                writer.add(image, lines)
            previous_number = number
            if progress is not None:
                progress(1)
        if writer.frames_written == 0:
            raise ValueError("there are no frames to export")
        return writer.frames_written


def frame_files(folder: Path) -> list[tuple[int, Path]]:
    """``frame_NNNNNN.jpg`` files (as ``client --out`` and ``replay --out`` write them), by frame number."""
    return sorted((int(p.stem.split("_")[1]), p) for p in Path(folder).glob("frame_*.jpg"))


def export_frame_folder(folder: Path, path: Path, options: VideoOptions, *, chunks: Sequence[rec.Chunk] = (),
                        force: bool = False, progress: Callable[[int], None] | None = None) -> int:
    files = frame_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no frame_*.jpg files to export")
    return export_frames(((n, p.read_bytes()) for n, p in files), path, options, chunks=chunks, force=force,
                         progress=progress)
