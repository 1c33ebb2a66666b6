"""When to start a chunk and when to cut one: just-in-time scheduling and pre-emption, as pure decisions.

Nothing here does I/O or reads the clock; ``playback.py`` passes ``now`` in. Four
pieces:

- ``GenerationEstimate``: moving averages of how long a chunk takes from its
  request to its first and to its last frame, so a chunk is asked for just in
  time: its first frame ready when playback would run dry, and its last frame
  no later than its turn to be shown (a generator slower than playback needs
  more lead than its time to first frame).
- ``FramesInFlight``: frames of chunks already sampled but still decoding (a
  world that splits its chunks), which playback will have before the next
  chunk's: counted when deciding when playback runs dry, so the next chunk is
  asked for as soon as sampling is free but no sooner than it is needed.
- ``plan_cut``: whether cutting the chunk being shown at its next latent
  boundary (and discarding any chunk made ahead of it) shows the newly wanted
  action sooner than letting playback run on, and where the cut falls.
- ``breakdown``: where an action change's time went, stage by stage (SPEC §6.5).
"""

from __future__ import annotations

from dataclasses import dataclass

from yume_bridge.backends.base import frames_for_latents, latent_of_frame
from yume_bridge.daemon.results import ChunkTimes
from yume_bridge.protocol.messages import Latency

EMA_WEIGHT = 0.3
"""Weight of the newest measurement in the moving averages."""


@dataclass
class GenerationEstimate:
    """How long one session's chunks take on this backend, as moving averages (seconds)."""

    first_frame_s: float
    """From asking for a chunk to its first frame being ready (queue + sampling + first decode + JPEG)."""
    whole_chunk_s: float = 0.0
    """From a chunk's start to its last frame being ready: the generator's own speed, without queueing."""
    samples: int = 0

    def add_first_frame(self, seconds: float) -> None:
        self.first_frame_s += EMA_WEIGHT * (seconds - self.first_frame_s) if self.samples else (
            seconds - self.first_frame_s)
        self.samples += 1

    def add_whole_chunk(self, seconds: float) -> None:
        self.whole_chunk_s = seconds if not self.whole_chunk_s else (
            self.whole_chunk_s + EMA_WEIGHT * (seconds - self.whole_chunk_s))

    def lead_s(self, *, chunk_frames: int, fps: float) -> float:
        """How long before playback runs dry the next chunk must be asked for."""
        return max(self.first_frame_s, self.whole_chunk_s - (chunk_frames - 1) / fps)

    def faster_than_playback(self, *, chunk_frames: int, fps: float) -> bool:
        """True until measured otherwise: a chunk is made in less time than it plays."""
        return self.whole_chunk_s <= chunk_frames / fps


class FramesInFlight:
    """Per sampled chunk, the frames it will still deliver; a chunk leaves when it is done or cut away.

    Bounded: at most ``LIMIT`` chunks are followed (one decoding, one waiting, one just sampled); past that the
    oldest is forgotten, which can only make the session ask for its next chunk a little early.
    """

    LIMIT = 4

    def __init__(self) -> None:
        self._chunks: dict[int, list[int]] = {}  # chunk number → [frames expected, frames delivered]

    def sampled(self, chunk: int, frames: int) -> None:
        self._chunks[chunk] = [frames, 0]
        while len(self._chunks) > self.LIMIT:
            del self._chunks[next(iter(self._chunks))]

    def delivered(self, chunk: int) -> None:
        if chunk in self._chunks:
            self._chunks[chunk][1] += 1

    def done(self, chunk: int) -> None:
        self._chunks.pop(chunk, None)

    def cut(self, chunk: int, keep_frames: int) -> None:
        """A cut keeps the first ``keep_frames`` frames of ``chunk`` and discards every chunk after it."""
        kept = self._chunks.get(chunk)
        self._chunks = {} if kept is None else {chunk: [min(kept[0], keep_frames), kept[1]]}

    def clear(self) -> None:
        self._chunks.clear()

    @property
    def frames(self) -> int:
        return sum(max(0, expected - delivered) for expected, delivered in self._chunks.values())


@dataclass(frozen=True)
class Shown:
    """The chunk whose frames are being sent: what it applies and how far it got."""

    chunk: int
    world_chunk: int
    action: int
    events_version: int
    frames_sent: int


@dataclass(frozen=True)
class Cut:
    """Keep the first ``latents`` latents (``keep_frames`` frames) of ``chunk``; forget everything after."""

    chunk: int
    world_chunk: int
    latents: int
    keep_frames: int
    shortens_chunk: bool
    """False when the whole chunk stays and only chunks made ahead of it are discarded."""


@dataclass(frozen=True)
class PlaybackPosition:
    """Where one session's playback stands at ``now`` (loop-side facts that ``plan_cut`` needs)."""

    now: float
    next_send_at: float
    fps: float
    chunk_frames: int
    first_frame_estimate_s: float


def plan_cut(*, shown: Shown, wanted_action: int, wanted_events: int, newest_taken: tuple[int, int, int] | None,
             position: PlaybackPosition, latent_limit: int | None = None) -> Cut | None:
    """The cut that shows ``wanted_action`` soonest, or None when letting playback run on is as quick.

    ``newest_taken`` is (chunk number, action id, events version) of the newest
    chunk sampled; ``latent_limit`` caps the latents kept when this chunk was
    already cut once (frames beyond the first cut were dropped).
    """
    frames = position.chunk_frames
    interval = 1.0 / position.fps
    start = max(position.now, position.next_send_at)
    end_of_shown = start + (frames - shown.frames_sent) * interval
    shown_wanted = shown.action == wanted_action and shown.events_version == wanted_events
    ahead = newest_taken is not None and newest_taken[0] > shown.chunk
    ahead_wanted = ahead and newest_taken[1:] == (wanted_action, wanted_events)
    if shown_wanted and (not ahead or ahead_wanted):
        return None  # nothing in the pipeline contradicts what is wanted
    all_latents = latent_of_frame(frames - 1) + 1
    if shown_wanted:
        latents = all_latents  # keep the chunk being shown, discard the ones made ahead with another action
    else:
        latents = latent_of_frame(max(shown.frames_sent, 1) - 1) + 1  # finish the latent being shown
    if latent_limit is not None:
        latents = min(latents, latent_limit)
    keep_frames = min(frames_for_latents(latents), frames)
    # Without a cut the wanted action shows when the chunk being shown ends, or one chunk later if a chunk
    # with another action was already sampled after it.
    natural = end_of_shown if (not ahead or ahead_wanted) else end_of_shown + frames * interval
    cut_at = start + max(0, keep_frames - shown.frames_sent) * interval
    replaced_at = max(cut_at, position.now + position.first_frame_estimate_s)
    if replaced_at + interval >= natural:
        return None
    return Cut(shown.chunk, shown.world_chunk, latents, keep_frames, shortens_chunk=keep_frames < frames)


@dataclass(frozen=True)
class PendingChange:
    """An input (or event) that changed what the next chunk would apply, not yet on screen."""

    arrived_at: float
    action: int
    events_version: int


def breakdown(change: PendingChange, times: ChunkTimes, *, ready_at: float, sent_at: float) -> Latency:
    """Stage by stage, from the change's arrival to the first datagram of the first frame that shows it (ms)."""
    asked = max(times.asked_at, change.arrived_at)
    started = max(times.started_at, asked)
    timing = times.timing
    sample_s = timing.sample_s if timing is not None else max(0.0, ready_at - times.encode_s - started)
    decode_s = timing.first_decode_s if timing is not None else 0.0
    pacing_s = max(0.0, sent_at - ready_at)
    return Latency(wait_ms=_ms(asked - change.arrived_at), queue_ms=_ms(started - asked),
                   generate_ms=_ms(sample_s), decode_ms=_ms(decode_s), encode_ms=_ms(times.encode_s),
                   pacing_ms=_ms(pacing_s), send_ms=_ms(pacing_s), total_ms=_ms(sent_at - change.arrived_at))


def _ms(seconds: float) -> float:
    return round(max(0.0, seconds) * 1e3, 2)
