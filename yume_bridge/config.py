"""Frozen configuration: the only home of the daemon's defaults.

CLI flags and an optional TOML file become one ``BridgeConfig`` at start-up;
everything below receives the part it needs through keyword-only constructors.
"""

from __future__ import annotations

import difflib
import ipaddress
import sys
from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from yume_bridge.protocol.wire import DEFAULT_PORT, Limits

DEFAULT_WEB_PORT = DEFAULT_PORT + 1

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RESOLUTIONS = {"544x960": (544, 960), "704x1280": (704, 1280)}
MAX_LATENTS_PER_CHUNK = 8
"""The published model predicts 8 latents per chunk; fewer is allowed (docs/latency.md), more is not."""
PREEMPT_POLICIES = ("auto", "latent", "off")


class ConfigError(ValueError):
    """A setting is wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class SimulatedGenerator:
    """The real model's timing, emulated by the preview world so latency can be designed on any CPU.

    A chunk's first frame exists ``ttff_s`` after its generation starts (sampling
    every latent plus decoding the first); each later latent's 4 frames follow
    ``latent_s`` apart (one decode step each).
    """

    ttff_s: float
    latent_s: float

    PRESETS = {
        # performance.md, H200 time model: the goal profile (FP8, tiny VAE decoder), chunk 0: 0.30 s to the
        # first frame, 29 frames at 89 fps in all.
        "h200": (0.30, (29 / 89 - 0.30) / 7),
        # bf16 tuned with the full VAE, chunk 0: 0.46 s to the first frame, 23.8 fps.
        "h200-bf16": (0.46, (29 / 23.8 - 0.46) / 7),
        # the code as of the time model's writing, chunk 0: 0.79 s, 13.9 fps.
        "h200-eager": (0.79, (29 / 13.9 - 0.79) / 7),
    }

    @property
    def sample_s(self) -> float:
        """The share of the time to first frame spent sampling; the rest decodes the first latent."""
        return max(self.ttff_s - self.latent_s, 0.0)

    def __post_init__(self) -> None:
        if not (0 <= self.ttff_s <= 60 and 0 <= self.latent_s <= 60):
            raise ConfigError(f"simulated times must be within 0..60 s, got ttff={self.ttff_s} latent={self.latent_s}")

    @classmethod
    def for_speed(cls, *, ttff_s: float, speed: float, latents_per_chunk: int, fps: float) -> SimulatedGenerator:
        """A chunk made ``speed`` times faster than it plays, its first frame after ``ttff_s``."""
        if not speed > 0:
            raise ConfigError(f"simulated speed must be > 0, got {speed}")
        chunk_s = (1 + 4 * (latents_per_chunk - 1)) / fps / speed
        return cls(ttff_s, max(0.0, chunk_s - ttff_s) / max(1, latents_per_chunk - 1))

    @classmethod
    def parse(cls, text: str, *, latents_per_chunk: int, fps: float) -> SimulatedGenerator:
        """``h200`` (a preset), ``ttff=0.3,speed=1.5`` (× real time) or ``ttff=0.3,latent=0.04`` (seconds)."""
        if text in cls.PRESETS:
            return cls(*cls.PRESETS[text])
        try:
            fields_ = dict(part.split("=", 1) for part in text.replace(" ", "").split(",") if part)
            values = {key: float(value.rstrip("sx")) for key, value in fields_.items()}
        except ValueError:
            values = {}
        if set(values) == {"ttff", "speed"}:
            return cls.for_speed(ttff_s=values["ttff"], speed=values["speed"], latents_per_chunk=latents_per_chunk,
                                 fps=fps)
        if set(values) == {"ttff", "latent"}:
            return cls(values["ttff"], values["latent"])
        raise ConfigError(f"--simulate {text!r}: use a preset ({', '.join(cls.PRESETS)}), ttff=SECONDS,speed=X "
                          "or ttff=SECONDS,latent=SECONDS")


@dataclass(frozen=True)
class NetworkConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    advertise: bool | None = None  # None: on when bound beyond loopback
    max_datagram: int = 65000
    sessions_per_host: int | None = None
    """Sessions one remote machine may hold; None: all of them on loopback, half (at least one) elsewhere."""

    def host_share(self, max_sessions: int) -> int | None:
        if self.sessions_per_host is not None:
            return self.sessions_per_host
        return None if self.loopback else max(1, max_sessions // 2)

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
class WebConfig:
    """The browser studio: HTTP and WebSocket on the daemon's host (``--web``, ``--web-port``)."""

    enabled: bool = False
    """Library default off; ``yume-bridge serve`` turns it on at loopback (see ``web_default``)."""
    port: int = DEFAULT_WEB_PORT
    max_queued_frame_bytes: int = 4 * 1024 * 1024
    """Frame bytes waiting for one slow browser; beyond this its oldest waiting frames are dropped whole."""
    max_queued_control: int = 1024
    """Control messages waiting for one browser; a peer that lets more pile up is disconnected."""


def web_default(network: NetworkConfig, requested: bool | None) -> bool:
    """``--web/--no-web`` when given, else on at loopback only: off loopback the studio is opt-in."""
    return network.loopback if requested is None else requested


@dataclass(frozen=True)
class StreamConfig:
    fps: float = 16.0
    max_quality: int = 95
    """Highest JPEG quality a client may ask for (clients ask 85 unless they say otherwise)."""
    latents_per_chunk: int = 8
    """Latents per chunk (the published model: 8); fewer answer sooner, see docs/latency.md."""
    frames_per_chunk: int | None = None
    """Preview only: any frame count; None = what the latents decode to (4·latents − 3)."""
    resolution: str = "544x960"
    start_margin_s: float = 0.15
    """Extra lead with which a chunk is started before playback would run dry."""

    preempt: str = "auto"
    """``latent``: cut a chunk at the next latent boundary when the action changes; ``off``; ``auto``: on
    when generation is faster than playback."""

    @property
    def chunk_frames(self) -> int:
        return self.frames_per_chunk or 1 + 4 * (self.latents_per_chunk - 1)

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
    devices: tuple[str, ...] = ()
    """One generation worker per device (``cuda:0``, ``cuda:1``, ... or ``all``); empty: one, on ``device``."""
    dtype: str = "bfloat16"
    vae_dtype: str = "auto"
    """yume: VAE dtype; "auto" = bfloat16 on CUDA, float32 on the CPU."""
    decoder: str = "full"
    """yume: "full" (Wan2.2 VAE) or "tiny" (TAEHV taew2_2, needs its file)."""
    tiny_decoder: Path | None = None
    """yume: the taew2_2 file; None = looked for in the weights folder."""
    steps: int = 4
    shift: float = 7.0
    stall_timeout: float = 30.0
    """Seconds a chunk may make no progress before the watchdog gives up on it."""
    fail_every: int = 0
    """preview only: fail every n-th chunk of a world (fault drills)."""
    stall_at: int = 0
    """preview only: hang once, on the n-th chunk the backend makes (fault drills)."""
    stall_seconds: float = 60.0
    simulate: SimulatedGenerator | None = None
    """preview only: emulate the real model's generation timing."""
    compile: bool | None = None
    """yume only: torch.compile the DiT blocks during warm-up; None = on for CUDA, off on CPU."""
    attention: str = "auto"
    """yume only: attention kernel (auto, cudnn, fa3, flash, efficient, math, default)."""
    fp8: bool = False
    """yume only: float8 linear layers in the DiT (torchao, CUDA compute capability ≥ 8.9)."""
    sequence_parallel: int = 1
    """yume only: processes (one per device) the DiT of every session is split over; 1 = none."""
    vae_device: str | None = None
    """yume only: where the VAE decodes (e.g. a second GPU); None = the DiT's device."""
    overlap: bool = True
    """yume only: decode a chunk on its own thread and CUDA stream while the next chunk is sampled (lossless)."""


@dataclass(frozen=True)
class BridgeConfig:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    actions: ActionConfig = field(default_factory=ActionConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    web: WebConfig = field(default_factory=WebConfig)
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
        if not 1 <= self.stream.latents_per_chunk <= MAX_LATENTS_PER_CHUNK:
            raise ConfigError(f"latents per chunk must be within 1..{MAX_LATENTS_PER_CHUNK} (the model was trained "
                              f"on {MAX_LATENTS_PER_CHUNK}), got {self.stream.latents_per_chunk}")
        if self.stream.preempt not in PREEMPT_POLICIES:
            raise ConfigError(f"preempt must be one of {', '.join(PREEMPT_POLICIES)}, got {self.stream.preempt!r}")
        if not 0 <= self.web.port < 65536:
            raise ConfigError(f"web port must be within 1..65535 (or 0 for any), got {self.web.port}")
        if self.backend.name not in ("preview", "yume"):
            raise ConfigError(f"backend must be preview or yume, got {self.backend.name!r}")
        if self.backend.sequence_parallel < 1:
            raise ConfigError(f"--sequence-parallel must be >= 1, got {self.backend.sequence_parallel}")
        if self.backend.sequence_parallel > 1 and self.backend.name != "yume":
            raise ConfigError("--sequence-parallel splits the yume backend's DiT; use it with --backend yume")
        several_devices = len(self.backend.devices) > 1 or self.backend.devices == ("all",)
        if self.backend.sequence_parallel > 1 and several_devices:
            raise ConfigError("--sequence-parallel and --devices do not combine yet: split one stream over the "
                              "GPUs or give each GPU its sessions")
        if self.backend.vae_device is not None and self.backend.name != "yume":
            raise ConfigError("--vae-device places the yume backend's VAE; use it with --backend yume")
        if self.backend.vae_device is not None and (len(self.backend.devices) > 1 or self.backend.devices == ("all",)):
            raise ConfigError("--vae-device and --devices do not combine: every device's worker would decode on the "
                              "same VAE device")
        if self.backend.name == "yume" and self.backend.weights is None:
            raise ConfigError("the yume backend needs --weights DIR (the Yume-5B-720P folder)")


def load_toml(path: Path, known: Collection[str], section: str = "serve") -> dict[str, Any]:
    """Read a TOML config file into option names (as the CLI spells them, with underscores).

    Keys sit at the top level or in a ``[serve]`` section; an unknown key or section is an error that
    names the closest valid one, so a typo never passes silently.
    """
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key != section:
                raise ConfigError(f"{path}: unknown section [{key}]{_did_you_mean(key, [section], '[', ']')}; "
                                  f"options go at the top level or under [{section}]")
            flat.update(_known_options(path, value, known, f"[{section}] "))
        else:
            flat.update(_known_options(path, {key: value}, known, ""))
    return flat


def _known_options(path: Path, table: dict[str, Any], known: Collection[str], where: str) -> dict[str, Any]:
    options = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            spelled = [k.replace("_", "-") for k in known]
            raise ConfigError(f"{path}: unknown option {where}{key!r}{_did_you_mean(key, spelled)}")
        options[name] = value
    return options


def _did_you_mean(word: str, choices: Collection[str], before: str = "'", after: str = "'") -> str:
    close = difflib.get_close_matches(word.replace("_", "-"), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {before}{close[0]}{after}?)" if close else ""


def with_limits(config: BridgeConfig, **changes: Any) -> BridgeConfig:
    known = {f.name for f in fields(Limits)}
    unknown = set(changes) - known
    if unknown:
        raise ConfigError(f"unknown limits {sorted(unknown)}")
    return replace(config, limits=replace(config.limits, **changes))
