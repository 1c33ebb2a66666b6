"""Several generation workers, one per device, behind the one worker interface the loop talks to.

Each worker owns its backend (its device) and the worlds placed on it. A session
is placed when its first world opens, on the worker with the fewest sessions
(then the shortest queue), and stays there until it closes, so its history never
moves between devices. Readiness is reported for the pool: ``ready`` once every
worker is ready, ``error`` as soon as one fails, otherwise the slowest worker's
state and progress.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from yume_bridge.backends.base import WorldBackend
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.results import Readiness, SessionFailed
from yume_bridge.daemon.worker import GenerationWorker

_READINESS_ORDER = {"error": 0, "loading": 1, "warming": 2, "ready": 3}


class WorkerPool:
    """One ``GenerationWorker`` per backend; routes every call by session."""

    def __init__(self, *, backends: Sequence[WorldBackend], post: Callable[[object], None],
                 **worker_options) -> None:
        if not backends:
            raise ValueError("a worker pool needs at least one backend")
        self._post = post
        self._lock = threading.Lock()  # readiness arrives from every worker's thread
        self._readiness = [Readiness("loading", 0.0, "") for _ in backends]
        self.workers = [GenerationWorker(backend=backend, post=self._poster(index), **worker_options)
                        for index, backend in enumerate(backends)]
        self.placement: dict[int, int] = {}
        """Session → index of the worker that owns its worlds."""

    @property
    def backend(self) -> WorldBackend:
        return self.workers[0].backend

    @property
    def devices(self) -> int:
        return len(self.workers)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self, timeout: float) -> bool:
        return all([worker.stop(timeout) for worker in self.workers])

    # --- routing ------------------------------------------------------------------------------

    def _place(self, session: int) -> GenerationWorker:
        if session not in self.placement:
            sessions = [0] * len(self.workers)
            for index in self.placement.values():
                sessions[index] += 1
            self.placement[session] = min(range(len(self.workers)),
                                          key=lambda i: (sessions[i], self.workers[i].queue_depth, i))
        return self.workers[self.placement[session]]

    def worker_of(self, session: int) -> GenerationWorker | None:
        index = self.placement.get(session)
        return None if index is None else self.workers[index]

    def open_world(self, session: int, world: int, image: bytes | None, prompt: str, seed: int) -> None:
        self._place(session).open_world(session, world, image, prompt, seed)

    def close_world(self, session: int) -> None:
        index = self.placement.pop(session, None)
        if index is not None:
            self.workers[index].close_world(session)

    def request_chunk(self, session: int, world: int, inbox: ConditioningInbox) -> None:
        self._place(session).request_chunk(session, world, inbox)

    def preempt(self, session: int, world: int, *, chunk: int, latents: int, inbox: ConditioningInbox,
                epoch: int) -> None:
        worker = self.worker_of(session)
        if worker is not None:
            worker.preempt(session, world, chunk=chunk, latents=latents, inbox=inbox, epoch=epoch)

    def prepare(self, session: int, captions: list[str]) -> None:
        worker = self.worker_of(session)
        if worker is not None:
            worker.prepare(session, captions)

    # --- figures and the watchdog -------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return sum(worker.queue_depth for worker in self.workers)

    def stall_deadline(self) -> float | None:
        deadlines = [d for d in (worker.stall_deadline() for worker in self.workers) if d is not None]
        return min(deadlines, default=None)

    def abandon_stalled(self, now: float) -> SessionFailed | None:
        for worker in self.workers:
            failure = worker.abandon_stalled(now)
            if failure is not None:
                return failure
        return None

    # --- readiness ----------------------------------------------------------------------------

    def _poster(self, index: int) -> Callable[[object], None]:
        def post(item: object) -> None:
            if isinstance(item, Readiness):
                item = self._combined_readiness(index, item)
                if item is None:
                    return
            self._post(item)

        return post

    def _combined_readiness(self, index: int, readiness: Readiness) -> Readiness | None:
        with self._lock:
            self._readiness[index] = readiness
            states = list(self._readiness)
        if len(states) == 1:
            return readiness
        worst = min(states, key=lambda r: (_READINESS_ORDER.get(r.state, 1), r.progress))
        if worst.state == "error":
            return Readiness("error", 0.0, f"device {states.index(worst)}: {worst.message}")
        if worst.state == "ready":
            return Readiness("ready", 1.0, "")
        share = sum(1 for r in states if r.state == "ready")
        return Readiness(worst.state, worst.progress, f"{share}/{len(states)} devices ready; {worst.message}")
