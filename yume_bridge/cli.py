"""The ``yume-bridge`` command line: serve, client, discover, bench, check-weights."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import click

from yume_bridge import __version__
from yume_bridge.config import (
    DEFAULT_WEB_PORT,
    ActionConfig,
    BackendConfig,
    BridgeConfig,
    ConfigError,
    NetworkConfig,
    SimulatedGenerator,
    StreamConfig,
    WebConfig,
    load_toml,
    web_default,
    with_limits,
)
from yume_bridge.protocol.wire import DEFAULT_DATAGRAM, DEFAULT_PORT, MAX_DATAGRAM, Encoding

log = logging.getLogger("yume_bridge")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"time": round(record.created, 3), "level": record.levelname.lower(),
                           "logger": record.name, "message": record.getMessage()})


def _setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    text = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handler.setFormatter(_JsonFormatter() if fmt == "json" else text)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "yume-bridge"


def _stored_token() -> str:
    """The token kept in the user's config folder, made on first use."""
    path = _config_dir() / "token"
    if path.exists():
        token = path.read_text("utf-8").strip()
        click.echo(f"Clients need this daemon's token (stored in {path}): {token}", err=True)
        return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(18)
    path.write_text(token + "\n", "utf-8")
    path.chmod(0o600)
    click.echo(f"Generated a token for this daemon (stored in {path}):\n\n    {token}\n\n"
               "Give it to the plugin (Token field) or to `yume-bridge client --token`.", err=True)
    return token


def _read_config_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Fill option defaults from a TOML file (CLI flags still win)."""
    if value:
        known = {p.name for p in ctx.command.params if p.name not in ("config", "print_config")}
        try:
            ctx.default_map = {**(ctx.default_map or {}), **load_toml(Path(value), known)}
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@click.group()
@click.version_option(__version__, prog_name="yume-bridge")
def main() -> None:
    """Stream a generative world model into Unreal and Unity."""


@main.command()
@click.option("--config", type=click.Path(exists=True, dir_okay=False), callback=_read_config_file,
              is_eager=True, expose_value=False, help="TOML file with any of these options.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; beyond loopback needs a token.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--backend", type=click.Choice(["preview", "yume"]), default="preview", show_default=True)
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Default start image for clients that send none.")
@click.option("--weights", type=click.Path(path_type=Path), help="The Yume-5B-720P folder (yume backend).")
@click.option("--resolution", type=click.Choice(["544x960", "704x1280"]), default="544x960", show_default=True)
@click.option("--fps", default=16.0, show_default=True, type=float)
@click.option("--max-quality", default=95, show_default=True, type=click.IntRange(1, 100),
              help="Highest JPEG quality a client may ask for (bandwidth cap).")
@click.option("--frames-per-chunk", default=None, type=click.IntRange(1, 1000),
              help="preview backend: frames per chunk [default: 4 x latents-per-chunk - 3, i.e. 29].")
@click.option("--latents-per-chunk", default=8, show_default=True, type=click.IntRange(1, 8),
              help="Latents per chunk (the model was trained on 8); fewer answer input sooner (docs/latency.md).")
@click.option("--preempt", type=click.Choice(["auto", "latent", "off"]), default="auto", show_default=True,
              help="Cut a chunk at the next latent boundary when the action changes; auto: when generation "
                   "outpaces playback.")
@click.option("--simulate", default=None, metavar="PROFILE",
              help="preview backend: emulate the model's timing: h200, h200-bf16, h200-eager, "
                   "ttff=0.3,speed=1.5 or ttff=0.3,latent=0.04.")
@click.option("--steps", default=4, show_default=True, type=click.IntRange(1, 100))
@click.option("--shift", default=7.0, show_default=True, type=float)
@click.option("--device", default="auto", show_default=True)
@click.option("--devices", default="", help="Sessions across devices: one generation worker each, e.g. "
              "cuda:0,cuda:1 or all; a new session goes to the least loaded.")
@click.option("--sequence-parallel", default=1, show_default=True, type=click.IntRange(1, 64),
              help="yume: split the DiT over N processes on consecutive devices from --device (Ulysses; "
              "N divides 24); the daemon starts them, or torchrun does.")
@click.option("--dtype", type=click.Choice(["bfloat16", "float16", "float32"]), default="bfloat16",
              show_default=True)
@click.option("--compile/--no-compile", default=None,
              help="yume: torch.compile the DiT blocks while warming up [default: on with CUDA, off on CPU].")
@click.option("--attention", type=click.Choice(["auto", "cudnn", "fa3", "flash", "efficient", "math", "default"]),
              default="auto", show_default=True, help="yume: attention kernel; auto = fastest that runs.")
@click.option("--fp8/--no-fp8", default=False, show_default=True,
              help="yume: float8 linear layers in the DiT (needs torchao and an Ada/Hopper GPU).")
@click.option("--vae-dtype", type=click.Choice(["auto", "bfloat16", "float32"]), default="auto", show_default=True,
              help="yume: VAE precision (auto = bfloat16 on CUDA, float32 on CPU).")
@click.option("--vae-device", default=None,
              help="yume: decode on this device (e.g. cuda:1), pipelined with the next chunk's DiT on --device "
              "[default: --device].")
@click.option("--overlap/--no-overlap", default=True, show_default=True,
              help="yume: decode a chunk on its own thread and CUDA stream while the next one is sampled "
              "(same frames; off: one after the other, for debugging).")
@click.option("--decoder", type=click.Choice(["full", "tiny"]), default="full", show_default=True,
              help="yume: frames from the full Wan2.2 VAE or the ~50x cheaper TAEHV tiny decoder (softer detail).")
@click.option("--tiny-decoder", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="yume: the taew2_2 .pth/.safetensors file [default: looked for in --weights].")
@click.option("--vocabulary", type=click.Choice(["camera", "person"]), default="camera", show_default=True,
              help="Caption sentences for actions.")
@click.option("--speed/--no-speed", default=False, show_default=True, help="Add speed fields to captions.")
@click.option("--max-sessions", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--sessions-per-host", default=None, type=click.IntRange(1, 64),
              help="Sessions one remote machine may hold [default: all on loopback, half elsewhere].")
@click.option("--idle-timeout", default=10.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Seconds without packets before a session is closed.")
@click.option("--token", default=None, help="Shared token clients must prove.")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--advertise/--no-advertise", default=None, help="Zeroconf advertisement [default: on off loopback].")
@click.option("--web/--no-web", default=None,
              help="Serve the browser studio over HTTP/WebSocket [default: on at loopback, off elsewhere].")
@click.option("--web-port", default=DEFAULT_WEB_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port of the studio (0: any free port).")
@click.option("--stall-timeout", default=30.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a chunk may make no progress before it is given up.")
@click.option("--fail-every", default=0, type=click.IntRange(0), help="preview: fail every n-th chunk (drills).")
@click.option("--stall-at", default=0, type=click.IntRange(0), help="preview: hang once, on the n-th chunk (drills).")
@click.option("--record", "record_folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Record every session into this folder (one .ybr file per session; see docs/recording.md).")
@click.option("--record-limit", default=256, show_default=True, type=click.IntRange(1),
              help="Largest recording, in MiB (inputs stop being recorded first).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text")
@click.option("--print-config", is_flag=True, help="Print the effective settings and where each came from, then exit.")
def serve(**options: Any) -> None:
    """Run the daemon (the preview world by default: no GPU, no weights)."""
    if options.pop("print_config"):
        _print_config(click.get_current_context(), options)
        return
    _setup_logging(options["log_level"], options["log_format"])
    try:
        config = config_from_options(options)
        from yume_bridge.daemon.app import build_backends

        backend = build_backends(config)
    except (ConfigError, ImportError) as exc:
        raise click.ClickException(str(exc)) from None
    if config.backend.sequence_parallel > 1 and _follows_under_torchrun():
        backend[0].follow()  # torchrun's ranks > 0 hold a DiT for rank 0, which serves
        return
    _run_until_signal(config, backend, recording=_daemon_recording(options, config))


def _follows_under_torchrun() -> bool:
    from yume_bridge.model.parallel_launch import torchrun_rank

    started = torchrun_rank()
    return started is not None and started[0] > 0


def _daemon_recording(options: dict[str, Any], config: BridgeConfig):
    if options.get("record_folder") is None:
        return None
    from yume_bridge.daemon.recorder import DaemonRecordingOptions

    image = config.backend.image.read_bytes() if config.backend.image is not None else None
    return DaemonRecordingOptions(folder=options["record_folder"], limit_bytes=options["record_limit"] << 20,
                                  default_image=image)


def _simulated(options: dict[str, Any]) -> SimulatedGenerator | None:
    if not options.get("simulate"):
        return None
    if options["backend"] != "preview":
        raise ConfigError("--simulate emulates the model's timing with the preview backend only")
    return SimulatedGenerator.parse(options["simulate"], latents_per_chunk=options.get("latents_per_chunk", 8),
                                    fps=options["fps"])


def _print_config(ctx: click.Context, options: dict[str, Any]) -> None:
    """One line per setting: its value and whether it came from a flag, the config file or the default."""
    sources = {click.core.ParameterSource.COMMANDLINE: "command line",
               click.core.ParameterSource.DEFAULT_MAP: "config file",
               click.core.ParameterSource.ENVIRONMENT: "environment",
               click.core.ParameterSource.DEFAULT: "default"}
    names = [p.name for p in ctx.command.params if p.name in options]
    width = max(map(len, names))
    for name in names:
        value = options[name]
        shown = "(hidden)" if name == "token" and value else value
        shown = "auto" if shown is None and name in ("advertise", "web") else shown
        source = sources.get(ctx.get_parameter_source(name), "default")
        click.echo(f"{name.replace('_', '-'):<{width}}  {shown!s:<24}  {source}")


def config_from_options(options: dict[str, Any]) -> BridgeConfig:
    token = options.get("token")
    if options.get("token_file"):
        token = Path(options["token_file"]).read_text("utf-8").strip()
    network = NetworkConfig(host=options["host"], port=options["port"], token=token,
                            advertise=options.get("advertise"), sessions_per_host=options.get("sessions_per_host"))
    if not network.loopback and not token:
        network = dataclasses.replace(network, token=_stored_token())
    config = BridgeConfig(
        network=network,
        stream=StreamConfig(fps=options["fps"], max_quality=options["max_quality"], resolution=options["resolution"],
                            frames_per_chunk=options.get("frames_per_chunk"),
                            latents_per_chunk=options.get("latents_per_chunk", 8),
                            preempt=options.get("preempt", "auto")),
        actions=ActionConfig(vocabulary=options["vocabulary"], speed=options["speed"]),
        web=WebConfig(enabled=web_default(network, options.get("web")),
                      port=options.get("web_port", DEFAULT_WEB_PORT)),
        backend=BackendConfig(name=options["backend"], image=options.get("image"), weights=options.get("weights"),
                              device=options["device"], devices=_devices(options.get("devices") or ""),
                              dtype=options["dtype"], vae_dtype=options.get("vae_dtype", "auto"),
                              decoder=options.get("decoder", "full"), tiny_decoder=options.get("tiny_decoder"),
                              steps=options["steps"],
                              shift=options["shift"], stall_timeout=options.get("stall_timeout", 30.0),
                              fail_every=options.get("fail_every", 0), stall_at=options.get("stall_at", 0),
                              compile=options.get("compile"), attention=options.get("attention", "auto"),
                              fp8=options.get("fp8", False), simulate=_simulated(options),
                              sequence_parallel=options.get("sequence_parallel", 1),
                              vae_device=options.get("vae_device") or None, overlap=options.get("overlap", True)),
        log_level=options["log_level"], log_format=options["log_format"])
    return with_limits(config, max_sessions=options["max_sessions"],
                       idle_timeout_ms=int(options["idle_timeout"] * 1000))


def _devices(text: str) -> tuple[str, ...]:
    devices = tuple(part.strip() for part in text.split(",") if part.strip())
    if "all" in devices and len(devices) > 1:
        raise ConfigError("--devices is either 'all' or a list such as cuda:0,cuda:1")
    return devices


def _run_until_signal(config: BridgeConfig, backend, recording=None) -> None:
    from yume_bridge.daemon.app import SHUTDOWN_TIMEOUT_S, run_bridge

    async def main_task() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = {"count": 0}

        def on_signal() -> None:
            signals["count"] += 1
            if signals["count"] > 1:
                log.warning("second signal: exiting now")
                os._exit(1)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal)
            except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C arrives as KeyboardInterrupt
                pass
        task = asyncio.create_task(run_bridge(config, stop=stop, backend=backend, recording=recording))
        done, _ = await asyncio.wait({task, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # a start-up failure (e.g. port in use)
            return
        try:
            await asyncio.wait_for(task, SHUTDOWN_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("shutdown took longer than %.0f s; exiting", SHUTDOWN_TIMEOUT_S)

    try:
        asyncio.run(main_task())
    except KeyboardInterrupt:
        pass
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {config.network.host}:{config.network.port}: "
                                   f"{exc.strerror or exc}") from None


@main.command()
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


@main.command()
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


@main.command("check-weights")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--tiny-decoder", type=click.Path(path_type=Path),
              help="Also check this taew2_2 tiny-decoder file (one in FOLDER is always checked).")
def check_weights_command(folder: Path, tiny_decoder: Path | None) -> None:
    """Check a Yume-5B-720P folder: files, keys, shapes, dtypes; no tensor is loaded."""
    from yume_bridge.model.layout import find_tiny_decoder, missing_files

    if not folder.is_dir() or not any(folder.iterdir()):
        click.echo(missing_files(folder)[0])
        raise SystemExit(1)
    click.echo(f"checking {folder} (loading torch first, a few seconds) ...", err=True)
    try:
        from yume_bridge.model.checkweights import check_weights
    except ImportError as exc:
        raise click.ClickException(f"the model extra is not installed ({exc}); "
                                   "pip install 'yume-bridge[model]'") from None
    problems = check_weights(folder, tiny_decoder=tiny_decoder or find_tiny_decoder(folder))
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise SystemExit(1)
    click.echo(f"{folder}: all files, keys, shapes and dtypes match")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--seconds", default=4.0, show_default=True, type=float, help="Length of each streaming measurement.")
@click.option("--quality", default=85, show_default=True, type=click.IntRange(1, 100))
@click.option("--loss", is_flag=True, help="Instead: frames complete through a lossy link at 0.5/1/2/5% loss.")
@click.option("--load", "clients", type=click.IntRange(1, 64), default=None,
              help="Instead: this many concurrent clients for --seconds.")
@click.option("--load-fps", default=16.0, show_default=True, type=float, help="Frame rate of each --load client.")
@click.option("--soak", "soak_minutes", type=float, default=None, help="Instead: sessions come and go for N minutes.")
@click.option("--transports", "compare_transports", is_flag=True,
              help="Instead: the reference client over UDP and over WebSocket, alternating rounds.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 50), help="Rounds of --transports.")
@click.option("--attack", is_flag=True, help="Instead: amplification, NACK flood, floods from one session, and "
              "start-image memory, each against a daemon process (docs/SECURITY.md).")
@click.option("--latency", is_flag=True,
              help="Instead: key change to frame, pre-emption off/on x speed 1/1.5/3x x 8/4 latents (about 5 min).")
@click.option("--ttff", default=0.3, show_default=True, type=click.FloatRange(0.0, 10.0),
              help="With --latency: the emulated time to first frame, seconds.")
def bench(as_json: bool, seconds: float, quality: int, loss: bool, clients: int | None, load_fps: float,
          soak_minutes: float | None, compare_transports: bool, rounds: int, attack: bool, latency: bool,
          ttff: float) -> None:
    """Measure JPEG, the bridge's per-frame cost, sustained frame rate and input latency on this machine."""
    from yume_bridge.tools.bench import (
        format_latency_table,
        format_loss_table,
        format_table,
        format_transport_table,
        latency_matrix,
        load,
        lossy_link,
        run_benchmarks,
        soak,
        transports,
    )

    if latency:
        rows = asyncio.run(latency_matrix(ttff_s=ttff, seconds=max(seconds, 20.0)))
        click.echo(json.dumps(rows, indent=2) if as_json else format_latency_table(rows))
        return
    if compare_transports:
        figures = asyncio.run(transports(max(seconds, 6.0), rounds=rounds, quality=quality))
        click.echo(json.dumps(figures, indent=2) if as_json else format_transport_table(figures))
        return

    if clients is not None:
        click.echo(json.dumps(asyncio.run(load(clients, max(seconds, 6.0), load_fps)), indent=2))
        return
    if attack:
        from yume_bridge.tools.attack import run_attacks

        click.echo(json.dumps(asyncio.run(run_attacks(max(seconds, 3.0))), indent=2))
        return
    if soak_minutes is not None:
        click.echo(json.dumps(asyncio.run(soak(soak_minutes)), indent=2))
        return
    if loss:
        rows = asyncio.run(lossy_link(seconds=max(seconds, 8.0), quality=quality))
        click.echo(json.dumps(rows, indent=2) if as_json else format_loss_table(rows))
        return
    results = asyncio.run(run_benchmarks(seconds=seconds, quality=quality))
    click.echo(json.dumps(results, indent=2) if as_json else format_table(results))


@main.command()
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


@main.command()
@click.option("--recording", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The session recording to include.")
@click.option("--log", "logs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A log file to include (repeatable; the last 5 MiB of each).")
@click.option("--host", default=None, help="Also ask this daemon for its versions and status.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--token", default=None)
@click.option("--timeout", default=3.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds to wait for the daemon's answer (--host).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The zip to write [default: yume-bridge-report-<time>.zip].")
@click.option("--force", is_flag=True, help="Overwrite an existing report.")
def report(recording: Path | None, logs: tuple[Path, ...], host: str | None, port: int, token: str | None,
           timeout: float, output: Path | None, force: bool) -> None:
    """Bundle a recording, versions, the last status and latency, and logs into one zip for a bug report."""
    import time

    from yume_bridge.tools.report import query_daemon, write_report

    output = output or Path(time.strftime("yume-bridge-report-%Y%m%d-%H%M%S.zip"))
    daemon = asyncio.run(query_daemon(host, port, token, timeout)) if host else None
    try:
        names = write_report(output, recording=recording, logs=logs, daemon=daemon, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {output} ({', '.join(names)})")
