"""Discovery: the daemon's Zeroconf record carries its load, and clients pick the least loaded daemon."""

from __future__ import annotations

import asyncio

from yume_bridge.backends.base import WorldSpec
from yume_bridge.config import BridgeConfig
from yume_bridge.daemon.discovery import Daemon, Load, advertise, browse, least_loaded

LOOPBACK = ["127.0.0.1"]
SPEC = WorldSpec("preview", "preview", "1", 960, 544, 16.0, 29)


def _daemon(name: str, **load) -> Daemon:
    return Daemon(name, "127.0.0.1", 47800, Load(**load).properties() if load else {})


def test_the_least_loaded_daemon_has_the_most_free_slots_per_device():
    busy = _daemon("busy", devices=1, sessions=3, max_sessions=4, fps=48.0)
    roomy = _daemon("roomy", devices=2, sessions=2, max_sessions=8, fps=32.0)
    full = _daemon("full", devices=4, sessions=8, max_sessions=8, fps=128.0)
    assert least_loaded([full, busy, roomy]) is roomy


def test_among_equally_free_daemons_the_one_streaming_less_wins():
    a = _daemon("a", devices=1, sessions=1, max_sessions=4, fps=16.0)
    b = _daemon("b", devices=1, sessions=1, max_sessions=4, fps=4.0)
    assert least_loaded([a, b]) is b


def test_a_full_daemon_and_one_of_unknown_load_come_after_any_with_room():
    old = _daemon("older-version")
    full = _daemon("full", devices=1, sessions=4, max_sessions=4, fps=64.0)
    room = _daemon("room", devices=1, sessions=3, max_sessions=4, fps=48.0)
    assert least_loaded([old, full, room]) is room
    assert least_loaded([full, old]) is old
    assert least_loaded([]) is None


def test_a_garbled_load_field_counts_as_unknown():
    assert _daemon("x", devices=1, sessions=0, max_sessions=4, fps=0.0).load == Load(1, 0, 4, 0.0)
    assert Daemon("y", "h", 1, {"devices": "two", "sessions": "0", "max_sessions": "4", "load_fps": "0"}).load is None


async def test_the_advertised_load_is_found_by_browsing_and_follows_updates():
    start = Load(devices=2, sessions=0, max_sessions=8, fps=0.0)
    async with advertise(BridgeConfig(), SPEC, 47999, interfaces=LOOPBACK, load=start) as advertisement:
        found = await _browse_until(lambda d: d.port == 47999)
        assert found.load == start and found.properties["backend"] == "preview"
        busier = Load(devices=2, sessions=3, max_sessions=8, fps=48.0)
        await advertisement.update(busier)
        found = await _browse_until(lambda d: d.port == 47999 and d.load == busier)
        assert found.load.free_sessions == 5


async def _browse_until(wanted, attempts: int = 6) -> Daemon:
    for _ in range(attempts):
        match = [d for d in await browse(1.0, interfaces=LOOPBACK) if wanted(d)]
        if match:
            return match[0]
        await asyncio.sleep(0.5)
    raise AssertionError("the advertisement was not found as expected")
