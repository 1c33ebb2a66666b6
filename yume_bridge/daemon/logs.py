"""The daemon's log lines about sessions: client text escaped, session churn within a budget."""

from __future__ import annotations

import logging

from yume_bridge.protocol.budget import TokenBucket

log = logging.getLogger("yume_bridge")
CHURN_LOG_LIMIT = (2.0, 20.0)
"""Session open/close lines per second and burst; the rest are counted and summarised (session churn)."""


def printable(text: str, limit: int = 64) -> str:
    """Client-supplied text made safe for one log line: control characters escaped, length bounded."""
    return repr(text[:limit])[1:-1]


class ChurnLog:
    """Logs session open/close lines within a budget; says how many it left out when it logs again."""

    def __init__(self, clock) -> None:
        self._bucket = TokenBucket(*CHURN_LOG_LIMIT)
        self._clock = clock
        self.suppressed = 0

    def info(self, message: str, *args: object) -> None:
        if not self._bucket.take(self._clock()):
            self.suppressed += 1
            return
        if self.suppressed:
            log.info("(%d session open/close lines left out: too many sessions came and went)", self.suppressed)
            self.suppressed = 0
        log.info(message, *args)
