"""Peer addresses and path validation (SPEC §3.1, §3.4), sans-IO.

Before an address is validated the daemon answers it with at most three times the bytes it sent, so a forged
source address cannot turn the daemon into an amplifier. A session moves its stream to a new address only once
the client answered a challenge there (1.1), or, for a client that cannot answer (1.0), once its old address
fell silent.
"""

from __future__ import annotations

from dataclasses import dataclass

Address = tuple
UNVALIDATED_AMPLIFICATION = 3
"""Before an address is validated, at most this many times the bytes it sent (RFC 9000 §8)."""
PATH_SILENCE_S = 2.0
"""A client that cannot answer path challenges (v1.0) moves once its old address was silent this long."""
PATH_CHALLENGE_INTERVAL_S = 0.25


def is_socket_address(address: Address) -> bool:
    """A plain (host, port[, flow, scope]) tuple, as a datagram socket reports its peers. Other transports name
    their peers with types of their own (a WebSocket connection: a named tuple) and are never taken apart."""
    return type(address) is tuple and len(address) >= 2


def replaces_on_hello(address: Address) -> bool:
    """A socket address is one client socket: a new hello from it replaces its session. Other peers (a
    WebSocket connection) may carry several sessions at once (SPEC §3.1, §13)."""
    return is_socket_address(address)


def host_of(address: Address) -> object:
    """The part of an address that names the remote machine (the IP of a socket address); others pass through."""
    return address[0] if is_socket_address(address) else address


def within_unvalidated_limit(size: int, received: int) -> bool:
    """Whether ``size`` bytes may go to an unvalidated address that sent ``received`` bytes."""
    return size <= UNVALIDATED_AMPLIFICATION * received


@dataclass
class PathCandidate:
    """A new address that sent an authentic, newest datagram and is not yet validated (SPEC §3.4)."""

    address: Address
    challenge: bytes
    first_heard: float
    received: int = 0
    sent: int = 0
    challenged_at: float = float("-inf")

    def challenge_due(self, now: float) -> bool:
        """Challenges are paced: at most one per ``PATH_CHALLENGE_INTERVAL_S``."""
        return now - self.challenged_at >= PATH_CHALLENGE_INTERVAL_S

    def may_send_challenge(self, size: int, now: float) -> bool:
        """Count a challenge of ``size`` bytes as sent if it keeps within the unvalidated limit."""
        if not within_unvalidated_limit(self.sent + size, self.received):
            return False
        self.sent += size
        self.challenged_at = now
        return True
