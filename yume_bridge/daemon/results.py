"""What the generation and decode threads tell the event loop: one frozen message per happening.

Posted with ``loop.call_soon_threadsafe``; the loop dispatches on the type.
"""

from __future__ import annotations

from dataclasses import dataclass

from yume_bridge.backends.base import ChunkTiming, latent_of_frame


@dataclass(frozen=True)
class Readiness:
    state: str
    progress: float
    message: str


@dataclass(frozen=True)
class ChunkTimes:
    """When a chunk was asked for and begun, and where its first frame's time went (on its frame 0)."""

    asked_at: float
    started_at: float
    timing: ChunkTiming | None
    encode_s: float


@dataclass(frozen=True)
class FrameReady:
    session: int
    world: int
    chunk: int
    frame_in_chunk: int
    last_in_chunk: bool
    jpeg: bytes
    input_seq: int
    action: int
    ready_at: float
    world_chunk: int = 0
    epoch: int = 0
    events_version: int = 0
    cost_s: float = 0.0
    """Generator time this frame took (since the previous frame of its chunk, or the chunk's start)."""
    times: ChunkTimes | None = None

    @property
    def latent(self) -> int:
        return latent_of_frame(self.frame_in_chunk)


@dataclass(frozen=True)
class ChunkSampled:
    """A chunk's latents are sampled and handed to the decode thread (a world that splits its chunks).

    The generation thread is free again: the loop may ask for the next chunk now, while this one decodes."""

    session: int
    world: int
    chunk: int
    epoch: int
    sample_s: float


@dataclass(frozen=True)
class ChunkDone:
    session: int
    world: int
    chunk: int
    queue_s: float
    generate_s: float
    encode_s: float
    epoch: int = 0
    cancelled: bool = False
    unreported_s: float = 0.0
    """Generator time after the last frame emitted (a cancelled chunk's unfinished tail)."""
    sampled_apart: bool = False
    """Decoded on the decode thread: its ``ChunkSampled`` already let the loop ask for the next chunk."""


@dataclass(frozen=True)
class ChunkSkipped:
    """A requested chunk was not made (its world was replaced or closed first): ask again if still wanted."""

    session: int
    world: int


@dataclass(frozen=True)
class SessionFailed:
    session: int
    world: int
    code: str
    message: str
    world_lost: bool = False
    """The session has no world any more (it never opened, or it stalled): the client must start again."""
    kept_world: int = 0
    """A new world failed to open and this one, which was running, goes on."""
