"""Shared fixtures: paired protocol endpoints, an in-process daemon, a daemon process."""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO / "protocol" / "vectors"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def jpeg_bytes(width: int = 320, height: int = 200, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    gradient = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None].repeat(height, 0).repeat(3, 2)
    noise = rng.integers(0, 40, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gradient // 2 + noise).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def preview_frames_per_second(width: int = 960, height: int = 544, frames: int = 15) -> float:
    """Preview frames (drawn and JPEG-encoded) this machine makes per second right now, world open included.

    Tests that share the generator between sessions scale their durations and expectations with this
    figure instead of assuming an idle machine.
    """
    from yume_bridge.actions import Action
    from yume_bridge.backends.base import ChunkRequest, StartRequest, WorldSpec
    from yume_bridge.backends.preview import PreviewBackend
    from yume_bridge.daemon.frames import encode_jpeg

    backend = PreviewBackend(spec=WorldSpec("preview", "preview", "1", width, height, 16.0, frames))
    began = time.perf_counter()
    world = backend.open_world(StartRequest(image=None, prompt="a measuring scene", seed=1))
    made = 0
    for index in range(2):
        for frame in world.generate_chunk(ChunkRequest(index=index, action=Action.from_id(0), events=(),
                                                       caption="")):
            encode_jpeg(frame, 85)
            made += 1
    return made / (time.perf_counter() - began)


@pytest.fixture
def start_image() -> bytes:
    return jpeg_bytes()


def wait_until_answering(port: int, process: subprocess.Popen, token: str | None = None,
                         timeout_s: float = 30.0) -> None:
    """Until the daemon at ``port`` answers a handshake (a loaded machine starts it slowly)."""
    from yume_bridge.tools.client import probe

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()
        # A thread of its own: async tests call this while their event loop runs.
        with ThreadPoolExecutor(1) as thread:
            answer = thread.submit(asyncio.run, probe("127.0.0.1", port, token=token, timeout_s=1.0)).result()
        if answer is not None:
            return
        time.sleep(0.2)
    raise AssertionError(f"the daemon on port {port} did not answer within {timeout_s:g} s")


@pytest.fixture
def daemon_process():
    """Start ``yume-bridge serve`` as a process; yields a function that returns its port."""
    processes = []

    def start(*args: str) -> int:
        port = free_udp_port()
        command = [sys.executable, "-m", "yume_bridge", "serve", "--port", str(port), "--web-port", "0", *args]
        process = subprocess.Popen(command,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        token = args[args.index("--token") + 1] if "--token" in args else None
        wait_until_answering(port, process, token)
        return port

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(8)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
async def bridge(request):
    """An in-process daemon with the preview backend; parametrise with a BridgeConfig via indirect."""
    from yume_bridge.config import BridgeConfig, NetworkConfig
    from yume_bridge.daemon.app import run_bridge

    config = getattr(request, "param", None) or BridgeConfig(network=NetworkConfig(port=0))
    stop = asyncio.Event()
    started: asyncio.Future = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_bridge(config, stop=stop, started=started))
    instance, address = await asyncio.wait_for(started, 10)
    yield instance, address[1]
    stop.set()
    await asyncio.wait_for(task, 10)
