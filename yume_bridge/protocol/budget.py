"""Token buckets and byte budgets that bound what one session can make the daemon do (SPEC §10.1).

Pure arithmetic: time arrives as an argument, as everywhere in the sans-IO core.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``take`` spends one when there is one."""

    rate: float
    burst: float
    tokens: float = -1.0
    at: float | None = None

    def take(self, now: float, cost: float = 1.0) -> bool:
        if self.at is None:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True


@dataclass
class ResendBudget:
    """Bytes a session may have resent: ``share`` of the stream bytes it was sent, saved up over at most
    ``window`` stream bytes. A nack flood therefore cannot lift the send rate above (1 + share) × stream."""

    share: float
    credit: float = 0.0

    def earn(self, stream_bytes: int, window_bytes: int) -> None:
        self.credit = min(self.credit + self.share * stream_bytes, self.share * window_bytes)

    def spend(self, size: int) -> bool:
        if size > self.credit:
            return False
        self.credit -= size
        return True
