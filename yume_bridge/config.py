"""Frozen configuration: the only home of the daemon's defaults.

CLI flags and an optional TOML file become one ``BridgeConfig`` at start-up;
everything below receives the part it needs through keyword-only constructors.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from yume_bridge.protocol.wire import DEFAULT_PORT, Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RESOLUTIONS = {"544x960": (544, 960), "704x1280": (704, 1280)}


class ConfigError(ValueError):
    """A setting is wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class NetworkConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    advertise: bool | None = None  # None: on when bound beyond loopback
    max_datagram: int = 65000

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def advertise_enabled(self) -> bool:
        return (not self.loopback) if self.advertise is None else self.advertise


@dataclass(frozen=True)
class StreamConfig:
    fps: float = 16.0
    max_quality: int = 95
    """Highest JPEG quality a client may ask for (clients ask 85 unless they say otherwise)."""
    frames_per_chunk: int = 29
    resolution: str = "544x960"
    start_margin_s: float = 0.15
    """Extra lead with which a chunk is started before playback would run dry."""

    @property
    def height(self) -> int:
        return RESOLUTIONS[self.resolution][0]

    @property
    def width(self) -> int:
        return RESOLUTIONS[self.resolution][1]


@dataclass(frozen=True)
class ActionConfig:
    vocabulary: str = "camera"
    speed: bool = False
    press: float = 0.5
    release: float = 0.3


@dataclass(frozen=True)
class BackendConfig:
    name: str = "preview"
    image: Path | None = None
    weights: Path | None = None
    device: str = "auto"
    dtype: str = "bfloat16"
    steps: int = 4
    shift: float = 7.0
    stall_timeout: float = 30.0
    """Seconds a chunk may make no progress before the watchdog gives up on it."""
    fail_every: int = 0
    """preview only: fail every n-th chunk of a world (fault drills)."""
    stall_at: int = 0
    """preview only: hang once, on the n-th chunk the backend makes (fault drills)."""
    stall_seconds: float = 60.0
    compile: bool | None = None
    """yume only: torch.compile the DiT blocks during warm-up; None = on for CUDA, off on CPU."""
    attention: str = "auto"
    """yume only: attention kernel (auto, cudnn, fa3, flash, efficient, math, default)."""
    fp8: bool = False
    """yume only: float8 linear layers in the DiT (torchao, CUDA compute capability ≥ 8.9)."""


@dataclass(frozen=True)
class BridgeConfig:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    actions: ActionConfig = field(default_factory=ActionConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    limits: Limits = field(default_factory=Limits)
    log_level: str = "info"
    log_format: str = "text"

    def __post_init__(self) -> None:
        if self.stream.resolution not in RESOLUTIONS:
            raise ConfigError(f"resolution must be one of {sorted(RESOLUTIONS)}, got {self.stream.resolution!r}")
        if not 1 <= self.stream.fps <= 240:
            raise ConfigError(f"fps must be within 1..240, got {self.stream.fps}")
        if not 1 <= self.stream.max_quality <= 100:
            raise ConfigError(f"max quality must be within 1..100, got {self.stream.max_quality}")
        if not 0 < self.network.port < 65536 and self.network.port != 0:
            raise ConfigError(f"port must be within 1..65535 (or 0 for any), got {self.network.port}")
        if not self.network.loopback and not self.network.token:
            raise ConfigError("binding beyond loopback needs a token (--token or --token-file)")
        if self.backend.name not in ("preview", "yume"):
            raise ConfigError(f"backend must be preview or yume, got {self.backend.name!r}")
        if self.backend.name == "yume" and self.backend.weights is None:
            raise ConfigError("the yume backend needs --weights DIR (the Yume-5B-720P folder)")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file into flat option names (as the CLI spells them, with underscores)."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update({k.replace("-", "_"): v for k, v in value.items()})
        else:
            flat[key.replace("-", "_")] = value
    return flat


def with_limits(config: BridgeConfig, **changes: Any) -> BridgeConfig:
    known = {f.name for f in fields(Limits)}
    unknown = set(changes) - known
    if unknown:
        raise ConfigError(f"unknown limits {sorted(unknown)}")
    return replace(config, limits=replace(config.limits, **changes))
