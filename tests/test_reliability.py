"""Load, endurance and shutdown, CI-sized (the long versions are `yume-bridge bench --load/--soak`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import preview_frames_per_second
from yume_bridge.tools.client import ClientOptions, ScriptStep, run_client

pytestmark = pytest.mark.asyncio

async def test_eight_concurrent_clients_each_get_a_fair_share(daemon_process):
    # 8 fps each keeps the 2-core CI machine out of overload; `bench --load` runs the full rate.
    port = daemon_process("--max-sessions", "8", "--fps", "8")
    # The expectation follows what this machine makes right now (8 sessions × 8 fps may be more than
    # a busy machine can), and the watch lasts long enough for several chunks per session.
    made_per_s = preview_frames_per_second(frames=29)
    each_per_s = min(8.0, made_per_s / 8)
    duration = max(5.0, 3 * 29 / each_per_s)
    options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0.0, 0.0), duration),), tail_s=0.5)
    summaries = await asyncio.gather(*(run_client(options) for _ in range(8)))
    frames = [s.frames_complete for s in summaries]
    assert all(not s.errors for s in summaries), [s.errors for s in summaries]
    assert min(frames) >= 0.6 * max(frames), frames  # round-robin: nobody gets much less than anybody
    assert min(frames) >= 0.3 * each_per_s * duration, (frames, made_per_s, duration)
    assert all(s.complete_ratio >= 0.9 for s in summaries)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_many_short_sessions_leave_memory_and_descriptors_bounded(daemon_process, monkeypatch):
    # Frame-sized buffers go back to the system when freed, so the resident size measures what is alive rather
    # than what glibc's heap kept for reuse (which varies by tens of MiB from run to run).
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    port = daemon_process("--max-sessions", "4", "--idle-timeout", "1")
    process = [p for p in _children() if str(port) in " ".join(p[1])][0][0]
    options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (1.0, 0.0), 0.6),), tail_s=0.1)
    await asyncio.gather(*(run_client(options) for _ in range(4)))
    await asyncio.sleep(1.5)  # measured at rest, as at the end: no session, nothing being made or sent
    baseline_rss, baseline_fds = _rss_kib(process), len(os.listdir(f"/proc/{process}/fd"))
    for _ in range(5):
        await asyncio.gather(*(run_client(options) for _ in range(4)))
    await asyncio.sleep(1.5)  # idle timeouts reclaim anything left
    assert len(os.listdir(f"/proc/{process}/fd")) == baseline_fds
    assert _rss_kib(process) < baseline_rss + 10_000  # 20 more sessions: measured within ±1 MiB


def _children():
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    out.append((int(pid), f.read().decode(errors="replace").split("\0")))
            except OSError:
                continue
    return [p for p in out if "yume_bridge" in p[1] and "serve" in p[1]]


async def test_sigterm_during_streaming_shuts_down_cleanly_within_five_seconds(tmp_path):
    from tests.conftest import free_udp_port
    from yume_bridge.tools.client import probe

    port = free_udp_port()
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "yume_bridge", "serve", "--port", str(port),
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60  # a loaded machine starts the daemon and its first chunk slowly
    while await probe("127.0.0.1", port, timeout_s=1.0) is None:
        assert time.monotonic() < deadline and process.returncode is None, "the daemon never answered"
    streaming = asyncio.Event()
    frames = []

    def on_frame(event) -> None:
        frames.append(event)
        if len(frames) > 10:
            streaming.set()

    client = asyncio.create_task(run_client(ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0, 0), 60.0),)),
                                            on_frame=on_frame))
    await asyncio.wait_for(streaming.wait(), deadline - time.monotonic())
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(process.wait(), 10)
    elapsed = time.monotonic() - sent
    summary = await asyncio.wait_for(client, 15)
    assert code == 0 and elapsed < 5.0
    assert "closed: shutdown" in summary.errors and summary.frames_complete > 10
