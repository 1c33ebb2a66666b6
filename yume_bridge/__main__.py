"""``python -m yume_bridge`` runs the command line."""

from yume_bridge.cli import main

main()
