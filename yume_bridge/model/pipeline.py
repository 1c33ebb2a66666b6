"""One world's chunk loop: image or text start, then TSCM chunks of 8 latents decoded to 29 frames.

Image start (model-reference.md §5.3): the image is resized straight to the output
size, repeated 17 times and VAE-encoded into 5 clean history latents. Text
start (§5.4): the first chunk runs the plain path with no history. Every chunk
then samples 8 latents with Euler flow matching over [history | noise],
appends them to the history (bounded, see ``tscm.bounded_history_indices``) and
decodes them latent by latent, so the first frame leaves before the last latent
is decoded.

Pre-emption: the session remembers, for its last ``ROLLBACK_CHUNKS`` chunks, the
history before the chunk and the chunk's latents, so that ``rollback(chunk,
latents)`` can make the history exactly what it would have been had that chunk
produced only its first ``latents`` latents. Noise is drawn per chunk from
(seed, chunk index), so the chunk after a rollback gets the same noise as in a
session that never made the forgotten latents.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from yume_bridge.model.dit import HistoryEmbeddingCache
from yume_bridge.model.loader import YumeModels
from yume_bridge.model.sampler import DEFAULT_SHIFT, DEFAULT_STEPS, euler_sample, sigma_schedule
from yume_bridge.model.taehv import TinyStreamingDecoder
from yume_bridge.model.text import pad_text_states
from yume_bridge.model.tscm import DEFAULT_MAX_HISTORY_LATENTS, MAX_SCHEDULED_HISTORY, bounded_history_indices
from yume_bridge.model.vae import StreamingDecoder

__all__ = [
    "IMAGE_START_FRAMES",
    "ROLLBACK_CHUNKS",
    "SUPPORTED_RESOLUTIONS",
    "TEXT_START_RESOLUTIONS",
    "ChunkProfile",
    "GenerationOptions",
    "HostFrames",
    "SampledChunk",
    "Session",
    "image_to_clip",
    "parse_resolution",
]

SUPPORTED_RESOLUTIONS: dict[str, tuple[int, int]] = {"544x960": (544, 960), "704x1280": (704, 1280)}
"""(height, width) the published model runs at (§5.1)."""

TEXT_START_RESOLUTIONS = frozenset({(704, 1280)})
"""The reference only ever generates a text-only first chunk at 704×1280 (§5.4)."""

IMAGE_START_FRAMES = 17
"""The start image is repeated into 17 frames → 5 latents (§5.3)."""

ROLLBACK_CHUNKS = 4
"""Chunks a session can roll back into: the one shown, and up to three made ahead of it. Each keeps a reference to
the history before it (≤ 1,016 latents, ≈ 199 MB in bf16 at 544×960), so this bounds the extra memory."""


def parse_resolution(text: str) -> tuple[int, int]:
    """'704x1280' → (704, 1280); height and width must be positive multiples of 32."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"resolution must look like 704x1280 (height x width), got {text!r}") from None
    if height <= 0 or width <= 0 or height % 32 or width % 32:
        raise ValueError(f"resolution {text!r}: height and width must be positive multiples of 32")
    return height, width


@dataclass(frozen=True)
class GenerationOptions:
    steps: int = DEFAULT_STEPS
    shift: float = DEFAULT_SHIFT
    max_history_latents: int = DEFAULT_MAX_HISTORY_LATENTS
    latents_per_chunk: int | None = None
    """Latents predicted per chunk; None = the model's own (8). Fewer is allowed (docs/latency.md)."""

    def __post_init__(self) -> None:
        if self.latents_per_chunk is not None and not 1 <= self.latents_per_chunk <= 8:
            raise ValueError(f"latents_per_chunk must be in 1..8 (the model predicts at most 8), "
                             f"got {self.latents_per_chunk}")
        if not 1 <= self.steps <= 1000:
            raise ValueError(f"steps must be in 1..1000, got {self.steps}")
        if not self.shift > 0:
            raise ValueError(f"shift must be > 0, got {self.shift}")
        if not 2 <= self.max_history_latents <= MAX_SCHEDULED_HISTORY:
            raise ValueError(
                f"max_history_latents must be in 2..{MAX_SCHEDULED_HISTORY}, got {self.max_history_latents}"
            )


@dataclass(frozen=True)
class _ChunkRecord:
    """What a rollback into one chunk needs (references to tensors the session made anyway)."""

    index: int
    history_before: torch.Tensor | None
    latents: torch.Tensor  # [1, z, F, h, w], the chunk's clean latents in the DiT dtype


def chunk_noise_seed(seed: int, index: int) -> int:
    """The noise seed of chunk ``index`` of a world started with ``seed`` (independent of earlier chunks)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "little") >> 1


@dataclass
class ChunkProfile:
    """Where one chunk's time went (seconds; device-synchronised only when profiling)."""

    history_latents: int = 0
    history_tokens: int = 0
    sequence_tokens: int = 0
    rope_frames: int = 0
    prepare_s: float = 0.0
    step_s: list[float] = field(default_factory=list)
    decode_s: list[float] = field(default_factory=list)
    first_frame_s: float = 0.0
    total_s: float = 0.0


def image_to_clip(image: np.ndarray, height: int, width: int) -> torch.Tensor:
    """An RGB(A)/grey uint8 image → [1, 3, 17, height, width] in [−1, 1], resized bilinearly, no crop."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("the start image must be a uint8 numpy array")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise ValueError(f"the start image must be (H, W, 3) RGB, got shape {image.shape}")
    pixels = torch.from_numpy(np.array(image, dtype=np.float32))  # [H, W, C]
    if pixels.shape[2] == 1:
        pixels = pixels.expand(-1, -1, 3)
    elif pixels.shape[2] == 4:
        pixels = pixels[:, :, :3] * (pixels[:, :, 3:] / 255.0)  # composite RGBA on black
    pixels = pixels.permute(2, 0, 1).unsqueeze(0)  # [1, 3, H, W]
    if pixels.shape[2:] != (height, width):
        pixels = F.interpolate(pixels, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    pixels = (pixels / 127.5 - 1.0).clamp(-1.0, 1.0)
    return pixels.unsqueeze(2).expand(-1, -1, IMAGE_START_FRAMES, -1, -1)  # [1, 3, 17, H, W]


class HostFrames:
    """One latent's frames on their way to the host as [n, H, W, 3] uint8.

    The conversion runs on the device; on CUDA the copy goes asynchronously into
    pinned memory, so the generation thread can queue the next latent's decode
    before it waits for these frames (``wait``).
    """

    def __init__(self, video: torch.Tensor) -> None:
        frames = ((video[0].float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)  # [3, n, H, W]
        frames = frames.permute(1, 2, 3, 0)  # [n, H, W, 3]
        self._ready: torch.cuda.Event | None = None
        if frames.is_cuda:
            self._host = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
            self._host.copy_(frames.contiguous(), non_blocking=True)  # one device-side reorder, then the DMA
            self._ready = torch.cuda.Event()
            self._ready.record()
        else:
            self._host = frames.contiguous()  # C-contiguous for JPEG

    @property
    def on_device(self) -> bool:
        return self._ready is not None

    def wait(self) -> np.ndarray:
        if self._ready is not None:
            self._ready.synchronize()
        return self._host.numpy()


@dataclass(frozen=True)
class SampledChunk:
    """A chunk's 8 clean latents, not yet decoded; ``decode_chunk`` turns them into frames."""

    latents: torch.Tensor
    """[1, z, 8, h, w]"""
    profile: ChunkProfile
    started_at: float
    """``time.perf_counter()`` when the chunk began (for its first-frame time)."""


class Session:
    """One world: its latent history, its random stream, its chunk counter."""

    def __init__(
        self,
        models: YumeModels,
        *,
        height: int,
        width: int,
        seed: int,
        options: GenerationOptions | None = None,
        profile: bool = False,
    ) -> None:
        scale = models.args.pixels_per_latent
        if height % (2 * scale) or width % (2 * scale):
            raise ValueError(f"{height}x{width}: height and width must be multiples of {2 * scale}")
        self.models = models
        self.height, self.width = height, width
        self.options = options or GenerationOptions()
        predicted = self.options.latents_per_chunk or models.args.predicted_latents
        self.latent_shape = (predicted, height // scale, width // scale)
        self.sigmas = sigma_schedule(self.options.steps, self.options.shift)
        self.seed = seed
        self.history: torch.Tensor | None = None
        """Clean latents [1, z, N, h, w] in the DiT dtype, oldest first."""
        self._history_cache = HistoryEmbeddingCache()
        self._history_ids: list[int] = []
        """One id per history latent, for the embedding cache; valid while ``history`` is ``_ids_history``."""
        self._ids_history: torch.Tensor | None = None
        self._next_latent_id = 0
        self.chunks_generated = 0
        self._records: deque[_ChunkRecord] = deque(maxlen=ROLLBACK_CHUNKS)
        self.current_profile: ChunkProfile | None = None
        """The chunk being generated (filled as it goes); ``last_profile`` once it is done."""
        self.profile_enabled = profile
        self.last_profile: ChunkProfile | None = None
        self._closed = False

    @classmethod
    def from_history(cls, models: YumeModels, history: torch.Tensor, *, chunks_generated: int, height: int,
                     width: int, seed: int, options: GenerationOptions | None = None) -> Session:
        """A session that continues from saved clean latents [1, z, N, h, w], as chunk ``chunks_generated``."""
        session = cls(models, height=height, width=width, seed=seed, options=options)
        expected = (1, models.args.vae.z_dim, session.latent_shape[1], session.latent_shape[2])
        if history.ndim != 5 or (history.shape[0], history.shape[1], *history.shape[3:]) != expected:
            raise ValueError(f"history must be [1, {expected[1]}, N, {expected[2]}, {expected[3]}], "
                             f"got {tuple(history.shape)}")
        session.history = history.to(models.dit.patch_embedding.weight.dtype)
        session.chunks_generated = chunks_generated
        return session

    def rollback(self, chunk: int, latents: int) -> None:
        """Make the history what it would be had chunk ``chunk`` produced only its first ``latents`` latents.

        Every later chunk is forgotten; the next chunk generated is number ``chunk + 1``.
        """
        record = next((r for r in self._records if r.index == chunk), None)
        if record is None:
            raise ValueError(f"chunk {chunk} is not among the last {ROLLBACK_CHUNKS} chunks of this session")
        if not 0 <= latents <= record.latents.shape[2]:
            raise ValueError(f"chunk {chunk} has {record.latents.shape[2]} latents, cannot keep {latents}")
        while self._records and self._records[-1].index > chunk:
            self._records.pop()
        self._records.pop()
        if latents == 0:
            self.history = record.history_before
        else:
            self.history = self._append(record.history_before, record.latents[:, :, :latents])
            self._records.append(_ChunkRecord(chunk, record.history_before, record.latents[:, :, :latents]))
        self.chunks_generated = chunk + 1 if latents else chunk

    def _append(self, history: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
        joined = new if history is None else torch.cat([history, new], dim=2)
        keep = bounded_history_indices(joined.shape[2], self.options.max_history_latents)
        return joined if keep is None else joined[:, :, keep]

    @property
    def num_history_latents(self) -> int:
        return 0 if self.history is None else self.history.shape[2]

    def _sync(self) -> float:
        if self.profile_enabled and self.models.device.type == "cuda":
            torch.cuda.synchronize(self.models.device)
        return time.perf_counter()

    @torch.inference_mode()
    def start_from_image(self, image: np.ndarray) -> None:
        """Encode the start image into the first 5 history latents."""
        if self.history is not None:
            raise RuntimeError("this session has already started")
        clip = image_to_clip(image, self.height, self.width)
        latents = self.models.vae.encode(clip)  # [1, z, 5, h, w], on the VAE's device
        self.history = latents.to(device=self.models.device, dtype=self.models.dit.patch_embedding.weight.dtype)

    @torch.inference_mode()
    def _sample(self, text_states: torch.Tensor, profile: ChunkProfile) -> torch.Tensor:
        dit = self.models.dit
        start = self._sync()
        context = pad_text_states(text_states, dit.args.text_len)  # [1, 512, text_dim]
        inputs = dit.prepare(context, self.latent_shape, self.history, **self._history_cache_arguments())
        # Noise comes from a CPU generator: the same seed gives the same noise on any device.
        generator = torch.Generator(device="cpu").manual_seed(chunk_noise_seed(self.seed, self.chunks_generated))
        noise = torch.randn((1, dit.args.in_dim, *self.latent_shape), generator=generator, dtype=torch.float32)
        noise = noise.to(self.models.device)
        profile.history_latents = self.num_history_latents
        profile.history_tokens = inputs.num_history_tokens
        profile.sequence_tokens = inputs.num_history_tokens + inputs.grid[0] * inputs.grid[1] * inputs.grid[2]
        profile.rope_frames = inputs.rope_frames
        last = self._sync()
        profile.prepare_s = last - start

        def on_step(_: int) -> None:
            nonlocal last
            now = self._sync()
            profile.step_s.append(now - last)
            last = now

        latents = euler_sample(lambda x, t: dit(x, t, inputs), noise, self.sigmas, on_step)  # [1, z, 8, h, w]
        new = latents.to(dit.patch_embedding.weight.dtype)
        self._records.append(_ChunkRecord(self.chunks_generated, self.history, new))
        history = new if self.history is None else torch.cat([self.history, new], dim=2)
        keep = bounded_history_indices(history.shape[2], self.options.max_history_latents)
        self.history = history if keep is None else history[:, :, keep]
        self._track_history_ids(new.shape[2], keep)
        return latents

    def _new_latent_ids(self, count: int) -> list[int]:
        self._next_latent_id += count
        return list(range(self._next_latent_id - count, self._next_latent_id))

    def _history_cache_arguments(self) -> dict[str, object]:
        """``prepare``'s cache arguments; a history replaced from outside starts the cache afresh."""
        if self.history is None or not self.models.dit.options.cache_history:
            return {}
        if self.history is not self._ids_history:
            self._history_cache.clear()
            self._history_ids = self._new_latent_ids(self.history.shape[2])
            self._ids_history = self.history
        return {"history_cache": self._history_cache, "history_ids": self._history_ids}

    def _track_history_ids(self, appended: int, keep: list[int] | None) -> None:
        if self._ids_history is None:
            return  # no cache in use yet: ids are assigned when one is
        ids = self._history_ids + self._new_latent_ids(appended)
        self._history_ids = ids if keep is None else [ids[i] for i in keep]
        self._ids_history = self.history

    @torch.inference_mode()
    def _start_decoder(self, latents: torch.Tensor) -> StreamingDecoder | TinyStreamingDecoder:
        device = self.models.decode_device
        latents = latents.to(device, non_blocking=device.type == "cuda")  # the VAE may sit on another device
        if self.models.tiny_decoder is not None:
            return TinyStreamingDecoder(self.models.tiny_decoder, latents)
        return StreamingDecoder(self.models.vae, latents)

    @torch.inference_mode()
    def _decode_next(self, decoder: StreamingDecoder | TinyStreamingDecoder) -> HostFrames:
        return HostFrames(decoder.decode_next())

    def sample_chunk(self, text_states: torch.Tensor) -> SampledChunk:
        """Sample the next 8 latents under ``text_states`` [L, text_dim] and add them to the history."""
        if self._closed:
            raise RuntimeError("this session is closed")
        profile = self.current_profile = ChunkProfile()
        start = time.perf_counter()
        latents = self._sample(text_states, profile)
        self.chunks_generated += 1
        return SampledChunk(latents, profile, start)

    def decode_chunk(self, chunk: SampledChunk) -> Iterator[np.ndarray]:
        """Yield the chunk's 29 RGB uint8 frames, latent by latent.

        On CUDA the next latent's decode is queued before waiting for the current
        latent's frames (pinned asynchronous copies); on the CPU that would only
        delay the first frame, so there each latent is decoded when it is asked for.
        """
        profile = chunk.profile
        decoder = self._start_decoder(chunk.latents)
        pending: HostFrames | None = None
        while decoder.remaining or pending is not None:
            begin = self._sync()
            current = pending if pending is not None else self._decode_next(decoder)
            pending = self._decode_next(decoder) if current.on_device and decoder.remaining else None
            frames = current.wait()
            end = time.perf_counter()
            profile.decode_s.append(end - begin)
            if len(profile.decode_s) == 1:
                profile.first_frame_s = end - chunk.started_at
            yield from frames
        profile.total_s = time.perf_counter() - chunk.started_at
        self.last_profile = profile

    def generate_chunk(self, text_states: torch.Tensor) -> Iterator[np.ndarray]:
        """Sample the next 8 latents under ``text_states`` [L, text_dim]; yield 29 RGB uint8 frames."""
        if self._closed:
            raise RuntimeError("this session is closed")
        yield from self.decode_chunk(self.sample_chunk(text_states))

    def close(self) -> None:
        self.history = None
        self._records.clear()
        self._history_cache.clear()
        self._ids_history = None
        self._closed = True
