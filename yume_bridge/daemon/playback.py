"""One session's stream as the event loop sees it: frames waiting for their turn, chunks asked for, cuts.

No I/O and no clock: ``app.py`` passes ``now`` in, sends what ``next_due_frame``
hands it, and asks the worker for a chunk once ``next_chunk_due_at`` has come.
Frames go out at the session's cadence; a chunk is asked for just in time
(``scheduling.GenerationEstimate``), its first frame ready when playback would
run out of frames. A cut (``scheduling.plan_cut``) keeps the frames shown before
the cut point and drops the rest.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.results import ChunkDone, ChunkSampled, FrameReady, SessionFailed
from yume_bridge.daemon.scheduling import (
    Cut,
    FramesInFlight,
    GenerationEstimate,
    PendingChange,
    PlaybackPosition,
    Shown,
    breakdown,
    plan_cut,
)
from yume_bridge.protocol.messages import Latency

QUEUED_CHUNKS = 3
"""Chunks of frames a session may have waiting to be sent; beyond that the oldest frames go (a paused client)."""
FPS_WINDOW_S = 1.0
"""The streaming rate reported is the frames sent in this last stretch of time."""


@dataclass
class Playback:
    """Loop-side state of one session's stream."""

    inbox: ConditioningInbox
    fps: float
    estimate: GenerationEstimate
    backend_estimate: GenerationEstimate
    """Across sessions: where a new session's estimate starts; this session's measurements go there too."""
    chunk_frames: int
    start_margin_s: float
    """Extra lead: a chunk is asked for this much earlier than the estimate says."""
    preempt: str = ""
    """The client's wish ("", "off", "latent"); "" and unknown values: the daemon's policy."""
    world: int = 0
    paused: bool = False
    frames: deque = field(default_factory=deque)
    in_flight: FramesInFlight = field(default_factory=FramesInFlight)
    """Frames of chunks sampled and still decoding: they come before the next chunk's."""
    next_send_at: float = 0.0
    requested: bool = False
    """A chunk was asked for and has not yet been sampled (or made, for a world that does not split chunks)."""
    asked_at: float = 0.0
    epoch: int = 0
    shown: Shown | None = None
    cut_latents: int | None = None
    """Set by a cut that shortened the chunk being shown: the next chunk's first frame says so."""
    latent_limit: tuple[int, int] | None = None
    """(chunk, latents) of the last cut: a second cut of the same chunk keeps no more."""
    pending: PendingChange | None = None
    cutting: bool = False
    """A cut's new chunk has not sent its first frame yet: no second cut until it has (it samples the newest
    input when it starts anyway)."""
    cuts: int = 0
    generated_s: float = 0.0
    wasted_s: float = 0.0
    chunk: int = -1
    action: int = 0
    made_action: int = 0
    """The action of the newest frame the generator made (the log's chunk line)."""
    next_chunk_log_at: float = 0.0
    input_seq: int = 0
    frames_sent: int = 0
    sent_times: deque = field(default_factory=lambda: deque(maxlen=256))
    latency: Latency = field(default_factory=Latency)
    next_status_at: float = 0.0

    # --- pacing -----------------------------------------------------------------------------

    def fps_sent(self, now: float) -> int:
        """Frames sent in the last ``FPS_WINDOW_S``."""
        return sum(1 for t in self.sent_times if now - t <= FPS_WINDOW_S)

    def starves_at(self, now: float) -> float:
        """When playback runs out of the frames it has and of those still decoding."""
        coming = len(self.frames) + self.in_flight.frames
        return (self.next_send_at if self.frames else now) + coming / self.fps

    def next_chunk_due_at(self, now: float) -> float | None:
        """When the next chunk must be asked for; None while one is asked for or its inputs have not come."""
        if self.requested or not self.inbox.has_conditioning():
            return None
        lead = self.estimate.lead_s(chunk_frames=self.chunk_frames, fps=self.fps) + self.start_margin_s
        return self.starves_at(now) - lead

    def next_due_frame(self, now: float) -> FrameReady | None:
        """The next frame whose time has come, counted as sent; None when none is due."""
        if not self.frames or now < self.next_send_at:
            return None
        frame: FrameReady = self.frames.popleft()
        self.frames_sent += 1
        self.sent_times.append(now)
        interval = 1.0 / self.fps
        following = self.next_send_at + interval
        # Late by more than a frame (a pause, a starved loop): resume the cadence, never burst.
        self.next_send_at = following if following >= now - interval else now + interval
        return frame

    def cut_latents_announced_by(self, frame: FrameReady) -> int | None:
        """The latents a cut kept of the chunk before, said once, by the first frame after the cut."""
        if frame.frame_in_chunk != 0 or self.cut_latents is None:
            return None
        announced, self.cut_latents = self.cut_latents, None
        return announced

    def frame_sent(self, frame: FrameReady, now: float) -> None:
        """Note what is on the client's screen now, and the latency of the change it shows first."""
        shown = self.shown
        if shown is None or shown.chunk != frame.chunk:
            self.cutting = False
            self.shown = Shown(frame.chunk, frame.world_chunk, frame.action, frame.events_version, 1)
        else:
            self.shown = Shown(shown.chunk, shown.world_chunk, shown.action, shown.events_version,
                               shown.frames_sent + 1)
        pending = self.pending
        if (frame.times is not None and pending is not None and frame.action == pending.action
                and frame.events_version >= pending.events_version and frame.times.started_at >= pending.arrived_at):
            self.latency = breakdown(pending, frame.times, ready_at=frame.ready_at, sent_at=now)
            self.pending = None
        self.action, self.input_seq = frame.action, frame.input_seq

    # --- what the generator made ------------------------------------------------------------

    def frame_ready(self, item: FrameReady, now: float) -> None:
        """Queue a frame of this world for its turn, unless a cut discarded it."""
        self.generated_s += item.cost_s
        self.made_action = item.action
        if item.epoch != self.epoch and self.inbox.outdated(item.epoch, item.chunk, item.frame_in_chunk):
            self.wasted_s += item.cost_s  # made before a cut that discarded it
            return
        if item.times is not None and item.epoch == self.epoch:
            self.chunk = item.chunk  # status reports the last chunk begun
            if item.world_chunk > 0:  # a world's first chunk also waited for the world to open
                self.estimate.add_first_frame(item.ready_at - item.times.asked_at)
                self.backend_estimate.add_first_frame(item.ready_at - item.times.asked_at)
        if not self.frames and self.next_send_at < now:
            self.next_send_at = now
        self.frames.append(item)
        self.in_flight.delivered(item.chunk)
        while len(self.frames) > QUEUED_CHUNKS * self.chunk_frames:
            self.wasted_s += self.frames.popleft().cost_s  # a paused or slow client: the oldest go

    def chunk_sampled(self, item: ChunkSampled) -> None:
        if item.epoch == self.epoch:
            self.requested = False  # sampling is free: the next chunk may be asked for while this decodes
            self.in_flight.sampled(item.chunk, self.chunk_frames)

    def chunk_done(self, item: ChunkDone) -> bool:
        """Account for a finished chunk; True for one made whole since the last cut (worth a log line)."""
        self.generated_s += item.unreported_s
        self.in_flight.done(item.chunk)
        if item.epoch != self.epoch:
            self.wasted_s += item.unreported_s  # the tail of a chunk a cut stopped
            return False
        if not item.sampled_apart:
            self.requested = False
        if item.cancelled:
            return False
        whole = item.generate_s  # the generator's own time (JPEG runs beside it), no queueing
        self.estimate.add_whole_chunk(whole)
        self.backend_estimate.add_whole_chunk(whole)
        return True

    def failed(self, failure: SessionFailed) -> None:
        """The world's chunk or a new world failed: go on with the world left, if any."""
        self.requested = False
        self.in_flight.clear()
        if failure.world_lost:
            self.world = 0  # nothing to continue: the client must start again
            self.frames.clear()
        elif failure.kept_world:
            self.world = failure.kept_world  # the new world never opened: the old one goes on

    def new_world(self) -> None:
        """A start: the next world's frames replace whatever this one still had."""
        self.world += 1
        self.frames.clear()
        self.in_flight.clear()
        self.requested = False
        self.shown = self.pending = self.cut_latents = None
        self.cutting = False

    # --- pre-emption ------------------------------------------------------------------------

    def preempts(self, policy: str) -> bool:
        """Whether a change of action may cut the chunk being shown, under the daemon's ``policy``."""
        policy = self.preempt if self.preempt in ("off", "latent") else policy
        if policy == "auto":
            return self.estimate.faster_than_playback(chunk_frames=self.chunk_frames, fps=self.fps)
        return policy == "latent"

    def conditioning_changed(self, now: float) -> None:
        """Note a change of what the model should apply (an input or event), timed until it shows."""
        action, events_version = self.inbox.peek()
        taken = self.inbox.last_taken
        current = (taken[1].id, taken[2]) if taken is not None else None
        wanted = (action.id, events_version)
        pending = self.pending
        if pending is not None and (pending.action, pending.events_version) != wanted:
            self.pending = pending = None  # changed again (or back) before it showed
        if pending is None and current != wanted:
            self.pending = PendingChange(now, action.id, events_version)

    def planned_cut(self, now: float) -> Cut | None:
        """Where to cut the chunk being shown so the wanted action shows sooner; None when no cut helps."""
        assert self.shown is not None
        action, events_version = self.inbox.peek()
        taken = self.inbox.last_taken
        newest = (taken[0], taken[1].id, taken[2]) if taken is not None else None
        limit = self.latent_limit[1] if self.latent_limit and self.latent_limit[0] == self.shown.chunk else None
        position = PlaybackPosition(now=now, next_send_at=self.next_send_at, fps=self.fps,
                                    chunk_frames=self.chunk_frames, first_frame_estimate_s=self.estimate.first_frame_s)
        return plan_cut(shown=self.shown, wanted_action=action.id, wanted_events=events_version, newest_taken=newest,
                        position=position, latent_limit=limit)

    def apply_cut(self, cut: Cut, now: float) -> None:
        """Keep the frames before the cut point, start a new epoch and ask at once for the chunk after it."""
        kept = deque(f for f in self.frames if f.chunk == cut.chunk and f.frame_in_chunk < cut.keep_frames)
        self.wasted_s += sum(f.cost_s for f in self.frames) - sum(f.cost_s for f in kept)
        self.frames = kept
        self.in_flight.cut(cut.chunk, cut.keep_frames)
        self.epoch = self.inbox.cut(chunk=cut.chunk, keep_frames=cut.keep_frames,
                                    next_world_chunk=cut.world_chunk + 1)
        self.latent_limit = (cut.chunk, cut.latents)
        if cut.shortens_chunk:
            self.cut_latents = cut.latents
            self.cuts += 1
        self.requested = self.cutting = True
        self.asked_at = now
