"""Protocol v1, sans-IO: codec, fragments, authentication and both endpoints' state machines.

Nothing here opens a socket or reads a clock; see protocol/SPEC.md for the wire format.
"""
