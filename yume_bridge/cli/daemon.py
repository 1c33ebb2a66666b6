"""`yume-bridge serve`: its options, the settings they make, and running the daemon until a signal."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import click

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
from yume_bridge.protocol.wire import DEFAULT_PORT

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


@click.command()
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
              help="yume and --simulate: decode a chunk on its own thread (and CUDA stream) while the next one is "
              "sampled (same frames; off: one after the other, for debugging).")
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
        from yume_bridge.daemon.backend_setup import build_backends

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
