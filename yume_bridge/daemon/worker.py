"""The one generation thread: loads the backend, opens worlds, makes and encodes chunks.

The event loop talks to it through per-session work slots (at most one pending
world open, one caption update and one chunk per session; a newer request of the
same kind replaces the older one) and the per-session ``ConditioningInbox``
(``conditioning.py``: newest input wins, sampled when a chunk starts); results
go back with ``loop.call_soon_threadsafe``. Sessions with work are served round-robin, one
item per turn, so a world open takes its turn like a chunk and a flood from one
session can neither grow a queue nor delay the others by more than one turn.

A world that splits its chunks is only sampled here: the sampled chunk goes to
the decode thread (``decoding.py``), ``ChunkSampled`` tells the loop it may ask
for the next chunk, and this thread serves its next job while the chunk decodes.

Pre-emption: the loop bumps the inbox's epoch and puts a ``_Preempt`` in the
session's chunk slot (it replaces a pending chunk request and takes its turn
like one); the chunk in flight stops at its next frame past the cut point (a
chunk sampled ahead of it, before its first frame), the world rolls back to the
cut latent, forgetting any chunk sampled after it, and the next chunk starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from yume_bridge.backends.base import BackendError, StartRequest, World, WorldBackend
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.decoding import ChunkJob, ChunkStreamer, DecodeThread, Progress
from yume_bridge.daemon.encoder import FrameEncoder
from yume_bridge.daemon.results import ChunkSampled, ChunkSkipped, Readiness, SessionFailed
from yume_bridge.daemon.start_images import StartImageError, decode_start_image

log = logging.getLogger(__name__)


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Open:
    session: int
    world: int
    image: bytes | None
    prompt: str
    seed: int


@dataclass(frozen=True)
class _Close:
    session: int


@dataclass
class _SessionWork:
    """One session's pending work: each slot holds the newest request of its kind (overflow: replace)."""

    open: _Open | None = None
    prepare: _Prepare | None = None
    generate: _Generate | _Preempt | None = None

    def take(self) -> _Open | _Prepare | _Generate | _Preempt | None:
        """The next item in the order the session needs them: a world, its captions, then a chunk."""
        for name in ("open", "prepare", "generate"):
            item = getattr(self, name)
            if item is not None:
                setattr(self, name, None)
                return item
        return None

    def __bool__(self) -> bool:
        return self.open is not None or self.prepare is not None or self.generate is not None


@dataclass(frozen=True)
class _Generate:
    session: int
    world: int
    inbox: ConditioningInbox
    asked_at: float


@dataclass(frozen=True)
class _Preempt:
    """Roll the world back to ``latents`` of world chunk ``chunk``, then generate the next chunk at once."""

    session: int
    world: int
    chunk: int
    latents: int
    inbox: ConditioningInbox
    asked_at: float
    epoch: int


@dataclass(frozen=True)
class _Prepare:
    session: int
    captions: tuple[str, ...]


class GenerationWorker:
    """Owns the backend on one thread. ``post`` delivers results on the loop thread.

    A watchdog (``abandon_stalled``, called by the loop) gives up on a command that
    made no progress for ``stall_timeout_s``: the stalled session's world is dropped
    and a fresh thread serves everyone else; whatever the old thread still produces
    is discarded. Python cannot stop a thread, so the old one runs on until its
    stall ends (and then exits), which is why worlds must be independent.
    """

    def __init__(self, *, backend: WorldBackend, post: Callable[[object], None], max_image_pixels: int,
                 stall_timeout_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self._post = post
        self._max_image_pixels = max_image_pixels
        self.stall_timeout_s = stall_timeout_s
        self._clock = clock
        self._work: dict[int, _SessionWork] = {}
        self._turns: deque[int] = deque()  # sessions with pending work, in round-robin order
        self._closing: deque[int] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._worlds: dict[int, tuple[int, World]] = {}
        self._generation = 0
        self._busy: Progress | None = None
        self._thread = threading.Thread(target=self._run, name="yume-generation", daemon=True)
        self._encoder = FrameEncoder(clock=clock)  # JPEG off the generation thread, frames in order
        self._streamer = ChunkStreamer(encoder=self._encoder, emit=self._emit, wanted=self._wanted, clock=clock)
        self._decoder = DecodeThread(self._streamer, clock)
        self.queue_depth = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Ask the thread to finish its current frame and exit; True if it did in time."""
        with self._cond:
            self._stopping = True
            self._work.clear()
            self._turns.clear()
            self._cond.notify_all()
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        decoder_stopped = self._decoder.close(timeout)  # the generation thread closed it already, if it ended
        return self._encoder.close(timeout) and stopped and decoder_stopped

    def _submit(self, session: int, slot: str, command: object) -> None:
        """Put ``command`` in the session's ``slot``, replacing an older one; never blocks, never raises."""
        with self._cond:
            work = self._work.setdefault(session, _SessionWork())
            if not work:
                self._turns.append(session)
            setattr(work, slot, command)
            self._update_depth()
            self._cond.notify()

    def _update_depth(self) -> None:
        self.queue_depth = sum(work.generate is not None for work in self._work.values())

    def open_world(self, session: int, world: int, image: bytes | None, prompt: str, seed: int) -> None:
        """Open a new world for ``session``; a still pending open of an older world is dropped."""
        self._submit(session, "open", _Open(session, world, image, prompt, seed))

    def close_world(self, session: int) -> None:
        with self._cond:  # drop this session's pending work; closing is cheap and goes first
            self._work.pop(session, None)
            self._closing.append(session)
            self._update_depth()
            self._cond.notify()

    def request_chunk(self, session: int, world: int, inbox: ConditioningInbox) -> None:
        self._submit(session, "generate", _Generate(session, world, inbox, self._clock()))

    def preempt(self, session: int, world: int, *, chunk: int, latents: int, inbox: ConditioningInbox,
                epoch: int) -> None:
        """Replace this session's pending chunk request by a rollback and a new chunk.

        It takes its turn like any chunk request (round-robin with the other sessions): a client that keeps
        changing its keys must not starve the others. With one session it starts at once.
        """
        self._submit(session, "generate", _Preempt(session, world, chunk, latents, inbox, self._clock(), epoch))

    def prepare(self, session: int, captions: list[str]) -> None:
        self._submit(session, "prepare", _Prepare(session, tuple(captions)))

    def _next_command(self) -> object | None:
        """Closes first, then one item of the session whose turn it is (called under the lock)."""
        if self._closing:
            return _Close(self._closing.popleft())
        while self._turns:
            session = self._turns.popleft()
            work = self._work.get(session)
            if work is None:
                continue
            command = work.take()
            if work:
                self._turns.append(session)  # more to do: back of the line
            else:
                del self._work[session]
            self._update_depth()
            return command
        return None

    # --- the watchdog (called on the loop thread) -------------------------------------------

    def _watched(self) -> list[Progress]:
        return [busy for busy in (self._busy, self._decoder.busy) if busy is not None]

    def stall_deadline(self) -> float | None:
        """When the current command (or decode) will count as stalled, or None when idle."""
        return min((busy.progress_at + self.stall_timeout_s for busy in self._watched()), default=None)

    def abandon_stalled(self, now: float) -> SessionFailed | None:
        """Give up on a stalled command or decode; returns the failure to report to its session."""
        with self._cond:
            stalled = [busy for busy in self._watched() if now - busy.progress_at >= self.stall_timeout_s]
            if not stalled or self._stopping:
                return None
            busy = stalled[0]
            self._generation += 1
            self._busy = None
            self._worlds.pop(busy.session, None)
            self._decoder.close(0)  # a stalled decode ends when its stall does; nothing it makes is posted
            self._decoder = DecodeThread(self._streamer, self._clock)
            self._thread = threading.Thread(target=self._serve, args=(self._generation,), name="yume-generation",
                                            daemon=True)
            self._thread.start()
        log.error("generator stalled for %.0f s on session %08x; continuing without that world",
                  now - busy.progress_at, busy.session)
        return SessionFailed(busy.session, busy.world, "generator_failed",
                             f"the generator stalled for over {self.stall_timeout_s:g} s on this session's chunk; "
                             "its world was stopped: send start again", world_lost=True)

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._post(Readiness("loading", 0.0, "loading the backend"))
            self.backend.load(lambda stage, fraction: self._post(Readiness("loading", fraction, stage)))
            self._post(Readiness("warming", 0.0, "warming up"))
            self.backend.warm_up()
            self._post(Readiness("ready", 1.0, ""))
        except Exception as exc:  # noqa: BLE001 - any load failure is reported, not raised into the void
            log.exception("backend failed to load")
            self._post(Readiness("error", 0.0, f"backend failed to load: {exc}"))
            return
        self._serve(0)

    def _serve(self, generation: int) -> None:
        while True:
            with self._cond:
                while (command := self._next_command()) is None and not self._stopping \
                        and generation == self._generation:
                    self._cond.wait(0.5)
                if self._stopping or generation != self._generation:
                    break
                assert command is not None
                self._busy = Progress(getattr(command, "session", 0), getattr(command, "world", 0), self._clock())
            self._execute(command, generation)
            with self._cond:
                if generation == self._generation:
                    self._busy = None
        if generation == self._generation:  # the current thread closes up; an abandoned one just leaves
            self._decoder.close(self.stall_timeout_s)  # stops at its next frame: the worker is stopping
            for _, world in self._worlds.values():
                world.close()
            self.backend.close()

    def _emit(self, generation: int, item: object) -> bool:
        """Post ``item`` unless the thread of ``generation`` was abandoned; True if posted."""
        if generation != self._generation:
            return False
        self._post(item)
        return True

    def _wanted(self, job: ChunkJob, world: World) -> bool:
        """Whether a chunk's frames still have somewhere to go (read on the decode thread too)."""
        entry = self._worlds.get(job.session)
        return (job.generation == self._generation and not self._stopping and entry is not None
                and entry[1] is world)

    def _waiting_for_decoder(self, generation: int) -> bool:
        if generation != self._generation or self._stopping:
            return False
        busy = self._busy
        if busy is not None:
            busy.progress_at = self._clock()  # waiting on the decode thread, which is watched on its own
        return True

    def _execute(self, command: object, generation: int) -> None:
        worlds = self._worlds
        if isinstance(command, _Open):
            try:  # the running world goes on until the new one is open: a failed start stops nothing
                spec = self.backend.spec
                image = None if command.image is None else decode_start_image(
                    command.image, self._max_image_pixels, fit=(spec.width, spec.height))
                world = self.backend.open_world(StartRequest(image=image, prompt=command.prompt, seed=command.seed))
            except BackendError as exc:
                code = "bad_image" if isinstance(exc, StartImageError) else "generator_failed"
                running = worlds.get(command.session)
                self._emit(generation, SessionFailed(command.session, command.world, code, str(exc),
                                                     world_lost=running is None,
                                                     kept_world=running[0] if running else 0))
                return
            if command.session in worlds:
                worlds.pop(command.session)[1].close()
            if generation == self._generation:
                worlds[command.session] = (command.world, world)
        elif isinstance(command, _Close):
            if command.session in worlds:
                worlds.pop(command.session)[1].close()
        elif isinstance(command, _Prepare):
            entry = worlds.get(command.session)
            if entry is not None:
                entry[1].prepare(command.captions)
        elif isinstance(command, _Preempt):
            self._preempt(command, generation)
        elif isinstance(command, _Generate):
            self._generate(command, generation)

    def _preempt(self, job: _Preempt, generation: int) -> None:
        entry = self._worlds.get(job.session)
        if entry is None or entry[0] != job.world:
            self._emit(generation, ChunkSkipped(job.session, job.world))  # the loop must not wait for it
            return
        if job.epoch != job.inbox.epoch:
            return  # a later cut is pending in this session's slot and makes the chunk
        try:
            entry[1].rollback(chunk=job.chunk, latents=job.latents)
        except BackendError as exc:  # the world goes on from where it is: it remembers latents never shown
            log.warning("session %08x: no rollback after a cut (%s)", job.session, exc)
        self._generate(_Generate(job.session, job.world, job.inbox, job.asked_at), generation, newest=True)

    def _generate(self, job: _Generate, generation: int, newest: bool = False) -> None:
        entry = self._worlds.get(job.session)
        if entry is None or entry[0] != job.world:
            self._emit(generation, ChunkSkipped(job.session, job.world))  # the loop must not wait for it
            return
        world = entry[1]
        inbox = job.inbox
        started = self._clock()
        epoch = inbox.epoch
        number, request, input_seq = inbox.take(newest=newest)
        chunk = ChunkJob(job.session, job.world, number, request, input_seq, epoch,
                         inbox.last_taken[2] if inbox.last_taken is not None else 0, inbox.quality,
                         self.backend.spec.frames_per_chunk, job.asked_at, started, inbox, generation)
        if not world.splits_chunks:
            self._streamer.run_whole(chunk, world, self._busy)
            return
        try:
            sampled = world.sample_chunk(request)
        except Exception as exc:  # noqa: BLE001 - reported to the session, as a failed whole chunk is
            self._streamer.fail(chunk, exc)
            return
        self._emit(generation, ChunkSampled(job.session, job.world, number, epoch, sampled.sample_s))
        self._decoder.hand_over(chunk, world, sampled, keep_waiting=lambda: self._waiting_for_decoder(generation))
