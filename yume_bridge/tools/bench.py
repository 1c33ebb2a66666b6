"""``yume-bridge bench``: what the bridge costs on this machine, measured side by side in one run.

1. Bare JPEG encode per frame at 960×544 and 1280×704 (preview-world content).
2. The bridge's whole per-frame cost over loopback for one session: encode →
   fragment → send → receive → reassemble, against the bare encode.
3. The sustained frame rate one session streams from a daemon process (preview
   backend at a high fps), with frames lost.
4. Input-to-frame latency with the preview backend at its default settings.
5. (``--transports``) The reference client over UDP and over the studio's WebSocket, in
   alternating rounds against one daemon: frames complete, frame rate, input-to-frame latency.

``--latency`` instead measures how soon a key change shows, with the preview
world emulating the model's timing: pre-emption off/on × generation at 1×,
1.5× and 3× real time × 8 and 4 latents per chunk (docs/latency.md).
"""

from __future__ import annotations

import asyncio
import io
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np

from yume_bridge.actions import Action, Look, Movement
from yume_bridge.backends.base import ChunkRequest, StartRequest, WorldSpec
from yume_bridge.backends.preview import PreviewBackend
from yume_bridge.daemon.frames import encode_jpeg
from yume_bridge.protocol.client import MAX_PLAYOUT_DELAY_S, ClientEndpoint
from yume_bridge.protocol.fragment import Reassembler
from yume_bridge.protocol.handshake import ServerInfo
from yume_bridge.protocol.messages import Vocabulary
from yume_bridge.protocol.server import DaemonEndpoint
from yume_bridge.protocol.wire import MAX_DATAGRAM
from yume_bridge.tools.client import STAGES, ClientOptions, ScriptStep, Transport, run_client
from yume_bridge.tools.netem import LinkProfile, LossyRelay


def preview_frames(width: int, height: int, count: int = 29):
    spec = WorldSpec("preview", "preview", "1", width, height, 16.0, count)
    world = PreviewBackend(spec=spec).open_world(StartRequest(None, "a harbour town at noon", 7))
    request = ChunkRequest(0, Action(Movement.W, Look.RIGHT), ("a dragon circles the tower",), "")
    return list(world.generate_chunk(request))


def bare_encode_ms(frames, quality: int, repeats: int = 3) -> float:
    timings = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for frame in frames:
            encode_jpeg(frame, quality)
        timings.append((time.perf_counter() - t0) / len(frames) * 1e3)
    return statistics.median(timings)


def _paired_endpoints(width: int, height: int):
    info = ServerInfo(daemon_version="bench", backend="preview", model="preview", model_version="1", width=width,
                      height=height, fps=16.0, frames_per_chunk=29,
                      vocabulary=Vocabulary(name="camera", version="1", movement=("None",) * 9, look=("x",) * 9))
    daemon = DaemonEndpoint(info=info, token=None)
    client = ClientEndpoint()
    return daemon, client


def bridge_cost_ms(frames, quality: int, repeats: int = 3) -> dict:
    """encode → fragment → sendto → recv → reassemble over real loopback sockets, per frame."""
    height, width = frames[0].shape[:2]
    daemon, client = _paired_endpoints(width, height)
    server_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for sock in (server_sock, client_sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        sock.bind(("127.0.0.1", 0))
    client_address = client_sock.getsockname()
    client.connect(0.0)
    for _ in range(3):  # handshake over the same sockets
        for datagram in client.datagrams_to_send():
            daemon.receive_datagram(datagram, client_address, 0.0)
        for datagram, _ in daemon.datagrams_to_send():
            client.receive_datagram(datagram, 0.0)
    session = daemon.session_ids[0]
    reassembler = Reassembler(session)
    timings, complete, datagrams = [], 0, 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for index, frame in enumerate(frames):
            jpeg = encode_jpeg(frame, quality)
            daemon.send_frame(session, jpeg=jpeg, chunk=0, frame_in_chunk=index, last_in_chunk=False, input_seq=0,
                              action=0, now=time.monotonic())
            outgoing = daemon.datagrams_to_send()
            datagrams += len(outgoing)
            for datagram, _ in outgoing:
                server_sock.sendto(datagram, client_address)
            for _ in outgoing:
                complete += len(reassembler.push(client_sock.recv(65536), 0.0))
        timings.append((time.perf_counter() - t0) / len(frames) * 1e3)
    server_sock.close()
    client_sock.close()
    return {"per_frame_ms": statistics.median(timings), "frames": repeats * len(frames), "complete": complete,
            "datagrams_per_frame": datagrams / (repeats * len(frames))}


_daemon_pids: list[int] = []


def last_daemon_pid() -> int:
    """The process id of the newest ``daemon_process``."""
    return _daemon_pids[-1]


@contextmanager
def daemon_process(*args: str):
    """A ``yume-bridge serve`` subprocess on a free loopback port (the studio off unless ``--web-port`` is given)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    web = () if "--web-port" in args else ("--no-web",)
    process = subprocess.Popen([sys.executable, "-m", "yume_bridge", "serve", "--port", str(port),
                                "--log-level", "warning", *web, *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _daemon_pids.append(process.pid)
    try:
        time.sleep(1.0)
        if process.poll() is not None:
            raise RuntimeError(f"daemon exited: {process.stderr.read().decode()}")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


async def sustained_stream(seconds: float, quality: int, fps: float) -> dict:
    with daemon_process("--fps", str(fps), "--max-quality", "100") as port:
        options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (1.0, 0.0), seconds),), tail_s=0.5,
                                fps=fps, quality=quality)
        summary = await run_client(options)
    return {"requested_fps": fps, "fps": summary.fps, "frames_complete": summary.frames_complete,
            "frames_lost": summary.frames_lost, "complete_ratio": summary.complete_ratio, "errors": summary.errors}


async def input_latency(seconds: float) -> dict:
    with daemon_process() as port:
        half = seconds / 2
        options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0.0, 0.0), half),
                                                   ScriptStep((0.0, 1.0), (1.0, 0.0), half)), tail_s=2.0)
        summary = await run_client(options)
    return {"latency_ms": summary.latency_ms, "chunk_ms": round(29 / 16 * 1000, 1),
            "actions_applied": summary.actions, "complete_ratio": summary.complete_ratio}


async def load(clients: int, seconds: float, fps: float = 16.0) -> dict:
    """``clients`` sessions at once on one daemon process: per-session rate, fairness, latency, losses."""
    with daemon_process("--max-sessions", str(clients), "--fps", str(fps)) as port:
        options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (0.0, 0.0), seconds / 2),
                                                   ScriptStep((0.0, 1.0), (1.0, 0.0), seconds / 2)), tail_s=1.0)
        summaries = await asyncio.gather(*(run_client(options) for _ in range(clients)))
    rates = [s.fps for s in summaries]
    p50s = [s.latency_ms.get("p50", 0.0) for s in summaries]
    return {"clients": clients, "fps_requested": fps, "fps_per_session": rates,
            "fairness_min_over_max": round(min(rates) / max(rates), 3) if max(rates) else 0.0,
            "latency_p50_ms_per_session": p50s, "frames_lost": sum(s.frames_lost for s in summaries),
            "frames_complete": sum(s.frames_complete for s in summaries),
            "errors": sorted({e for s in summaries for e in s.errors})}


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _transport_row(fps: float, transport: Transport, summaries: list) -> dict:
    p50s = [s.latency_ms.get("p50", 0.0) for s in summaries]
    p90s = [s.latency_ms.get("p90", 0.0) for s in summaries]
    return {"fps_requested": fps, "transport": transport.value,
            "frames_received": sum(s.frames_received for s in summaries),
            "frames_complete": sum(s.frames_complete for s in summaries),
            "fps_median": statistics.median(s.fps for s in summaries),
            "first_frame_s_median": statistics.median(s.first_frame_s or 0.0 for s in summaries),
            "latency_p50_ms_median": round(statistics.median(p50s), 1),
            "latency_p90_ms_median": round(statistics.median(p90s), 1),
            "errors": sorted({e for s in summaries for e in s.errors})}


TRANSPORT_RATES = (16.0, 120.0)
"""The preview's playback rate (latency), and a rate that asks the transport for throughput."""


async def transports(seconds: float, rounds: int = 3, quality: int = 85) -> dict:
    """The reference client over UDP and over WebSocket, alternating rounds against one daemon process per rate."""
    rows = []
    for fps in TRANSPORT_RATES:
        web_port = _free_tcp_port()
        with daemon_process("--fps", str(fps), "--max-quality", "100", "--web-port", str(web_port)) as port:
            script = (ScriptStep((0.0, 1.0), (0.0, 0.0), seconds / 2),
                      ScriptStep((0.0, 1.0), (1.0, 0.0), seconds / 2))
            common = dict(script=script, tail_s=1.5, fps=fps, quality=quality)
            over = {Transport.UDP: ClientOptions(port=port, **common),
                    Transport.WEBSOCKET: ClientOptions(port=web_port, transport=Transport.WEBSOCKET,
                                                       max_datagram=MAX_DATAGRAM, **common)}
            summaries: dict = {transport: [] for transport in over}
            for index in range(rounds):
                order = list(over) if index % 2 == 0 else list(reversed(over))  # noise hits both alike
                for transport in order:
                    summaries[transport].append(await run_client(over[transport]))
        rows += [_transport_row(fps, transport, runs) for transport, runs in summaries.items()]
    return {"rounds": rounds, "seconds": seconds, "quality": quality, "rows": rows}


def format_transport_table(results: dict) -> str:
    lines = [f"reference client, UDP vs WebSocket: {results['rounds']} alternating rounds of "
             f"{results['seconds']:g} s each, q{results['quality']} (medians over rounds)", "",
             f"{'fps asked':>9} {'transport':<9} {'complete/received':>18} {'fps':>7} {'first frame':>12} "
             f"{'input→frame p50':>16} {'p90':>8}"]
    for row in results["rows"]:
        errors = f"  errors: {row['errors']}" if row["errors"] else ""
        lines.append(f"{row['fps_requested']:>9g} {row['transport']:<9} "
                     f"{row['frames_complete']:>8}/{row['frames_received']:<9} {row['fps_median']:>7.2f} "
                     f"{row['first_frame_s_median']:>10.2f} s {row['latency_p50_ms_median']:>13.1f} ms "
                     f"{row['latency_p90_ms_median']:>5.0f} ms{errors}")
    return "\n".join(lines)


def _process_figures(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def soak(minutes: float, clients: int = 4) -> dict:
    """Sessions come and go for ``minutes``; RSS and open descriptors of the daemon over time (Linux)."""
    samples = []
    with daemon_process("--max-sessions", str(clients), "--idle-timeout", "2") as port:
        pid = _daemon_pids[-1]
        end = time.monotonic() + minutes * 60
        options = ClientOptions(port=port, script=(ScriptStep((0.0, 1.0), (1.0, 0.0), 20.0),), tail_s=0.2)
        while time.monotonic() < end:
            await asyncio.gather(*(run_client(options) for _ in range(clients)))
            rss, fds = _process_figures(pid)
            samples.append({"t_s": round(minutes * 60 - (end - time.monotonic()), 1), "rss_kib": rss, "fds": fds})
    rss_values = [s["rss_kib"] for s in samples]
    return {"minutes": minutes, "samples": samples, "rss_first_kib": rss_values[0], "rss_last_kib": rss_values[-1],
            "rss_max_kib": max(rss_values), "fds_first": samples[0]["fds"], "fds_last": samples[-1]["fds"]}


LOSS_LEVELS = (0.005, 0.01, 0.02, 0.05)


async def lossy_link(seconds: float, quality: int, fps: float = 30.0) -> list[dict]:
    """Frames displayed complete, extra bandwidth and latency through a lossy, reordering, duplicating link.

    Each loss rate is run twice, with the playout delay of SPEC §6.3 and with frames shown at once (the v1.0
    policy), one after the other so that machine load hits both alike.
    """
    rows = []
    with daemon_process("--fps", str(fps), "--max-quality", "100") as port:
        for loss in (0.0, *LOSS_LEVELS):
            row: dict = {"loss": loss}
            for policy, delay in (("held", MAX_PLAYOUT_DELAY_S), ("at_once", 0.0)):
                profile = LinkProfile(loss=loss, reorder=0.01, duplicate=0.005, seed=int(loss * 1000) + 1)
                relay = LossyRelay(port, profile)
                async with relay as relay_port:
                    options = ClientOptions(port=relay_port, script=(ScriptStep((0.0, 1.0), (1.0, 0.0), seconds),),
                                            tail_s=0.5, fps=fps, quality=quality, max_playout_delay_s=delay)
                    summary = await run_client(options)
                counters = relay.counters
                original = counters.downstream_bytes - counters.retransmitted_bytes
                row[policy] = {"frames": summary.frames_received, "complete": summary.frames_complete,
                               "complete_ratio": summary.complete_ratio,
                               "extra_bandwidth": round(counters.retransmitted_bytes / max(original, 1), 4),
                               "latency_p50_ms": summary.latency_ms.get("p50"),
                               "latency_p90_ms": summary.latency_ms.get("p90"), "errors": summary.errors}
            rows.append(row)
    return rows


@contextmanager
def busy_processes(count: int):
    """``count`` processes that keep one core each busy (a machine carrying other work), for as long as the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


async def run_benchmarks(seconds: float = 4.0, quality: int = 85) -> dict:
    results: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform()}, "quality": quality}
    for width, height in ((960, 544), (1280, 704)):
        frames = preview_frames(width, height)
        # Alternate the two measurements so that machine noise hits both alike.
        rounds = [(bare_encode_ms(frames, quality, repeats=1), bridge_cost_ms(frames, quality, repeats=1))
                  for _ in range(5)]
        bare = statistics.median(r[0] for r in rounds)
        bridge = {"per_frame_ms": statistics.median(r[1]["per_frame_ms"] for r in rounds),
                  "datagrams_per_frame": rounds[0][1]["datagrams_per_frame"],
                  "complete": sum(r[1]["complete"] for r in rounds), "frames": sum(r[1]["frames"] for r in rounds)}
        results[f"{width}x{height}"] = {
            "jpeg_encode_ms": round(bare, 3),
            "bridge_per_frame_ms": round(bridge["per_frame_ms"], 3),
            "bridge_over_encode": round(bridge["per_frame_ms"] / bare, 3),
            "datagrams_per_frame": round(bridge["datagrams_per_frame"], 1),
            "loopback_frames_complete": f"{bridge['complete']}/{bridge['frames']}",
        }
    results["sustained_960x544"] = await sustained_stream(seconds, quality, 120.0)
    results["sustained_960x544_max"] = await sustained_stream(seconds, quality, 240.0)
    results["input_latency_preview"] = await input_latency(max(seconds, 6.0))
    return results


LATENCY_SPEEDS = (1.0, 1.5, 3.0)
LATENCY_LATENTS = (8, 4)
_KEYS = ((0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0))  # W, D, S, A: each differs from the one before


def key_changes(seconds: float, seed: int) -> tuple[ScriptStep, ...]:
    """Keys held for 2.4–3.4 s each (seeded): changes fall at every phase of a chunk, and most are held long
    enough to show even without pre-emption (a chunk applies the mean of the inputs since the last one)."""
    rng = random.Random(seed)
    steps, total = [ScriptStep(_KEYS[0], (0.0, 0.0), 1.5)], 1.5
    while total < seconds:
        hold = rng.uniform(2.4, 3.4)
        steps.append(ScriptStep(_KEYS[len(steps) % len(_KEYS)], (0.0, 0.0), hold))
        total += hold
    return tuple(steps)


def _start_image() -> bytes:
    """A synthetic picture to start from (a text start would draw a scene first, which takes seconds)."""
    from PIL import Image

    x = np.linspace(0, 255, 960, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, 544, dtype=np.float32)[:, None]
    rgb = np.stack([x + 0 * y, (x * 0.3 + y * 0.7) % 256, 255 - y + 0 * x], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def latency_matrix(*, ttff_s: float = 0.3, seconds: float = 20.0, seed: int = 1) -> list[dict]:
    """Key change → first frame showing it, per pre-emption policy, generator speed and chunk length."""
    image = _start_image()
    rows = []
    for latents in LATENCY_LATENTS:
        for speed in LATENCY_SPEEDS:
            for preempt in ("off", "latent"):
                with daemon_process("--simulate", f"ttff={ttff_s},speed={speed}", "--latents-per-chunk",
                                    str(latents), "--preempt", preempt) as port:
                    options = ClientOptions(port=port, image=image, script=key_changes(seconds, seed), tail_s=1.5)
                    summary = await run_client(options)
                figures = summary.action_latency_ms
                rows.append({"preempt": preempt, "speed": speed, "latents_per_chunk": latents,
                             "ttff_ms": round(ttff_s * 1e3, 1), "p50_ms": figures.get("p50"),
                             "p90_ms": figures.get("p90"), "wasted_fraction": summary.wasted,
                             "changes": figures.get("count", 0), "cuts": summary.cuts,
                             "input_consumed_p50_ms": summary.latency_ms.get("p50"),
                             "stages_ms": summary.stages_ms, "frames_lost": summary.frames_lost,
                             "errors": summary.errors})
    return rows


def format_latency_table(rows: list[dict]) -> str:
    lines = ["key change -> first frame showing it (preview world emulating the model's timing)", "",
             f"{'preempt':>7} {'speed':>5} {'latents':>7} {'ttff ms':>7} {'p50 ms':>7} {'p90 ms':>7} {'wasted':>7} "
             f"{'n':>3}  median stages (ms): " + " ".join(stage.removesuffix("_ms") for stage in STAGES)]
    for row in rows:
        stages = " ".join(f"{row['stages_ms'].get(stage, 0):.0f}" for stage in STAGES)
        wasted = f"{row['wasted_fraction']:.1%}" if row["wasted_fraction"] is not None else "-"
        lines.append(f"{row['preempt']:>7} {row['speed']:>5g} {row['latents_per_chunk']:>7} {row['ttff_ms']:>7.0f} "
                     f"{row['p50_ms']!s:>7} {row['p90_ms']!s:>7} {wasted:>7} {row['changes']:>3}  {stages}")
    return "\n".join(lines)


def format_loss_table(rows: list[dict]) -> str:
    lines = ["lossy link (reorder 1%, duplicate 0.5%), 30 fps, 960x544; frames held behind a repair (SPEC §6.3) "
             "vs shown at once (v1.0):", "",
             f"{'loss':>6} {'policy':>8} {'frames':>7} {'complete':>9} {'ratio':>7} {'extra bw':>9} "
             f"{'latency p50/p90 ms':>20}"]
    for row in rows:
        for policy in ("held", "at_once"):
            run = row[policy]
            lines.append(f"{row['loss']:>6.1%} {policy:>8} {run['frames']:>7} {run['complete']:>9} "
                         f"{run['complete_ratio']:>7.2%} {run['extra_bandwidth']:>9.2%} "
                         f"{run['latency_p50_ms']!s:>9}/{run['latency_p90_ms']!s:<9}")
    return "\n".join(lines)


def format_table(results: dict) -> str:
    lines = [f"yume-bridge bench  (python {results['machine']['python']}, {results['machine']['cpus']} cpus, "
             f"q{results['quality']})", ""]
    lines.append(f"{'frame':<10} {'jpeg encode':>12} {'bridge/frame':>13} {'ratio':>6} {'datagrams':>10}")
    for key in ("960x544", "1280x704"):
        row = results[key]
        lines.append(f"{key:<10} {row['jpeg_encode_ms']:>9.2f} ms {row['bridge_per_frame_ms']:>10.2f} ms "
                     f"{row['bridge_over_encode']:>6.2f} {row['datagrams_per_frame']:>10.1f}")
    lines.append("")
    for key in ("sustained_960x544", "sustained_960x544_max"):
        stream = results[key]
        lines.append(f"sustained stream 960x544 at {stream['requested_fps']:g} fps requested: {stream['fps']} "
                     f"frames/s, {stream['frames_complete']} complete, {stream['frames_lost']} lost")
    latency = results["input_latency_preview"]
    figures = latency["latency_ms"]
    spread = "  ".join(f"{k} {figures[k]:.0f} ms" for k in ("p50", "p90", "p99", "max") if k in figures)
    lines.append(f"input-to-frame latency (preview, chunk {latency['chunk_ms']} ms): {spread or 'no input reflected'}")
    return "\n".join(lines)
