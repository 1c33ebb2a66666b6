"""What the next chunk of a session is conditioned on: inputs, events and captions, put in by the loop.

The event loop puts inputs and event changes into a session's
``ConditioningInbox``; the generation thread samples it when a chunk starts
(``take``): the mean of the inputs since the last chunk (``InputWindow``), or,
for inputs that name their chunk (a replay), that chunk's input from
``ScheduledInputs``. A cut (pre-emption) bumps the inbox's epoch, so frames of
chunks begun before it can be told apart.
"""

from __future__ import annotations

import threading

from yume_bridge.actions import Action, Axes, AxisQuantizer, CaptionTemplates, InputWindow, Speed
from yume_bridge.backends.base import ChunkRequest


class ScheduledInputs:
    """Inputs that name their chunk (a replay): the newest one for each of the next ``LIMIT`` chunks.

    Overflow policy: an input for a chunk already taken, or further ahead than
    ``LIMIT``, is dropped. Once a session sends one, its chunks wait for theirs.
    """

    LIMIT = 64

    def __init__(self) -> None:
        self._inputs: dict[int, tuple[int, Axes]] = {}
        self.active = False

    def put(self, chunk: int, seq: int, axes: Axes, next_chunk: int) -> None:
        self.active = True
        if next_chunk <= chunk < next_chunk + self.LIMIT:
            self._inputs[chunk] = (seq, axes)

    def has(self, chunk: int) -> bool:
        return not self.active or chunk in self._inputs

    def pop(self, chunk: int) -> tuple[int, Axes] | None:
        return self._inputs.pop(chunk, None) if self.active else None


class ConditioningInbox:
    """What the next chunk of one session will be conditioned on; shared by loop and worker."""

    def __init__(self, *, templates: CaptionTemplates, quantizer: AxisQuantizer, speed: Speed | None) -> None:
        self._lock = threading.Lock()
        self._templates = templates
        self._quantizer = quantizer
        self._speed = speed
        self._window = InputWindow()
        self._scheduled = ScheduledInputs()
        self._newest_seq = 0
        self._events: tuple[str, ...] = ()
        self._scene: tuple[str, ...] = ()  # the start prompt: the caption's event text before any events
        self.next_chunk = 0  # session-wide chunk number (continues across worlds)
        self.world_chunk = 0  # chunk index within the current world
        self.events_chunk = 0  # the first chunk that sees the latest event change
        self.quality = 85
        self.epoch = 0
        """Bumped by every cut: a chunk begun under an older epoch stops past ``cut_keep``."""
        self.cut_keep: tuple[int, int] = (-1, 0)
        """(chunk number, frames kept) of the last cut: frames of that chunk below the count still count."""
        self.events_version = 0
        self.last_taken: tuple[int, Action, int] | None = None
        """(chunk number, action, events version) of the newest chunk sampled."""

    def put_input(self, seq: int, axes: Axes, *, chunk: int | None = None) -> None:
        with self._lock:
            if chunk is not None:
                self._scheduled.put(chunk, seq, axes, self.next_chunk)
                return
            self._window.add(axes)
            self._newest_seq = max(self._newest_seq, seq)

    @property
    def replaying(self) -> bool:
        """True once the session sent inputs that name their chunk (a replay)."""
        return self._scheduled.active

    def has_conditioning(self) -> bool:
        """False while a session that schedules inputs per chunk has not sent the next chunk's."""
        with self._lock:
            return self._scheduled.has(self.next_chunk)

    def set_events(self, events: tuple[str, ...]) -> int:
        """Replace the active events; returns the first chunk number that will see them."""
        with self._lock:
            self._events = events
            self.events_version += 1
            self.events_chunk = self.next_chunk
            return self.next_chunk

    def peek(self) -> tuple[Action, int]:
        """The action and events version the next chunk would get if sampled from the newest input now."""
        with self._lock:
            return self._quantizer.peek(self._window.last), self.events_version

    def cut(self, *, chunk: int, keep_frames: int, next_world_chunk: int) -> int:
        """Pre-empt: chunks begun so far stop past ``keep_frames`` of ``chunk``; returns the new epoch."""
        with self._lock:
            self.epoch += 1
            self.cut_keep = (chunk, keep_frames)
            self.world_chunk = next_world_chunk
            return self.epoch

    def outdated(self, epoch: int, chunk: int, frame_in_chunk: int) -> bool:
        """True for a frame of a chunk begun before a cut that the cut did not keep."""
        if epoch == self.epoch:
            return False
        keep_chunk, keep_frames = self.cut_keep
        return not (chunk == keep_chunk and frame_in_chunk < keep_frames)

    @property
    def events(self) -> tuple[str, ...]:
        """The event prompts active now."""
        with self._lock:
            return self._events

    def captions_for_events(self) -> list[str]:
        with self._lock:
            events = self._events
            scene = self._scene
        return list(self._templates.captions_for_events(scene + events, self._speed).values())

    def new_world(self, prompt: str) -> None:
        with self._lock:
            self.world_chunk = 0
            self._scene = (prompt.strip(),) if prompt.strip() else ()

    def take(self, *, newest: bool = False) -> tuple[int, ChunkRequest, int]:
        """Sample the conditioning now: (chunk number, request, newest input seq consumed).

        ``last_taken`` then says which events version the chunk saw.

        ``newest``: the newest sample rather than the window's mean (after a cut, the input that caused it).
        """
        with self._lock:
            scheduled = self._scheduled.pop(self.next_chunk)
            if scheduled is not None:
                self._newest_seq, axes = scheduled
                action: Action = self._quantizer.quantize(axes)
            else:
                axes = self._window.take()
                action = self._quantizer.quantize(self._window.last if newest else axes)
            request = ChunkRequest(index=self.world_chunk, action=action, events=self._events,
                                   caption=self._templates.caption(action, self._scene + self._events, self._speed))
            number = self.next_chunk
            self.next_chunk += 1
            self.world_chunk += 1
            self.last_taken = (number, action, self.events_version)
            return number, request, self._newest_seq
