"""The preview world: a walkable view of one picture, on any CPU, with no weights.

It stands in for the model so that plugins can be developed, tested and shown
without a GPU: the start image (or, for a text start, a scene drawn from the
prompt) is reprojected by a camera that follows the applied actions — W/S move
in and out, A/D strafe, arrows pan and tilt — and each event prompt is drawn as
a caption, so a plugin developer sees inputs and events arrive. Chunks have the
real model's length and cadence and, with a ``SimulatedGenerator``, its timing:
the first frame after the time to first frame, then one latent (4 frames) per
decode step, so that latency can be designed and measured on any CPU.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from yume_bridge.actions import Action
from yume_bridge.backends.base import (
    BackendError,
    ChunkRequest,
    ChunkTiming,
    SampledChunk,
    StartRequest,
    World,
    WorldBackend,
    WorldSpec,
    frames_for_latents,
)
from yume_bridge.config import SimulatedGenerator

# Camera speeds per frame, in output pixels or zoom factor.
PAN_PX = 7.0
TILT_PX = 3.0
STRAFE_PX = 5.0
ZOOM_STEP = 1.012
MIN_ZOOM, MAX_ZOOM = 0.6, 6.0
OVERSCAN = 1.3  # the source is this much larger than the view, so pans reveal new content
ROLLBACK_CHUNKS = 4
"""Chunk starts remembered for pre-emption; older ones are forgotten (a cut always concerns a recent chunk)."""


@dataclass(frozen=True)
class _Camera:
    x: float
    y: float
    zoom: float


@dataclass(frozen=True)
class _ChunkStart:
    """What a rollback into this chunk needs: the camera before it and the action it applied."""

    index: int
    camera: _Camera
    action: Action


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Mirror-tile indices into [0, size): the picture continues as its reflection."""
    period = 2 * size
    index = np.mod(index, period)
    return np.where(index >= size, period - 1 - index, index)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


@dataclass(frozen=True)
class _Overlay:
    """A pre-rendered caption band blended onto every frame of a chunk."""

    top: int
    pixels: np.ndarray  # (h, W, 3) uint16, premultiplied by alpha
    inverse_alpha: np.ndarray  # (h, W, 1) uint16, 256 - alpha

    def apply(self, frame: np.ndarray) -> None:
        region = frame[self.top:self.top + self.pixels.shape[0]]
        region[:] = ((region.astype(np.uint16) * self.inverse_alpha + self.pixels) >> 8).astype(np.uint8)


def _render_band(lines: list[str], width: int, top: int, font_size: int, color: tuple[int, int, int]) -> _Overlay:
    font = _font(font_size)
    height = (font_size + 8) * len(lines) + 8
    band = Image.new("RGBA", (width, height), (0, 0, 0, 150))
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        draw.text((12, 6 + i * (font_size + 8)), line, fill=(*color, 255), font=font)
    rgba = np.asarray(band).astype(np.uint16)
    alpha = rgba[..., 3:4]
    return _Overlay(top, rgba[..., :3] * alpha, 256 - alpha)


def draw_scene(prompt: str, seed: int, width: int, height: int) -> np.ndarray:
    """A procedural landscape whose colours and skyline follow the prompt and seed."""
    digest = hashlib.sha256(f"{seed}:{prompt}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    sky_top = np.array([digest[8] % 80, 60 + digest[9] % 100, 140 + digest[10] % 110], dtype=np.float32)
    sky_low = np.array([200 + digest[11] % 55, 150 + digest[12] % 80, 120 + digest[13] % 100], dtype=np.float32)
    ground = np.array([40 + digest[14] % 80, 70 + digest[15] % 90, 30 + digest[16] % 60], dtype=np.float32)
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    horizon = int(height * 0.58)
    image = (sky_top * (1 - rows) + sky_low * rows) * np.ones((1, width, 1), np.float32)
    x = np.arange(width, dtype=np.float32)
    # A skyline of three mountain ranges and some towers, periodic in x so panning wraps smoothly.
    for layer, shade in ((0, 0.55), (1, 0.7), (2, 0.85)):
        phase = rng.uniform(0, 2 * math.pi, size=3)
        ridge = sum(np.sin(2 * math.pi * (k + 1 + layer) * x / width + phase[k]) / (k + 1) for k in range(3))
        top = (horizon - height * (0.10 + 0.06 * layer) - ridge * height * 0.05).astype(int)
        # Only the rows between the highest peak and the horizon can change (the ground covers the rest).
        first = max(int(top.min()), 0)
        band = image[first:horizon]
        mask = (np.arange(first, horizon)[:, None] >= top[None, :])[..., None]
        band[:] = np.where(mask, band * 0.3 + ground * shade * 0.7, band)
    for _ in range(int(rng.integers(3, 8))):
        left = int(rng.integers(0, width - 40))
        tower_w = int(rng.integers(12, 40))
        tower_top = int(horizon - rng.integers(height // 8, height // 3))
        image[tower_top:horizon, left:left + tower_w] = ground * 0.4
    # The ground, with a grid so that moving forward is visible.
    depth = np.maximum(np.arange(height - horizon, dtype=np.float32), 1.0)[:, None]
    stripes = ((x[None, :] - width / 2) / depth * 8).astype(int) % 2 ^ (np.log(depth) * 6).astype(int) % 2
    image[horizon:] = ground * (0.7 + 0.3 * stripes[..., None])
    return np.clip(image, 0, 255).astype(np.uint8)


class _StallDrill:
    """Hangs once, on the n-th chunk made by the whole backend, as a wedged GPU would (fault drills)."""

    def __init__(self, at: int, seconds: float) -> None:
        self.at = at
        self.seconds = seconds
        self.chunks = 0

    def maybe_hang(self) -> None:
        self.chunks += 1
        if self.chunks == self.at:
            time.sleep(self.seconds)


class PreviewWorld(World):
    def __init__(self, picture: np.ndarray, spec: WorldSpec, caption: str, fail_every: int,
                 stall: _StallDrill | None = None, simulate: SimulatedGenerator | None = None,
                 overlap: bool = True) -> None:
        self.stall = stall
        self.overlap = overlap
        self.spec = spec
        self.picture = picture
        self.caption = caption
        self.fail_every = fail_every
        self.simulate = simulate
        self.camera = _Camera(picture.shape[1] / 2, picture.shape[0] / 2, 1.0)
        self.chunks = 0
        self._starts: deque[_ChunkStart] = deque(maxlen=ROLLBACK_CHUNKS)

    def _step(self, action: Action) -> None:
        camera = self.camera
        x = camera.x + (action.yaw * PAN_PX + action.strafe * STRAFE_PX) / camera.zoom
        y = min(max(camera.y - action.pitch * TILT_PX / camera.zoom, 0.0), float(self.picture.shape[0]))
        zoom = min(max(camera.zoom * ZOOM_STEP ** action.forward, MIN_ZOOM), MAX_ZOOM)
        self.camera = _Camera(x, y, zoom)

    def _view(self, camera: _Camera) -> np.ndarray:
        height, width = self.spec.height, self.spec.width
        rows = np.round(camera.y + (np.arange(height) - height / 2) / camera.zoom).astype(np.intp)
        cols = np.round(camera.x + (np.arange(width) - width / 2) / camera.zoom).astype(np.intp)
        rows = _reflect(rows, self.picture.shape[0])
        cols = _reflect(cols, self.picture.shape[1])
        return self.picture.take(rows, axis=0).take(cols, axis=1)

    def rollback(self, *, chunk: int, latents: int) -> None:
        start = next((s for s in self._starts if s.index == chunk), None)
        if start is None:
            raise BackendError(f"chunk {chunk} is too old to roll back to (the preview keeps {ROLLBACK_CHUNKS})")
        while self._starts and self._starts[-1].index > chunk:
            self._starts.pop()
        self.camera = start.camera
        for _ in range(min(frames_for_latents(latents), self.spec.frames_per_chunk)):
            self._step(start.action)

    @property
    def splits_chunks(self) -> bool:
        """A simulated generator splits like the model: sampling, then decoding beside the next chunk's sampling."""
        return self.simulate is not None and self.overlap

    def generate_chunk(self, request: ChunkRequest) -> Iterator[np.ndarray]:
        self._begin(request)
        return self._frames(request, self._walk(request), time.monotonic())

    def sample_chunk(self, request: ChunkRequest) -> SampledChunk:
        assert self.simulate is not None
        began = time.monotonic()
        self._begin(request)
        cameras = list(self._walk(request))
        self._wait_until(began + self.simulate.sample_s)
        return SampledChunk(request, cameras, time.monotonic() - began)

    def decode_chunk(self, chunk: SampledChunk) -> Iterator[np.ndarray]:
        assert self.simulate is not None
        return self._frames(chunk.request, iter(chunk.latents), time.monotonic() - self.simulate.sample_s,
                            sample_s=chunk.sample_s)

    def _begin(self, request: ChunkRequest) -> None:
        self.chunks += 1
        if self.fail_every and self.chunks % self.fail_every == 0:
            raise BackendError(f"simulated generator failure on chunk {request.index} (--fail-every)")
        if self.stall is not None:
            self.stall.maybe_hang()

    def _walk(self, request: ChunkRequest) -> Iterator[_Camera]:
        """Move the camera through the chunk (the world's history), frame by frame as they are read."""
        self._starts.append(_ChunkStart(request.index, self.camera, request.action))
        for _ in range(self.spec.frames_per_chunk):
            self._step(request.action)
            yield self.camera

    def _frames(self, request: ChunkRequest, cameras: Iterator[_Camera], began: float,
                sample_s: float | None = None) -> Iterator[np.ndarray]:
        """Draw the chunk's frames latent by latent; with a simulated generator, each latent when it is due."""
        self.timing = None
        width = self.spec.width
        action = request.action
        label = f"chunk {request.index}   move {action.movement.label}   look {action.look.label}   (preview world)"
        hud = _render_band([label], width, self.spec.height - 34, 18, (255, 255, 255))
        events = [f"EVENT: {text}" for text in request.events[-3:]] or ([self.caption] if self.caption else [])
        captions = _render_band(events, width, 0, 22, (255, 230, 120)) if events else None
        for latent in itertools.count():
            batch = []
            for camera in itertools.islice(cameras, frames_for_latents(latent + 1) - frames_for_latents(latent)):
                frame = self._view(camera)
                if captions is not None:
                    captions.apply(frame)
                hud.apply(frame)
                batch.append(frame)
            if not batch:
                return
            if self.simulate is not None:
                self._wait_until(began + self.simulate.ttff_s + latent * self.simulate.latent_s)
            if latent == 0:
                self.timing = self._first_frame_timing(began, sample_s)
            yield from batch

    @staticmethod
    def _wait_until(due: float) -> None:
        """Hold on until the simulated model would be done (the real model's time, emulated)."""
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _first_frame_timing(self, began: float, sample_s: float | None) -> ChunkTiming:
        elapsed = time.monotonic() - began
        if sample_s is not None:  # sampled apart: the decode began when the sampling's share of ``began`` ended
            return ChunkTiming(sample_s=sample_s, first_decode_s=elapsed - self.simulate.sample_s)
        decode = elapsed if self.simulate is None else min(self.simulate.latent_s, elapsed)
        return ChunkTiming(sample_s=elapsed - decode, first_decode_s=decode)


class PreviewBackend(WorldBackend):
    def __init__(self, *, spec: WorldSpec, default_image: np.ndarray | None = None, fail_every: int = 0,
                 stall_at: int = 0, stall_seconds: float = 60.0, simulate: SimulatedGenerator | None = None,
                 overlap: bool = True) -> None:
        self.spec = spec
        self.simulate = simulate
        self.overlap = overlap
        self.default_image = default_image
        self.fail_every = fail_every
        self.stall = _StallDrill(stall_at, stall_seconds)

    def _fit(self, image: np.ndarray) -> np.ndarray:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise BackendError("start image must be RGB uint8")
        height = int(self.spec.height * OVERSCAN)
        width = max(int(image.shape[1] * height / image.shape[0]), int(self.spec.width * OVERSCAN))
        return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))

    def open_world(self, start: StartRequest) -> World:
        image = start.image if start.image is not None else self.default_image
        if image is not None:
            picture = self._fit(image)
        else:
            picture = draw_scene(start.prompt, start.seed, self.spec.width * 3, int(self.spec.height * OVERSCAN))
        return PreviewWorld(picture, self.spec, start.prompt.strip()[:120], self.fail_every, self.stall,
                            self.simulate, self.overlap)
