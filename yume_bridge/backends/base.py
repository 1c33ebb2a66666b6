"""The one interface every world backend implements (preview, yume, ...).

A backend is loaded once and then opens one ``World`` per client session. The
daemon's generation thread is the only caller of everything here, so backends
need no locks of their own; they must not touch asyncio.
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
    "ProgressCallback",
    "StartRequest",
    "World",
    "WorldBackend",
    "WorldSpec",
]

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


class World(ABC):
    """One session's generated world: its history, its random stream."""

    @abstractmethod
    def generate_chunk(self, request: ChunkRequest) -> Iterator[np.ndarray]:
        """Yield the chunk's frames in order, each RGB uint8 (height, width, 3).

        Yield each frame as soon as it exists so that the daemon can encode and
        send it while later frames are still being made.
        """

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
