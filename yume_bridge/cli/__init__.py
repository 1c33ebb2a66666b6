"""The ``yume-bridge`` command line: click commands only (parse, build a config, call one function).

daemon.py runs the daemon (serve); client.py connects to daemons (client, replay, discover); diagnostics.py
checks a set-up (check-weights, bench, report).
"""

from __future__ import annotations

import click

from yume_bridge import __version__
from yume_bridge.cli import client, daemon, diagnostics


@click.group()
@click.version_option(__version__, prog_name="yume-bridge")
def main() -> None:
    """Stream a generative world model into Unreal and Unity."""


main.add_command(daemon.serve)
main.add_command(client.client)
main.add_command(client.replay)
main.add_command(client.discover)
main.add_command(diagnostics.check_weights_command)
main.add_command(diagnostics.bench)
main.add_command(diagnostics.report)
