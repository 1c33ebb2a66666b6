"""yume_bridge: a daemon that streams a generative world model into game engines."""

__version__ = "0.1.0"
