"""``yume-bridge replay``: make a recorded session's worlds again, chunk by chunk, from their recorded conditioning.

Replays never follow the recording's clock: each world is opened from its
recorded start (image, prompt, seed) and each chunk is generated with the
action and events the daemon applied to it, in order. With the same backend,
device and dtype the frames come out bit for bit (preview) and the latents
equal (Yume).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from yume_bridge.actions import CaptionTemplates, Speed
from yume_bridge.backends.base import ChunkRequest, StartRequest, WorldBackend, WorldSpec
from yume_bridge.daemon.frames import encode_jpeg
from yume_bridge.daemon.start_images import decode_start_image
from yume_bridge.protocol import recording as rec
from yume_bridge.protocol.wire import Limits
from yume_bridge.tools.recording import ChunkPlan, WorldPlan, plan_worlds


@dataclass(frozen=True)
class ReplayedFrame:
    frame: int
    """The session frame number the original frame had (so that files line up with ``client --out``)."""
    world: int
    chunk: int
    frame_in_chunk: int
    plan: ChunkPlan
    jpeg: bytes


@dataclass(frozen=True)
class BackendChoice:
    """How to rebuild the recorded backend; None fields take the recording's settings."""

    backend: str | None = None
    weights: Path | None = None
    device: str | None = None
    dtype: str | None = None
    allow_any_resolution: bool = False


def build_replay_backend(header: rec.Header, choice: BackendChoice) -> WorldBackend:
    """The backend a recording was made with, from its header (the Yume backend needs ``weights``)."""
    name = choice.backend or header.backend
    settings = header.settings
    if name == "yume":
        if choice.weights is None:
            raise ValueError("replaying a Yume recording needs --weights (the Yume-5B-720P folder)")
        from yume_bridge.backends.yume import YumeBackend, YumeBackendConfig

        config = YumeBackendConfig(weights=choice.weights, resolution=f"{header.height}x{header.width}",
                                   steps=int(settings.get("steps", 4)), shift=float(settings.get("shift", 7.0)),
                                   device=choice.device or str(settings.get("device", "auto")),
                                   dtype=choice.dtype or str(settings.get("dtype", "bfloat16")), fps=header.fps,
                                   allow_any_resolution=choice.allow_any_resolution)
        return YumeBackend(config)
    if name != "preview":
        raise ValueError(f"the recording was made with the {name!r} backend, which this yume-bridge does not have")
    from yume_bridge.backends.preview import PreviewBackend

    return PreviewBackend(spec=WorldSpec("preview", "preview", "1", header.width, header.height, header.fps,
                                         header.frames_per_chunk))


def version_warnings(header: rec.Header, spec: WorldSpec) -> list[str]:
    """What differs between the recorded model and the one replaying it (the replay goes on, but may differ)."""
    warnings = []
    if (header.model, header.model_version) != (spec.model, spec.model_version):
        warnings.append(f"the recording was made with {header.model} {header.model_version}, this replay uses "
                        f"{spec.model} {spec.model_version}: frames may differ")
    if (header.width, header.height, header.frames_per_chunk) != (spec.width, spec.height, spec.frames_per_chunk):
        warnings.append(f"the recording is {header.width}x{header.height} with {header.frames_per_chunk} frames per "
                        f"chunk; this backend makes {spec.width}x{spec.height} with {spec.frames_per_chunk}")
    return warnings


class OfflineReplay:
    """Drives a backend in this process with a recording's worlds; iterate ``frames()``."""

    def __init__(self, recording: rec.Recording, backend: WorldBackend, *, quality: int | None = None,
                 on_world: Callable[[WorldPlan, object], None] | None = None) -> None:
        self.recording = recording
        self.backend = backend
        self.quality = quality or recording.header.quality
        self.worlds, self.warnings = plan_worlds(recording)
        header = recording.header
        self.templates = CaptionTemplates.load(header.vocabulary or "camera")
        self.speed = Speed() if header.speed else None
        self.on_world = on_world
        """Called with each world plan and the backend's World once it is done (tests read latents here)."""

    @property
    def frame_count(self) -> int:
        return sum(len(w.chunks) for w in self.worlds) * self.backend.spec.frames_per_chunk

    def caption(self, world: WorldPlan, plan: ChunkPlan) -> str:
        if plan.caption is not None:
            return plan.caption
        scene = (world.start.prompt.strip(),) if world.start.prompt.strip() else ()
        return self.templates.caption(plan.action, scene + plan.events, self.speed)

    def frames(self) -> Iterator[ReplayedFrame]:
        number = 0
        for world in self.worlds:
            image = None if world.image is None else decode_start_image(world.image, Limits().max_image_pixels)
            opened = self.backend.open_world(StartRequest(image=image, prompt=world.start.prompt,
                                                          seed=world.start.seed))
            try:
                for index, plan in enumerate(world.chunks):
                    request = ChunkRequest(index=index, action=plan.action, events=plan.events,
                                           caption=self.caption(world, plan))
                    if plan.first_frame >= 0:
                        number = plan.first_frame
                    for in_chunk, frame in enumerate(opened.generate_chunk(request)):
                        yield ReplayedFrame(number, world.start.world, plan.chunk, in_chunk, plan,
                                            encode_jpeg(frame, self.quality))
                        number += 1
                if self.on_world is not None:
                    self.on_world(world, opened)
            finally:
                opened.close()
