"""IBKR's pacing (REFERENCE §7): 10 requests/s through the gateway plus a per-endpoint table.

Every allowance is multiplied by ``rate_scale`` (tests use a large value). A violation answers 429
with ``{"error": ...}``. The real gateway also puts the client into a 10-15 minute *penalty box*
after a violation; the simulator does not (``penalty_box_s=0``, the default) unless asked to.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field

#: (method or "*", path regex relative to /v1/api, requests, window seconds)
ENDPOINT_LIMITS: tuple[tuple[str, str, int, float], ...] = (
    ("GET", r"^/iserver/marketdata/snapshot$", 10, 1.0),
    ("GET", r"^/iserver/account/orders$", 1, 5.0),
    ("GET", r"^/iserver/account/trades$", 1, 5.0),
    ("GET", r"^/iserver/account/pnl/partitioned$", 1, 5.0),
    ("GET", r"^/portfolio/accounts$", 1, 5.0),
    ("GET", r"^/portfolio/subaccounts$", 1, 5.0),
    ("GET", r"^/iserver/scanner/params$", 1, 900.0),
    ("POST", r"^/iserver/scanner/run$", 1, 1.0),
    ("*", r"^/fyi/", 1, 1.0),
    ("*", r"^/tickle$", 1, 1.0),
    ("GET", r"^/sso/validate$", 1, 60.0),
)
GLOBAL_LIMIT = (10, 1.0)
HISTORY_CONCURRENCY = 5


@dataclass
class Pacer:
    scale: float = 1.0
    penalty_box_s: float = 0.0
    _windows: dict[str, deque[float]] = field(default_factory=dict)
    _compiled: list[tuple[str, re.Pattern[str], int, float]] = field(default_factory=list)
    _penalty_until: float = 0.0
    history_running: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._compiled = [(m, re.compile(p), n, w) for m, p, n, w in ENDPOINT_LIMITS]

    def _allowance(self, count: int) -> int:
        return max(1, int(count * self.scale))

    def _take(self, key: str, count: int, window: float, now: float) -> bool:
        q = self._windows.setdefault(key, deque())
        while q and now - q[0] >= window:
            q.popleft()
        if len(q) >= self._allowance(count):
            return False
        q.append(now)
        return True

    def check(self, method: str, path: str) -> str | None:
        """Count a request; return the 429 message if it breaks a limit, else ``None``."""
        now = time.monotonic()
        self.counts[path] = self.counts.get(path, 0) + 1
        if now < self._penalty_until:
            return "Too many requests: client is in the penalty box"
        for m, pattern, count, window in self._compiled:
            if (
                (m == "*" or m == method)
                and pattern.search(path)
                and not self._take(pattern.pattern, count, window, now)
            ):
                return self._violation(
                    f"Too many requests: {path} is limited to {count} per {window:g}s", now
                )
        if not self._take("global", *GLOBAL_LIMIT, now):
            return self._violation("Too many requests: the gateway allows 10 requests per second", now)
        return None

    def _violation(self, message: str, now: float) -> str:
        if self.penalty_box_s:
            self._penalty_until = now + self.penalty_box_s
        return message

    def history_slots(self) -> int:
        return self._allowance(HISTORY_CONCURRENCY)

    def reset(self) -> None:
        self._windows.clear()
        self._penalty_until = 0.0
        self.history_running = 0
        self.counts.clear()
