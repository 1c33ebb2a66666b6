"""The commands that connect to daemons: `client` (a scripted session), `replay` (a recording again) and
`discover` (daemons on the LAN)."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from yume_bridge.config import DEFAULT_WEB_PORT
from yume_bridge.protocol.wire import DEFAULT_DATAGRAM, DEFAULT_PORT, MAX_DATAGRAM, Encoding


@click.command()
@click.option("--host", default=None, help="Daemon address [default: 127.0.0.1 if a daemon answers, else one "
              "found on the LAN].")
@click.option("--port", default=None, type=int, help=f"[default: {DEFAULT_PORT} over UDP, {DEFAULT_WEB_PORT} over ws]")
@click.option("--transport", type=click.Choice(["udp", "ws"]), default="udp", show_default=True,
              help="UDP, or the studio's WebSocket (the same protocol; frames never lost, never NACKed).")
@click.option("--token", default=None)
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Start image to upload.")
@click.option("--prompt", default="", help="Scene text (a text start when no image is given).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None)
@click.option("--script", default="W:2s,W+\u2192:2s,none:2s", show_default=True,
              help="Inputs to play: KEYS:DURATION, comma-separated (keys W A S D, looks \u2192 \u2190 \u2191 \u2193).")
@click.option("--event", "events", multiple=True, help="An event prompt at a time: '3s:a dragon circles the tower'.")
@click.option("--tail", default=2.5, show_default=True, type=float, help="Seconds to keep receiving after the script.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write received frames here.")
@click.option("--fps", default=0.0, type=float, help="Wanted fps [default: the daemon's].")
@click.option("--quality", default=85, type=click.IntRange(1, 100))
@click.option("--max-datagram", default=None, type=click.IntRange(576, 65000),
              help="Largest fragment datagram [default: 1200 over UDP, 65000 over ws].")
@click.option("--encoding", type=click.Choice(["msgpack", "json"]), default="msgpack", show_default=True)
@click.option("--preempt", type=click.Choice(["latent", "off"]), default=None,
              help="Ask the daemon to cut chunks at latent boundaries, or never [default: the daemon's policy].")
@click.option("--reconnect/--no-reconnect", default=True, show_default=True,
              help="Reconnect with backoff when the daemon restarts.")
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a session recording here (replay it with `yume-bridge replay`).")
@click.option("--record-frames", is_flag=True, help="Keep every received frame in the recording too.")
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path), help="Write the received stream as MP4.")
@click.option("--full-size", is_flag=True, help="--video at the stream's resolution (default: half size).")
@click.option("--captions", is_flag=True, help="--video with the applied action and the events burned in.")
@click.option("--force", is_flag=True, help="Overwrite an existing recording, video or frames.")
@click.option("--quiet", is_flag=True, help="Only the JSON summary; no progress lines on stderr.")
def client(**options: Any) -> None:
    """Play a scripted session against a daemon and print a JSON summary."""
    from yume_bridge.tools.client import ClientOptions, Transport, parse_script
    from yume_bridge.tools.outputs import client_outputs

    try:
        script = parse_script(options["script"])
        events = tuple(_parse_event(text) for text in options["events"])
        image = _start_image(options["image"]) if options["image"] else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    transport = Transport(options["transport"])
    over_websocket = transport is Transport.WEBSOCKET
    say = (lambda line: None) if options["quiet"] else (lambda line: click.echo(line, err=True))
    host = options["host"]
    port = options["port"] or (DEFAULT_WEB_PORT if over_websocket else DEFAULT_PORT)
    if host is None:
        host, port = ("127.0.0.1", port) if over_websocket else _choose_daemon(port, options["token"], say)
    client_options = ClientOptions(
        host=host, port=port, token=options["token"], image=image, prompt=options["prompt"],
        seed=options["seed"], script=script, events=events, tail_s=options["tail"], fps=options["fps"],
        quality=options["quality"], encoding=Encoding(options["encoding"]),
        max_datagram=options["max_datagram"] or (MAX_DATAGRAM if over_websocket else DEFAULT_DATAGRAM),
        output=options["out"], reconnect=options["reconnect"], transport=transport,
        preempt=options.get("preempt"))
    try:
        with client_outputs(client_options, record=options["record_path"], record_frames=options["record_frames"],
                            video=_video_options(options), force=options["force"]) as outputs:
            summary = _run_client_until_interrupted(outputs.client_options, say, observer=outputs.observer)
            outputs.finish(summary.as_dict(), progress=_progress_bar)
    except (FileExistsError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False))
    if not summary.connected or summary.frames_complete == 0:
        raise SystemExit(1)


def _run_client_until_interrupted(client_options, say, observer=None):
    """Run the client; Ctrl+C ends the session politely and still returns what arrived."""
    from yume_bridge.tools.client import run_client

    async def main_task():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_interrupt() -> None:
            say("interrupted: closing the session and writing what arrived")
            stop.set()

        try:
            loop.add_signal_handler(signal.SIGINT, on_interrupt)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C arrives as KeyboardInterrupt
            pass
        return await run_client(client_options, progress=say, stop=stop, observer=observer)

    return asyncio.run(main_task())


def _start_image(path: Path) -> bytes:
    """The start image's bytes, re-encoded smaller when they exceed what the daemon accepts."""
    from PIL import Image, UnidentifiedImageError

    from yume_bridge.protocol.wire import Limits

    data = path.read_bytes()
    try:
        with Image.open(path) as probe:
            probe.verify()
        if len(data) <= Limits().max_upload_bytes:
            return data
        with Image.open(path) as image:
            image.thumbnail((1280, 1280))  # the daemon resizes to at most 1280 wide anyway
            smaller = io.BytesIO()
            image.convert("RGB").save(smaller, format="JPEG", quality=92)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{path} is not an image Pillow can read (PNG, JPEG, WebP, ...): {exc}") from None
    click.echo(f"{path.name} is {len(data) / 2**20:.1f} MiB, over the daemon's "
               f"{Limits().max_upload_bytes // 2**20} MiB upload limit: sending it as a "
               f"{len(smaller.getvalue()) / 2**20:.1f} MiB JPEG of at most 1280 px", err=True)
    return smaller.getvalue()


def _parse_event(text: str) -> tuple[float, str]:
    at, _, words = text.partition(":")
    try:
        seconds = float(at.rstrip("s"))
    except ValueError:
        raise ValueError(f"event {text!r} is not TIME:TEXT (e.g. '3s:a dragon circles the tower')") from None
    if not words.strip():
        raise ValueError(f"event {text!r} has no text")
    return seconds, words.strip()


def _choose_daemon(port: int, token: str | None, say) -> tuple[str, int]:
    """This machine's daemon first, then the least loaded one advertising on the LAN; says which it chose."""
    from yume_bridge.daemon.discovery import browse, least_loaded
    from yume_bridge.tools.client import probe

    welcome = asyncio.run(probe("127.0.0.1", port, token=token))
    if welcome is not None:
        say(f"using the daemon on this machine, 127.0.0.1:{port} ({welcome.backend})")
        return "127.0.0.1", port
    say(f"no daemon answers on 127.0.0.1:{port}; looking on the LAN ...")
    chosen = least_loaded(asyncio.run(browse(1.5)))
    if chosen is not None:
        load = chosen.load
        busy = f", {load.sessions}/{load.max_sessions} sessions busy" if load is not None else ""
        say(f"using {chosen.name} at {chosen.host}:{chosen.port} (the least loaded on the LAN{busy}; "
            "--host picks another)")
        return chosen.host, chosen.port
    raise click.ClickException(f"no daemon answers on 127.0.0.1:{port} and none advertises on the LAN: start one "
                               "with `yume-bridge serve`, or give --host and --port")


def _video_options(options: dict[str, Any]):
    """(path, full size, captions) for --video, or None."""
    if options.get("video") is None:
        return None
    return options["video"], options["full_size"], options["captions"]


def _progress_bar(length: int, label: str):
    """A click progress bar on stderr (a context manager whose ``update(n)`` advances it)."""
    return click.progressbar(length=length, label=label, file=sys.stderr)


@click.command()
@click.option("--timeout", default=2.0, show_default=True, type=float)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def discover(timeout: float, as_json: bool) -> None:
    """List yume-bridge daemons on the local network."""
    from yume_bridge.daemon.discovery import browse

    found = asyncio.run(browse(timeout))
    if as_json:
        click.echo(json.dumps([d.__dict__ for d in found], indent=2))
        return
    if not found:
        click.echo("no daemon found (is it bound beyond loopback and advertising?)")
    for daemon in found:
        props, load = daemon.properties, daemon.load
        busy = (f"  {load.sessions}/{load.max_sessions} sessions on {load.devices} device(s), "
                f"streaming {load.fps:g} fps" if load is not None else "")
        click.echo(f"{daemon.host}:{daemon.port}  {props.get('backend')} {props.get('width')}x{props.get('height')}"
                   f"@{props.get('fps')}  token {props.get('token')}{busy}  ({daemon.name})")



@click.command()
@click.argument("recording", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write the replayed frames here.")
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path), help="Write the replay as MP4.")
@click.option("--full-size", is_flag=True, help="--video at the stream's resolution (default: half size).")
@click.option("--captions", is_flag=True, help="--video with the applied action and the events burned in.")
@click.option("--offline", is_flag=True, help="Generate in this process instead of asking a daemon.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The daemon to replay through.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--token", default=None)
@click.option("--backend", type=click.Choice(["preview", "yume"]), default=None,
              help="--offline: the backend [default: the recording's].")
@click.option("--weights", type=click.Path(path_type=Path), help="--offline with the yume backend: its folder.")
@click.option("--device", default=None, help="--offline: device [default: the recording's].")
@click.option("--dtype", type=click.Choice(["bfloat16", "float16", "float32"]), default=None,
              help="--offline: DiT dtype [default: the recording's].")
@click.option("--force", is_flag=True, help="Overwrite existing frames or video.")
def replay(recording: Path, **options: Any) -> None:
    """Make a recorded session again, chunk by chunk, and check that the daemon applied the same actions."""
    from yume_bridge.protocol.recording import RecordingError
    from yume_bridge.tools.outputs import ReplayRequest, run_replay

    request = ReplayRequest(recording=recording, out=options["out"], video=_video_options(options),
                            offline=options["offline"], host=options["host"], port=options["port"],
                            token=options["token"], backend=options["backend"], weights=options["weights"],
                            device=options["device"], dtype=options["dtype"], force=options["force"])
    try:
        result = run_replay(request, warn=lambda line: click.echo(f"warning: {line}", err=True),
                            progress=_progress_bar)
    except (RecordingError, FileExistsError, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))

