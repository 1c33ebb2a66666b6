"""Walk a world from concept art and fire gameplay events, as a plugin would, from Python.

    yume-bridge serve &                     # the preview world: no GPU needed
    python examples/walk_and_trigger.py concept.jpg --out frames/

The same library drives the CLI's `yume-bridge client`; engine plugins speak the same protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from yume_bridge.tools.client import ClientOptions, parse_script, run_client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", type=Path, nargs="?", help="start image (JPEG or PNG); omit for a text start")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=47800)
    parser.add_argument("--token")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    options = ClientOptions(
        host=args.host, port=args.port, token=args.token,
        image=args.image.read_bytes() if args.image else None,
        prompt="" if args.image else "a harbour town at dusk, lanterns along the quay",
        # Walk in, turn right while walking, look up, stand still.
        # Actions change once per chunk (1.8 s): steps of 2 s or more each show on screen.
        script=parse_script("W:3s,W+\u2192:2s,\u2191:2s,none:2s"),
        # A trigger volume and a quest script would send these.
        events=((1.0, "a dragon circles the tower"), (4.0, "it starts to rain")),
        output=args.out, reconnect=True)
    summary = asyncio.run(run_client(options))
    print(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
