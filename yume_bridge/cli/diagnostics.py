"""The commands that check a set-up: `check-weights` (a model folder), `bench` (this machine) and `report` (a
bug report's zip)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from yume_bridge.protocol.wire import DEFAULT_PORT


@click.command("check-weights")
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


@click.command()
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
@click.option("--busy", default=0, show_default=True, type=click.IntRange(0, 64),
              help="Keep this many extra processes busy while measuring (a machine carrying other work).")
@click.option("--ttff", default=0.3, show_default=True, type=click.FloatRange(0.0, 10.0),
              help="With --latency: the emulated time to first frame, seconds.")
def bench(as_json: bool, seconds: float, quality: int, loss: bool, clients: int | None, load_fps: float,
          soak_minutes: float | None, compare_transports: bool, rounds: int, attack: bool, latency: bool,
          ttff: float, busy: int) -> None:
    """Measure JPEG, the bridge's per-frame cost, sustained frame rate and input latency on this machine."""
    from yume_bridge.tools.bench import (
        busy_processes,
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

    with busy_processes(busy):
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


@click.command()
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
