"""Sessions across devices: one generation worker per device, new sessions on the least loaded."""

from __future__ import annotations

import asyncio

import pytest

from yume_bridge.config import BackendConfig, BridgeConfig, NetworkConfig, StreamConfig
from yume_bridge.daemon.backend_setup import build_backends
from yume_bridge.daemon.pool import WorkerPool
from yume_bridge.daemon.results import Readiness
from yume_bridge.tools.client import ClientOptions, ScriptStep, run_client

TWO_CPU_WORKERS = BridgeConfig(network=NetworkConfig(port=0), stream=StreamConfig(fps=30.0, frames_per_chunk=15),
                               backend=BackendConfig(devices=("cpu", "cpu")))


def test_each_device_gets_its_own_backend():
    backends = build_backends(TWO_CPU_WORKERS)
    assert len(backends) == 2 and backends[0] is not backends[1]
    assert len(build_backends(BridgeConfig())) == 1


def test_sessions_are_placed_on_the_worker_with_the_fewest_sessions():
    pool = WorkerPool(backends=build_backends(TWO_CPU_WORKERS), post=lambda item: None, max_image_pixels=10**6)
    for session in (1, 2, 3):
        pool.open_world(session, 1, None, "", 0)
    assert [pool.placement[s] for s in (1, 2, 3)] == [0, 1, 0]
    pool.close_world(1)
    pool.open_world(4, 1, None, "", 0)  # worker 0 has one session left, worker 1 has one: the first wins
    pool.close_world(3)
    pool.open_world(5, 1, None, "", 0)
    assert pool.placement == {2: 1, 4: 0, 5: 0}


def test_the_pool_is_ready_when_every_device_is_and_fails_when_one_does():
    posted: list[object] = []
    pool = WorkerPool(backends=build_backends(TWO_CPU_WORKERS), post=posted.append, max_image_pixels=10**6)
    first, second = (worker._post for worker in pool.workers)
    first(Readiness("ready", 1.0, ""))
    second(Readiness("warming", 0.5, "warming up"))
    second(Readiness("ready", 1.0, ""))
    first(Readiness("error", 0.0, "out of memory"))
    assert [(r.state, r.message) for r in posted] == [
        ("loading", "1/2 devices ready; "), ("warming", "1/2 devices ready; warming up"), ("ready", ""),
        ("error", "device 0: out of memory")]


@pytest.mark.parametrize("bridge", [TWO_CPU_WORKERS], indirect=True)
async def test_two_sessions_on_two_workers_each_stream_from_their_own_device(bridge):
    instance, port = bridge
    options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0.0, 0.0), 60.0),), tail_s=0.0)
    counts = [0, 0]
    placed: dict[int, int] = {}
    stop = asyncio.Event()

    def counter(index: int):
        def on_frame(_event) -> None:
            counts[index] += 1
            if min(counts) >= 30 and not stop.is_set():  # two chunks each, however slow the machine is today
                placed.update(instance.worker.placement)
                stop.set()
        return on_frame

    first, second = await asyncio.gather(*(run_client(options, on_frame=counter(i), stop=stop) for i in (0, 1)))
    assert not first.errors and not second.errors
    assert min(first.frames_complete, second.frames_complete) >= 30
    assert sorted(placed.values()) == [0, 1]  # one session on each device
    assert instance.load().devices == 2
