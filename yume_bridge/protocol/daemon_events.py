"""What the daemon endpoint tells the app (``DaemonEndpoint.next_event()``): one frozen dataclass per event."""

from __future__ import annotations

from dataclasses import dataclass

from yume_bridge.actions import Axes
from yume_bridge.protocol.paths import Address
from yume_bridge.protocol.wire import StartSource


@dataclass(frozen=True)
class SessionOpened:
    session: int
    address: Address
    client: str
    engine: str
    fps: float
    quality: int
    preempt: str = ""
    """The client's pre-emption wish: "", "off" or "latent" (others mean the daemon's default)."""


@dataclass(frozen=True)
class StartRequested:
    session: int
    ref: int
    source: StartSource
    image: bytes | None
    prompt: str
    seed: int


@dataclass(frozen=True)
class InputReceived:
    session: int
    seq: int
    axes: Axes
    chunk: int | None = None
    """Set when the input conditions exactly this chunk number (a replay), else None."""


@dataclass(frozen=True)
class EventsChanged:
    session: int
    ref: int
    event_id: int
    events: tuple[str, ...]
    active: tuple[int, ...]


@dataclass(frozen=True)
class ConfigChanged:
    session: int
    quality: int
    fps: float
    paused: bool
    preempt: str | None = None
    """A new pre-emption wish, None when the config did not say."""


@dataclass(frozen=True)
class SessionClosed:
    session: int
    reason: str

