"""``yume-bridge report``: one zip to attach to an issue: the recording, versions, last status, latency, logs.

Everything in it is what the user gave (a recording, log files) or what this
machine and a reachable daemon say about themselves; nothing is sent anywhere.
Log files are cut to their last ``MAX_LOG_BYTES``.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import platform
import sys
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

from yume_bridge import __version__
from yume_bridge.daemon.udp import CallbackDatagramProtocol
from yume_bridge.protocol import recording as rec
from yume_bridge.protocol.client import ClientEndpoint, ClientState, Connected, StatusReceived
from yume_bridge.tools.export import refuse_existing
from yume_bridge.tools.recording import load_recording

MAX_LOG_BYTES = 5 * 1024 * 1024
PACKAGES = ("numpy", "pillow", "simplejpeg", "msgpack", "zeroconf", "click", "av", "torch", "diffusers",
            "transformers", "safetensors")


def versions() -> dict:
    """This machine: yume-bridge, Python, the platform, and the packages that shape generation and encoding."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"yume_bridge": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
            "machine": platform.machine(), "packages": found}


def recording_facts(recording: rec.Recording) -> dict:
    """What a recording says about the daemon, its model and the session's last moments."""
    header = recording.header
    chunks = list(recording.of_type(rec.Chunk))
    statuses = [r.fields for r in recording.of_type(rec.Status)]
    end = recording.end
    return {
        "recorded_by": header.recorder, "recorder_software": header.software, "created": header.created,
        "daemon_version": header.daemon_version, "backend": header.backend, "model": header.model,
        "model_version": header.model_version, "stream": f"{header.width}x{header.height}@{header.fps:g}",
        "frames_per_chunk": header.frames_per_chunk, "settings": header.settings,
        "chunks": len(chunks), "inputs": sum(1 for _ in recording.of_type(rec.Input)),
        "truncated": recording.truncated, "dropped": end.dropped if end else {},
        "last_status": (end.last_status if end and end.last_status else (statuses[-1] if statuses else None)),
        "client_summary": end.summary if end else None,
    }


async def query_daemon(host: str, port: int, token: str | None = None, timeout: float = 3.0) -> dict:
    """Connect briefly and return the daemon's welcome and first status (no world is started)."""
    client = ClientEndpoint(token=token, client="yume-bridge-report")
    found: dict = {}
    wake = asyncio.Event()

    def on_datagram(data: bytes, address: tuple) -> None:
        client.receive_datagram(data, time.monotonic())
        while (event := client.next_event()) is not None:
            match event:
                case Connected(welcome=welcome):
                    found["welcome"] = {k: v for k, v in asdict(welcome).items() if k not in ("nonce", "session",
                                                                                              "seq")}
                case StatusReceived(status=status):
                    found["status"] = {k: v for k, v in asdict(status).items() if k not in ("session", "seq")}
        wake.set()

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: CallbackDatagramProtocol(on_datagram),
                                                       remote_addr=(host, port))
    try:
        client.connect(time.monotonic())
        deadline = time.monotonic() + timeout
        while "status" not in found and time.monotonic() < deadline and client.state is not ClientState.CLOSED:
            for datagram in client.datagrams_to_send():
                transport.sendto(datagram)
            try:
                await asyncio.wait_for(wake.wait(), 0.05)
            except asyncio.TimeoutError:
                pass
            wake.clear()
            client.handle_timer(time.monotonic())
        if client.state is ClientState.CONNECTED:
            client.close(time.monotonic())
            for datagram in client.datagrams_to_send():
                transport.sendto(datagram)
    finally:
        transport.close()
    if not found:
        found["error"] = f"no answer from {host}:{port} within {timeout:g} s"
    return found


def _tail(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - MAX_LOG_BYTES))
        return f.read()


def write_report(output: Path, *, recording: Path | None = None, logs: tuple[Path, ...] = (),
                 daemon: dict | None = None, force: bool = False) -> list[str]:
    """Write the zip; returns the names inside it. A damaged recording goes in as is, with the reason."""
    refuse_existing(output, force)
    facts: dict = {"versions": versions()}
    if daemon is not None:
        facts["daemon"] = daemon
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if recording is not None:
            archive.write(recording, f"recording/{recording.name}")
            try:
                facts["recording"] = recording_facts(load_recording(recording, allow_truncated=True))
            except rec.RecordingError as exc:
                facts["recording"] = {"error": str(exc)}
        for log in logs:
            archive.writestr(f"logs/{log.name}", _tail(log))
        archive.writestr("report.json", json.dumps(facts, indent=2, ensure_ascii=False, default=str) + "\n")
        return archive.namelist()
