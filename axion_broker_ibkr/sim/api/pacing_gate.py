"""IBKR's pacing (REFERENCE §7): 10 requests/s through the gateway plus a per-endpoint table.

Each limit is a token bucket: it refills at the documented sustained rate and holds up to ``burst``
tokens, so a short burst that a real gateway evidently tolerates passes while a sustained rate above
the limit still answers 429 with ``{"error": ...}``. Every rate and burst is multiplied by
``rate_scale`` (tests use a large value).

The penalty box (REFERENCE §7: 10 min in the newer docs, 15 min in v1): a client that keeps
exceeding the limits after 429s (``penalty_strikes`` 429 answers within ``STRIKE_WINDOW_S``) gets
429 on every path for ``penalty_seconds``. IBKR does not document how many violations it takes; a
single stray 429 does not box here, because ibind and other clients that back off after one 429 are
not reported to be boxed by it. ``penalty_seconds=0`` switches the box off.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

#: IBKR's penalty box length (newer docs: 10 minutes; v1 docs: 15 minutes).
IBKR_PENALTY_SECONDS = 600.0
#: Violations within this many seconds count towards the penalty box.
STRIKE_WINDOW_S = 60.0

#: (method or "*", path regex relative to /v1/api, requests, window seconds, burst)
#:
#: ``requests / window`` is the documented sustained rate (REFERENCE §7). ``burst`` is how many
#: requests may come back to back from a full bucket; what settled each:
#: * snapshot 10/s and the global 10/s: burst 10, i.e. the documented per-second count may all
#:   arrive at once (the docs state a count per second, not a spacing).
#: * ``/iserver/account/orders`` 1 per 5 s: burst 2. ibind 0.2.2 calls live orders twice 0.25 s
#:   apart (the first call "primes" the gateway, which is known to answer a first call with a
#:   partial list); its orders subscription does so on every start against real gateways used
#:   daily by many users, so a real gateway tolerates two calls in quick succession.
#: * ``/tickle`` 1/s: burst 2. ibind 0.2.2's WebSocket client calls ``/tickle`` twice within one
#:   second on every connect, against the same real gateways.
#: * everything else: burst 1 (no evidence of tolerated bursts; the documented count per window).
#: (requests, window seconds, burst) -> the endpoints (method, path pattern) held to it, a bucket each.
ENDPOINT_LIMITS: dict[tuple[int, float, int], tuple[tuple[str, str], ...]] = {
    (10, 1.0, 10): (("GET", r"^/iserver/marketdata/snapshot$"),),
    (1, 5.0, 2): (("GET", r"^/iserver/account/orders$"),),
    (1, 5.0, 1): (
        ("GET", r"^/iserver/account/trades$"),
        ("GET", r"^/iserver/account/pnl/partitioned$"),
        ("GET", r"^/portfolio/accounts$"),
        ("GET", r"^/portfolio/subaccounts$"),
    ),
    (1, 900.0, 1): (
        ("GET", r"^/iserver/scanner/params$"),
        ("POST", r"^/pa/(performance|summary|transactions)$"),
    ),
    (1, 1.0, 1): (("POST", r"^/iserver/scanner/run$"), ("*", r"^/fyi/")),
    (1, 1.0, 2): (("*", r"^/tickle$"),),
    (1, 60.0, 1): (("GET", r"^/sso/validate$"),),
}
#: (requests, window seconds, burst) for the whole gateway.
GLOBAL_LIMIT = (10, 1.0, 10)
HISTORY_CONCURRENCY = 5


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class Pacer:
    scale: float = 1.0
    penalty_seconds: float = 0.0
    penalty_strikes: int = 3
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _compiled: list[tuple[str, re.Pattern[str], int, float, int]] = field(default_factory=list)
    _penalty_until: float = 0.0
    _strikes: list[float] = field(default_factory=list)
    history_running: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    too_many: dict[str, int] = field(default_factory=dict)
    boxed_times: int = 0

    def __post_init__(self) -> None:
        self._compiled = [
            (m, re.compile(p), n, w, b) for (n, w, b), held in ENDPOINT_LIMITS.items() for m, p in held
        ]

    # kept for callers of the earlier name (admin ``penalty_box_s``)
    @property
    def penalty_box_s(self) -> float:
        return self.penalty_seconds

    @penalty_box_s.setter
    def penalty_box_s(self, value: float) -> None:
        self.penalty_seconds = value

    def _allowance(self, count: int) -> int:
        return max(1, int(count * self.scale))

    def _take(self, key: str, count: int, window: float, burst: int, now: float) -> bool:
        capacity = float(self._allowance(burst))
        rate = count * self.scale / window
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=capacity, stamp=now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def penalty_active(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self._penalty_until

    def check(self, method: str, path: str) -> str | None:
        """Count a request; return the 429 message if it breaks a limit, else ``None``."""
        now = time.monotonic()
        self.counts[path] = self.counts.get(path, 0) + 1
        if self.penalty_active(now):
            self.record_429(path)
            return "Too many requests: client is in the penalty box"
        for m, pattern, count, window, burst in self._compiled:
            if (
                (m == "*" or m == method)
                and pattern.search(path)
                and not self._take(pattern.pattern, count, window, burst, now)
            ):
                return self._violation(
                    path, f"Too many requests: {path} is limited to {count} per {window:g}s", now
                )
        if not self._take("global", *GLOBAL_LIMIT, now):
            return self._violation(path, "Too many requests: the gateway allows 10 requests per second", now)
        return None

    def record_429(self, path: str) -> None:
        """Count one 429 answer for ``GET /sim/state`` (also used by the history concurrency gate)."""
        self.too_many[path] = self.too_many.get(path, 0) + 1

    def _violation(self, path: str, message: str, now: float) -> str:
        self.record_429(path)
        if self.penalty_seconds > 0:
            self._strikes = [t for t in self._strikes if now - t < STRIKE_WINDOW_S] + [now]
            if len(self._strikes) >= max(1, self.penalty_strikes):
                self._penalty_until = now + self.penalty_seconds
                self._strikes.clear()
                self.boxed_times += 1
        return message

    def history_slots(self) -> int:
        return self._allowance(HISTORY_CONCURRENCY)

    def state(self) -> dict[str, object]:
        """What ``GET /sim/state`` reports under ``pacing``."""
        now = time.monotonic()
        return {
            "rate_scale": self.scale,
            "too_many_requests": dict(self.too_many),
            "too_many_requests_total": sum(self.too_many.values()),
            "penalty_box": {
                "enabled": self.penalty_seconds > 0,
                "seconds": self.penalty_seconds,
                "strikes": self.penalty_strikes,
                "active": self.penalty_active(now),
                "remaining_s": round(max(0.0, self._penalty_until - now), 3),
                "times_engaged": self.boxed_times,
            },
        }

    def reset(self) -> None:
        self._buckets.clear()
        self._penalty_until = 0.0
        self._strikes.clear()
        self.history_running = 0
        self.counts.clear()
        self.too_many.clear()
        self.boxed_times = 0
