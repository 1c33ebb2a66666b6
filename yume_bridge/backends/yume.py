"""The Yume1.5 5B world model as a backend: load the published folder, open worlds, stream chunks.

Each world is a ``pipeline.Session`` (latent history + seeded noise stream);
captions become T5 states through one shared ``TextEmbeddingCache``, which
``World.prepare`` fills in the background so that an action change never waits
for the text encoder mid-session. See docs/model.md for the model-side choices.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from yume_bridge.actions import Action, CaptionTemplates
from yume_bridge.backends.base import (
    BackendError,
    ChunkRequest,
    ChunkTiming,
    ProgressCallback,
    SampledChunk,
    StartRequest,
    World,
    WorldBackend,
    WorldSpec,
    frames_for_latents,
)
from yume_bridge.model import layout
from yume_bridge.model.attention import AttentionBackend
from yume_bridge.model.dit import DitOptions
from yume_bridge.model.loader import LoadError, LoadOptions, YumeModels, load_models
from yume_bridge.model.overlap import DecodeStream, HandedOver, hand_over
from yume_bridge.model.parallel_launch import ParallelLaunch, SequenceParallelRanks, follow_under_torchrun
from yume_bridge.model.pipeline import (
    SUPPORTED_RESOLUTIONS,
    TEXT_START_RESOLUTIONS,
    ChunkProfile,
    GenerationOptions,
    Session,
    parse_resolution,
)
from yume_bridge.model.pipeline import SampledChunk as PipelineChunk
from yume_bridge.model.sampler import DEFAULT_SHIFT, DEFAULT_STEPS
from yume_bridge.model.text import TextEmbeddingCache
from yume_bridge.model.tscm import DEFAULT_MAX_HISTORY_LATENTS

__all__ = ["YumeBackend", "YumeBackendConfig", "YumeWorld"]

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32, "float64": torch.float64}
MODEL_NAME = "Yume1.5-5B"
FRAMES_PER_CHUNK = 29
"""8 latents → 1 + 4·7 frames (model-reference.md §3)."""


def _dtype(name: str, what: str) -> torch.dtype:
    try:
        return _DTYPES[name]
    except KeyError:
        raise ValueError(f"{what} must be one of {sorted(_DTYPES)}, got {name!r}") from None


@dataclass(frozen=True)
class YumeBackendConfig:
    """Everything the Yume backend needs; built once from the CLI/TOML configuration."""

    weights: Path
    """The Yume-5B-720P folder (see ``yume-bridge check-weights``)."""
    resolution: str = "544x960"
    """"544x960" or "704x1280" (height x width)."""
    steps: int = DEFAULT_STEPS
    shift: float = DEFAULT_SHIFT
    device: str = "auto"
    """"auto" (CUDA when available, else CPU), "cuda", "cuda:N" or "cpu"."""
    dtype: str = "bfloat16"
    """DiT compute dtype; norms, modulation, RoPE and the head run in fp32/fp64 regardless."""
    vae_dtype: str = "auto"
    """"auto": bfloat16 on CUDA (what the reference web demo runs; ≈1.7× faster), float32 on the CPU (the
    reference's own sampler). The bf16 error against fp32 is printed by benchmarks/gpu_oneshot.py."""
    decoder: str = "full"
    """"full": the Wan2.2 VAE decoder; "tiny": the TAEHV taew2_2 decoder (≈50× cheaper, softer; docs/model.md)."""
    tiny_decoder: Path | None = None
    """The taew2_2 file for decoder="tiny"; None = taew2_2.safetensors or taew2_2.pth in ``weights``."""
    vae_device: str | None = None
    """Where the VAE (or the tiny decoder) decodes; None = ``device``. Another GPU pipelines the decode of a
    chunk with the next chunk's DiT on two devices (docs/scaling.md)."""
    overlap: bool = True
    """Decode a chunk on a thread (and CUDA stream) of its own while the next chunk is sampled. Lossless: the
    frames are the same; off runs sample and decode one after the other on the generation thread."""
    text_device: str | None = None
    """Where umT5 runs; None = ``device``. "cpu" saves 11 GB of GPU memory at the cost of slow new captions."""
    text_dtype: str = "bfloat16"
    rope_dtype: str = "float32"
    """RoPE rotation precision; "float64" is the reference's; float32 differs by ~1e-7 (docs/model.md)."""
    compile: bool | None = None
    """torch.compile the DiT blocks (during warm-up); None = on for CUDA, off on CPU."""
    attention: str = "auto"
    """Attention kernel: "auto" (fastest that runs: FA3, cuDNN, flash, efficient, maths) or one by name."""
    fp8: bool = False
    """Float8 row-wise linear layers in the DiT blocks (torchao; CUDA compute capability ≥ 8.9)."""
    sequence_parallel: int = 1
    """Ranks the DiT is split over (Ulysses; a divisor of its 24 heads): ranks 1..N−1 are spawned on the
    next devices after ``device``, or started by torchrun (docs/scaling.md)."""
    text_cache_size: int = 256
    """Captions kept in the embedding LRU (81 actions × a few event sets)."""
    max_history_latents: int = DEFAULT_MAX_HISTORY_LATENTS
    """History bound: the oldest latents (except the first) are dropped past this (docs/model.md)."""
    fps: float = 16.0
    """Playback rate reported to clients; the model was trained and demoed at 16 fps."""
    latents_per_chunk: int = 8
    """Latents predicted per chunk: the model was trained on 8; fewer answer sooner (docs/latency.md)."""
    allow_any_resolution: bool = False
    """Accept any HxW (multiples of 32) and text starts at any size: for tests and experiments."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", Path(self.weights))
        height, width = parse_resolution(self.resolution)
        if not self.allow_any_resolution and (height, width) not in SUPPORTED_RESOLUTIONS.values():
            raise ValueError(f"resolution must be one of {sorted(SUPPORTED_RESOLUTIONS)}, got {self.resolution!r}")
        GenerationOptions(self.steps, self.shift, self.max_history_latents, self.latents_per_chunk)  # validates
        for name in ("dtype", "text_dtype", "rope_dtype"):
            _dtype(getattr(self, name), name)
        for name in ("device", "vae_device", "text_device"):
            _check_device_name(getattr(self, name), name)
        if self.vae_dtype != "auto":
            _dtype(self.vae_dtype, "vae_dtype")
        if self.decoder not in ("full", "tiny"):
            raise ValueError(f"decoder must be 'full' or 'tiny', got {self.decoder!r}")
        if self.tiny_decoder is not None:
            object.__setattr__(self, "tiny_decoder", Path(self.tiny_decoder))
        if self.rope_dtype not in ("float32", "float64"):
            raise ValueError(f"rope_dtype must be float32 or float64, got {self.rope_dtype!r}")
        try:
            AttentionBackend(self.attention)
        except ValueError:
            choices = sorted(b.value for b in AttentionBackend)
            raise ValueError(f"attention must be one of {choices}, got {self.attention!r}") from None
        if self.sequence_parallel < 1:
            raise ValueError(f"sequence_parallel must be >= 1, got {self.sequence_parallel}")
        if self.text_cache_size < 1:
            raise ValueError(f"text_cache_size must be >= 1, got {self.text_cache_size}")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return parse_resolution(self.resolution)


def _vae_dtype(name: str, device: str) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return _dtype(name, "vae_dtype")


def _check_device_name(name: str | None, what: str) -> None:
    """A device string torch understands (or "auto"); whether that device exists is checked when loading."""
    if name is None or name == "auto":
        return
    try:
        torch.device(name)
    except RuntimeError:
        raise ValueError(f"{what}: unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None


def _resolve_device(name: str, flag: str = "--device") -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BackendError(f"{flag}: unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BackendError(f"{flag} {name} was asked for but CUDA is not available; use cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise BackendError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                           f"numbered from cuda:0")
    return name


def _fingerprint(folder: Path) -> str:
    """A short id of the checkpoint from its safetensors header (no tensor data is read)."""
    try:
        with (folder / layout.DIT).open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = f.read(min(length, 100_000_000))
        config = (folder / layout.CONFIG).read_bytes()
    except (OSError, struct.error):
        return "unknown"
    return hashlib.sha256(header + config).hexdigest()[:12]


class YumeWorld(World):
    """One session of the Yume backend."""

    def __init__(self, backend: YumeBackend, session: Session) -> None:
        self._backend = backend
        self._session: Session | None = session
        self._decoding: ChunkProfile | None = None
        """The profile of the chunk being decoded (set on the thread that decodes it)."""

    @property
    def session(self) -> Session:
        if self._session is None:
            raise BackendError("this world is closed")
        return self._session

    @property
    def timing(self) -> ChunkTiming | None:
        profile = self._decoding
        if profile is None or not profile.decode_s:
            return None
        return ChunkTiming(sample_s=profile.prepare_s + sum(profile.step_s), first_decode_s=profile.decode_s[0])

    @property
    def splits_chunks(self) -> bool:
        return self._backend.config.overlap

    def generate_chunk(self, request: ChunkRequest) -> Iterator[np.ndarray]:
        session = self.session  # a closed world fails here, not at first frame
        sampled = self._sampled(session, request.caption)
        return self._decoded(sampled, session.decode_chunk(sampled))

    def sample_chunk(self, request: ChunkRequest) -> SampledChunk:
        session = self.session
        started = time.perf_counter()
        handed = hand_over(self._sampled(session, request.caption))
        return SampledChunk(request, handed, time.perf_counter() - started)

    def decode_chunk(self, chunk: SampledChunk) -> Iterator[np.ndarray]:
        handed = chunk.latents
        if not isinstance(handed, HandedOver):
            raise BackendError("this chunk was not sampled by a Yume world")
        return self._decoded(handed.sampled, self._backend.decode_stream().frames(self.session, handed))

    def rollback(self, *, chunk: int, latents: int) -> None:
        try:
            self.session.rollback(chunk, latents)
        except ValueError as exc:
            raise BackendError(str(exc)) from None

    def _sampled(self, session: Session, caption: str) -> PipelineChunk:
        with _out_of_memory_explained():
            return session.sample_chunk(self._backend.texts.get(caption))

    def _decoded(self, sampled: PipelineChunk, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        self._decoding = sampled.profile  # what ``timing`` reports from the first frame on
        with _out_of_memory_explained():
            yield from frames

    def prepare(self, captions: Sequence[str]) -> None:
        self._backend.texts.prepare(captions)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


class YumeBackend(WorldBackend):
    """The published Yume-5B-720P checkpoint, TSCM history, 4-step Euler sampling."""

    def __init__(self, config: YumeBackendConfig) -> None:
        self.config = config
        self.height, self.width = config.size
        self.options = GenerationOptions(config.steps, config.shift, config.max_history_latents,
                                         config.latents_per_chunk)
        self.spec = WorldSpec(
            backend="yume",
            model=MODEL_NAME,
            model_version=_fingerprint(config.weights),
            width=self.width,
            height=self.height,
            fps=config.fps,
            frames_per_chunk=frames_for_latents(config.latents_per_chunk),
        )
        self.models: YumeModels | None = None
        self._texts: TextEmbeddingCache | None = None
        self._ranks: SequenceParallelRanks | None = None
        self._decode_stream: DecodeStream | None = None

    @property
    def texts(self) -> TextEmbeddingCache:
        if self._texts is None:
            raise BackendError("the Yume backend is not loaded")
        return self._texts

    def decode_stream(self) -> DecodeStream:
        """The decode thread's CUDA stream on the decode device (made on first use; one decode thread per backend)."""
        if self.models is None:
            raise BackendError("the Yume backend is not loaded")
        if self._decode_stream is None:
            self._decode_stream = DecodeStream(self.models.decode_device)
        return self._decode_stream

    def load_options(self) -> LoadOptions:
        """How this configuration loads the models (devices resolved: BackendError for one that is absent)."""
        config = self.config
        device = _resolve_device(config.device)
        vae_device = _resolve_device(config.vae_device, "--vae-device") if config.vae_device else device
        text_device = _resolve_device(config.text_device, "text_device") if config.text_device else device
        return LoadOptions(
            device=device,
            dtype=_dtype(config.dtype, "dtype"),
            vae_dtype=_vae_dtype(config.vae_dtype, vae_device),
            vae_device=vae_device,
            text_device=text_device,
            text_dtype=_dtype(config.text_dtype, "text_dtype"),
            dit_options=DitOptions(
                compile=device.startswith("cuda") if config.compile is None else config.compile,
                attention=AttentionBackend(config.attention),
                rope_dtype=_dtype(config.rope_dtype, "rope_dtype"),
                fp8=config.fp8,
            ),
            decoder=config.decoder,
            tiny_decoder=config.tiny_decoder,
        )

    def load(self, progress: ProgressCallback) -> None:
        config = self.config
        options = self.load_options()
        device = options.device
        if device.startswith("cuda"):
            torch.backends.cudnn.benchmark = True  # the VAE's conv shapes are fixed per resolution
        try:
            models = self._load_models(options, progress)
        except LoadError as exc:
            raise BackendError(
                f"weights folder {exc.folder} is not usable (run `yume-bridge check-weights {exc.folder}`):\n  "
                + "\n  ".join(exc.problems)
            ) from None
        except torch.cuda.OutOfMemoryError:
            raise BackendError(f"out of GPU memory while loading the model onto {device}") from None
        if models.args.frames_per_chunk != FRAMES_PER_CHUNK:
            raise BackendError(f"this model makes {models.args.frames_per_chunk} frames per chunk, not 29")
        self.models = models
        self._texts = TextEmbeddingCache(models.text, capacity=config.text_cache_size)
        self.spec = replace(self.spec, model=_model_name(models))

    def _load_models(self, options: LoadOptions, progress: ProgressCallback) -> YumeModels:
        """All models here; with sequence parallelism the other ranks load their DiT meanwhile."""
        if self.config.sequence_parallel == 1:
            return load_models(self.config.weights, options, progress)
        ranks = SequenceParallelRanks.start(self.parallel_launch(options))
        try:
            models = load_models(self.config.weights, options, progress)
        except BaseException:
            ranks.close()
            raise
        try:
            ranks.attach(models.dit)  # closes the group itself when it fails
        except RuntimeError as exc:
            raise BackendError(str(exc)) from None
        self._ranks = ranks
        return models

    def parallel_launch(self, options: LoadOptions) -> ParallelLaunch:
        """What every sequence-parallel rank needs to load the same DiT as this one."""
        return ParallelLaunch(self.config.weights, options, self.config.sequence_parallel, torch.get_num_threads())

    def follow(self) -> None:
        """Under torchrun, ranks > 0: hold the DiT and run rank 0's forwards until rank 0 stops."""
        follow_under_torchrun(self.parallel_launch(self.load_options()))

    def warm_up(self) -> None:
        """One image-start chunk, and a text-start DiT step when compiled: every compile happens here."""
        caption = CaptionTemplates.load("camera").caption(Action())
        grey = np.full((self.height, self.width, 3), 128, dtype=np.uint8)
        world = self.open_world(StartRequest(image=grey, prompt="", seed=0))
        try:
            for _ in world.generate_chunk(ChunkRequest(index=0, action=Action(), events=(), caption=caption)):
                pass
        finally:
            world.close()
        if self.models is not None and self.models.dit.options.compile:
            self._warm_up_text_start(self.texts.get(caption))

    @torch.inference_mode()
    def _warm_up_text_start(self, text_states: torch.Tensor) -> None:
        """The plain path (no history) is a graph of its own: compile it now, not in a text-start session."""
        dit = self.models.dit
        scale = self.models.args.pixels_per_latent
        latent_shape = (self.models.args.predicted_latents, self.height // scale, self.width // scale)
        inputs = dit.prepare(text_states[None], latent_shape)
        noise = torch.zeros((1, dit.args.in_dim, *latent_shape), device=self.models.device)
        dit(noise, torch.tensor([1000.0], device=self.models.device), inputs)

    def open_world(self, start: StartRequest) -> World:
        if self.models is None:
            raise BackendError("the Yume backend is not loaded")
        size = (self.height, self.width)
        if start.image is None:
            if size not in TEXT_START_RESOLUTIONS and not self.config.allow_any_resolution:
                raise BackendError(
                    f"a text start needs 704x1280 (the model only makes text-only first chunks at that size); "
                    f"this daemon runs at {self.config.resolution}: send a start image"
                )
            if not start.prompt.strip():
                raise BackendError("a text start needs a prompt describing the scene")
        session = Session(self.models, height=self.height, width=self.width, seed=start.seed % 2**64,
                          options=self.options)
        if start.image is not None:
            try:
                session.start_from_image(start.image)
            except ValueError as exc:
                raise BackendError(str(exc)) from None
            except torch.cuda.OutOfMemoryError:
                raise BackendError("out of GPU memory while encoding the start image") from None
        return YumeWorld(self, session)

    def close(self) -> None:
        if self._texts is not None:
            self._texts.close()
            self._texts = None
        if self._ranks is not None:
            self._ranks.close()
            self._ranks = None
        self.models = None
        self._decode_stream = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@contextlib.contextmanager
def _out_of_memory_explained() -> Iterator[None]:
    try:
        yield
    except torch.cuda.OutOfMemoryError:
        raise BackendError(
            "out of GPU memory while generating; use 544x960, text_device='cpu', --vae-device or a larger GPU"
        ) from None


def _model_name(models: YumeModels) -> str:
    return MODEL_NAME if models.args.name == "yume-5b" else f"{MODEL_NAME} ({models.args.name})"

