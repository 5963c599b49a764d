"""Pacing and retry: small policy objects shared by every call of one client.

:class:`Pacer` applies, *before* a request leaves, a global budget (a GCRA token bucket:
``max_requests_per_minute`` with a short burst, never above IBKR's 10 requests/second) plus
IBKR's per-endpoint table (REFERENCE §7): minimum intervals and, for history, a concurrency cap.
It only computes how long to wait; the sync and async clients do the sleeping. After an HTTP 429
that still comes back, :meth:`Pacer.penalize` stops the client's traffic for a back-off period
(callers get :class:`~axion_broker_ibkr.errors.RateLimitedError` at once instead of retrying into
IBKR's penalty box).

:class:`RetryPolicy` says when an *idempotent* request is retried (5xx, timeouts) and how long to
wait (capped exponential back-off with jitter). Order POSTs are never retried by it.

``scale`` (tests only) multiplies every allowance, like the simulator's ``rate_scale``.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable

from attrs import define, field

from .errors import RateLimitedError

#: IBKR's documented ceiling through the gateway.
MAX_PER_SECOND = 10.0
#: Intervals are stretched by 2 %: the gateway measures arrival times, which jitter with latency.
SAFETY = 1.02


@define(frozen=True)
class EndpointRule:
    """One row of IBKR's per-endpoint table: ``pattern`` is matched against the request path."""

    name: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    min_interval: float = 0.0  # seconds between two requests
    max_concurrent: int | None = None

    def matches(self, method: str, path: str) -> bool:
        return method.upper() in self.methods and self.pattern.fullmatch(path) is not None


def _rule(
    name: str, pattern: str, methods: str, *, interval: float = 0.0, concurrent: int | None = None
) -> EndpointRule:
    return EndpointRule(name, re.compile(pattern), frozenset(methods.split(",")), interval, concurrent)


#: REFERENCE §7. Paths are relative to the API base (``/v1/api``).
IBKR_ENDPOINT_RULES: tuple[EndpointRule, ...] = (
    _rule("snapshot", r"/iserver/marketdata/snapshot", "GET", interval=0.1),
    _rule("history", r"/iserver/marketdata/history", "GET", concurrent=5),
    _rule("live_orders", r"/iserver/(account/)?orders", "GET", interval=5.0),
    _rule("trades", r"/iserver/(account/)?trades", "GET", interval=5.0),
    _rule("pnl", r"/iserver/account/pnl/partitioned", "GET", interval=5.0),
    _rule("portfolio_accounts", r"/portfolio/(sub)?accounts", "GET", interval=5.0),
    _rule("tickle", r"/tickle", "GET,POST", interval=1.0),
    _rule("sso_validate", r"/sso/validate", "GET", interval=60.0),
    _rule("scanner_params", r"/iserver/scanner/params", "GET", interval=900.0),
    _rule("scanner_run", r"/iserver/scanner/run", "POST", interval=1.0),
    _rule("pa", r"/pa/(performance|summary|transactions)", "POST", interval=900.0),
    _rule("fyi", r"/fyi/.*", "GET,POST,PUT,DELETE", interval=1.0),
)


@define
class _RuleState:
    next_at: float = 0.0


class Pacer:
    """Global + per-endpoint pacing for one client (thread-safe; also used by the async client).

    ``reserve(method, path)`` books the next slot and returns how many seconds to wait before
    sending. ``scale`` multiplies every allowance (tests only; keep the default 1.0 otherwise).
    """

    def __init__(
        self,
        max_requests_per_minute: int = 50,
        *,
        scale: float = 1.0,
        rules: tuple[EndpointRule, ...] = IBKR_ENDPOINT_RULES,
        rate_limit_backoff: float = 60.0,
        max_backoff: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        if max_requests_per_minute <= 0:
            raise ValueError(f"max_requests_per_minute must be > 0, got {max_requests_per_minute!r}")
        self.scale = scale
        self.rules = rules
        self._clock = clock
        per_second = min(max_requests_per_minute / 60.0, MAX_PER_SECOND)
        self._interval = SAFETY / (per_second * scale)
        # Burst: up to 10 s worth of budget, but a burst plus one second at the steady rate must
        # still fit IBKR's 10 requests in any one-second window (so: no burst at 10/s).
        self.burst = max(1, min(int(max_requests_per_minute / 6), int(MAX_PER_SECOND - per_second)))
        self._tolerance = (self.burst - 1) * self._interval
        self._tat = 0.0  # GCRA theoretical arrival time
        self._rule_state: dict[str, _RuleState] = {r.name: _RuleState() for r in rules}
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        self._backoff_base = rate_limit_backoff / scale
        self._max_backoff = max(max_backoff / scale, self._backoff_base)
        self._strikes = 0
        self.sent = 0  # requests booked so far (for status pages and benchmarks)

    # ----------------------------------------------------------------------------------------

    def rule_for(self, method: str, path: str) -> EndpointRule | None:
        for rule in self.rules:
            if rule.matches(method, path):
                return rule
        return None

    def max_concurrent(self, method: str, path: str) -> tuple[str, int] | None:
        rule = self.rule_for(method, path)
        if rule is None or rule.max_concurrent is None:
            return None
        return rule.name, rule.max_concurrent

    def reserve(self, method: str, path: str) -> float:
        """Book a slot for one request; return the delay (s) to wait before sending it.

        Raises :class:`RateLimitedError` while the client is backing off after a 429.
        """
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:
                raise RateLimitedError(
                    f"backing off after HTTP 429 for another {self._blocked_until - now:.1f} s "
                    "(IBKR puts clients that keep sending into a 10-15 min penalty box)",
                    status_code=429,
                    method=method,
                    path=path,
                )
            tat = max(self._tat, now)
            send_at = max(now, tat - self._tolerance)
            rule = self.rule_for(method, path)
            if rule is not None and rule.min_interval > 0:
                send_at = max(send_at, self._rule_state[rule.name].next_at)
                self._rule_state[rule.name].next_at = send_at + SAFETY * rule.min_interval / self.scale
            self._tat = max(tat, send_at) + self._interval
            self.sent += 1
            return send_at - now

    def penalize(self, retry_after: float | None = None) -> float:
        """Record an HTTP 429: block this client's traffic; returns the back-off in seconds.

        ``Retry-After`` wins when IBKR sends one; otherwise the back-off doubles on each repeat. A
        429 that comes longer than the longest back-off after the last block ended starts over.
        """
        with self._lock:
            if self._clock() - self._blocked_until > self._max_backoff:
                self._strikes = 0
            self._strikes += 1
            if retry_after is not None and retry_after > 0:
                backoff = retry_after / self.scale
            else:
                backoff = min(self._backoff_base * 2 ** (self._strikes - 1), self._max_backoff)
            self._blocked_until = max(self._blocked_until, self._clock() + backoff)
            return backoff

    @property
    def blocked_for(self) -> float:
        """Seconds left of the current 429 back-off (0 when traffic may flow)."""
        with self._lock:
            return max(0.0, self._blocked_until - self._clock())


@define(frozen=True)
class RetryPolicy:
    """When and how long to retry an idempotent request (never an order POST)."""

    max_attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 4.0
    retry_statuses: frozenset[int] = field(default=frozenset({500, 502, 503, 504}))
    jitter: Callable[[], float] = field(default=random.random, eq=False)

    def should_retry(self, attempt: int, *, status: int | None = None, timeout: bool = False) -> bool:
        """``attempt`` is 1 for the first try. Retries only on listed 5xx statuses and timeouts."""
        if attempt >= self.max_attempts:
            return False
        return timeout or (status is not None and status in self.retry_statuses)

    def delay(self, attempt: int) -> float:
        """Capped exponential back-off with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return float(ceiling / 2 + self.jitter() * ceiling / 2)
