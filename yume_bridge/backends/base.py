"""The one interface every world backend implements (preview, yume, ...).

A backend is loaded once and then opens one ``World`` per client session. The
daemon's generation thread is the only caller of everything here, except
``World.decode_chunk`` of a world that splits its chunks: that runs on the
daemon's decode thread, beside the next ``sample_chunk``, ``rollback`` or
``close``, and must read nothing those change. Backends must not touch asyncio.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from yume_bridge.actions import Action

__all__ = [
    "BackendError",
    "ChunkRequest",
    "ChunkTiming",
    "ProgressCallback",
    "SampledChunk",
    "StartRequest",
    "World",
    "WorldBackend",
    "WorldSpec",
    "frames_for_latents",
    "latent_of_frame",
]

FRAMES_PER_LATENT = 4
"""Every latent after a chunk's first decodes to 4 frames; the first to 1 (model-reference.md §3)."""


def frames_for_latents(latents: int) -> int:
    """Frames that the first ``latents`` latents of a chunk decode to: 0, 1, 5, 9, … (4·n − 3)."""
    return 0 if latents <= 0 else 1 + FRAMES_PER_LATENT * (latents - 1)


def latent_of_frame(frame_in_chunk: int) -> int:
    """The latent (within its chunk) a frame was decoded from: frame 0 → 0, frames 1–4 → 1, 5–8 → 2, …"""
    return 0 if frame_in_chunk <= 0 else (frame_in_chunk + FRAMES_PER_LATENT - 1) // FRAMES_PER_LATENT

ProgressCallback = Callable[[str, float], None]
"""Called as ``progress(stage, fraction)`` while a backend loads; fraction in [0, 1]."""


class BackendError(Exception):
    """A backend could not do what was asked; the message is shown to the user as is."""


@dataclass(frozen=True)
class WorldSpec:
    """What a backend produces; reported to clients in the welcome message."""

    backend: str
    model: str
    model_version: str
    width: int
    height: int
    fps: float
    frames_per_chunk: int

    @property
    def chunk_seconds(self) -> float:
        return self.frames_per_chunk / self.fps

    @property
    def latents_per_chunk(self) -> int:
        """Latents per chunk, the last possibly partial for a frame count that is not 4·n − 3."""
        return latent_of_frame(self.frames_per_chunk - 1) + 1


@dataclass(frozen=True)
class StartRequest:
    """How a session's world begins: from an image, a text prompt, or both."""

    image: np.ndarray | None
    """RGB uint8 (H, W, 3), any size; the backend resizes it. None for a text start."""
    prompt: str
    """Scene description; may be empty when an image is given."""
    seed: int


@dataclass(frozen=True)
class ChunkRequest:
    """The conditioning of one chunk, sampled just before it is generated."""

    index: int
    """0 for the first chunk of a world."""
    action: Action
    events: tuple[str, ...]
    """Active event prompts, oldest first."""
    caption: str
    """The full text the model sees: action sentences, then the start prompt, then the events."""


@dataclass(frozen=True)
class ChunkTiming:
    """Where the time to a chunk's first frame went, as the backend saw it (seconds)."""

    sample_s: float = 0.0
    """Sampling the chunk's latents (all diffusion steps), before any decoding."""
    first_decode_s: float = 0.0
    """Decoding the first latent into the chunk's first frame."""


@dataclass(frozen=True)
class SampledChunk:
    """A chunk whose latents are sampled (and already part of its world's history) but not yet decoded."""

    request: ChunkRequest
    latents: object
    """The backend's own record of the chunk; only ``decode_chunk`` of the world that made it reads it."""
    sample_s: float
    """Seconds the sampling took."""


class World(ABC):
    """One session's generated world: its history, its random stream.

    A world that can be pre-empted keeps, for its last few chunks, enough state to
    forget everything after a given latent of a given chunk (``rollback``).
    """

    timing: ChunkTiming | None = None
    """Set by the backend once the first frame of the chunk being decoded exists (None when it cannot tell)."""

    splits_chunks: bool = False
    """True when the world offers ``sample_chunk`` and ``decode_chunk``: the daemon then decodes a chunk on a
    thread of its own while the next one is sampled, and frames are exactly those of ``generate_chunk``."""

    @abstractmethod
    def generate_chunk(self, request: ChunkRequest) -> Iterator[np.ndarray]:
        """Yield the chunk's frames in order, each RGB uint8 (height, width, 3).

        Yield each frame as soon as it exists so that the daemon can encode and
        send it while later frames are still being made.
        """

    def sample_chunk(self, request: ChunkRequest) -> SampledChunk:
        """The first half of ``generate_chunk``: sample the chunk and add it to the history, decode nothing."""
        raise BackendError(f"the {type(self).__name__} world does not split its chunks")

    def decode_chunk(self, chunk: SampledChunk) -> Iterator[np.ndarray]:
        """The second half: yield the frames of a chunk ``sample_chunk`` made, in order, each as soon as it exists.

        Called on another thread than the sampling (see the module's docstring), one chunk at a time, in the
        order the chunks were sampled.
        """
        raise BackendError(f"the {type(self).__name__} world does not split its chunks")

    def rollback(self, *, chunk: int, latents: int) -> None:
        """Forget everything after the first ``latents`` latents of world chunk ``chunk``.

        The next ``generate_chunk`` then continues from exactly that state, as if
        the forgotten latents had never been made. Raise BackendError when the
        chunk is too old to roll back to (worlds keep a few recent chunks only).
        """
        raise BackendError(f"the {type(self).__name__} world cannot be pre-empted")

    def prepare(self, captions: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Hint: these captions may be asked for soon (e.g. every action with a new event)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the world's state (GPU memory, history)."""


class WorldBackend(ABC):
    """A loaded generator that opens worlds."""

    spec: WorldSpec

    def load(self, progress: ProgressCallback) -> None:  # noqa: B027 - optional hook
        """Load weights; may take minutes. Called once on the generation thread."""

    def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Run one throw-away chunk so that the first client does not pay for compilation."""

    @abstractmethod
    def open_world(self, start: StartRequest) -> World:
        """Begin a new world; raise BackendError with a readable reason if it cannot."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release everything the backend holds."""
