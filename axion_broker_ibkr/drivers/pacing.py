"""Pacing and retry: small policy objects shared by every call of one client.

The pacer's *state* (the booked slots, the 429 back-off) lives in a store
(:mod:`axion_broker_ibkr.drivers.pacing_stores`): IBKR counts requests per gateway, not per process, so
by default (config ``pacing_store = "auto"``) every process on the machine that talks to the same
gateway ``host:port`` books its slots in one small file-locked state file, and a 429 seen by one
process backs off all of them.

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

Why and how long a request waits is told to whoever asked for it: inside :func:`watch_waits`
(the page's spinner), :meth:`Pacer.reserve` and :meth:`Pacer.try_acquire` call the callback with
a :class:`Wait` (IBKR's per-endpoint interval or concurrency cap, or this client's own global
budget) in the calling thread, before the client sleeps. :meth:`Pacer.headroom` says how many
requests the global budget lets go at once now, so a page's background refresh can leave the
budget's burst to the trader's own actions.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import os
import random
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from attrs import define, field

from ..errors import RateLimitedError

if TYPE_CHECKING:
    from .pacing_stores import PacingState, PacingStore

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


@define(frozen=True)
class Wait:
    """One request held back before it leaves: ``seconds`` (0 for a concurrency cap: until a slot
    frees), ``rule`` (the endpoint rule's name, or ``"budget"`` for this client's own global cap),
    ``ibkr`` (the wait is IBKR's own pacing, not this client's cap) and ``text`` in plain words."""

    seconds: float
    rule: str
    ibkr: bool
    text: str


#: Below this a wait is not worth telling anyone.
NOTICEABLE_WAIT = 0.05
_WAIT_LISTENERS: ContextVar[tuple[Callable[[Wait], None], ...]] = ContextVar("ibkr_pacing_waits", default=())


@contextlib.contextmanager
def watch_waits(callback: Callable[[Wait], None]) -> Iterator[None]:
    """Call ``callback(wait)`` for every noticeable pacing wait of the requests made inside the
    block by this thread / task (before the client sleeps it)."""
    token = _WAIT_LISTENERS.set((*_WAIT_LISTENERS.get(), callback))
    try:
        yield
    finally:
        _WAIT_LISTENERS.reset(token)


def _tell(wait: Wait) -> None:
    for callback in _WAIT_LISTENERS.get():
        callback(wait)


def _path_of(rule: EndpointRule) -> str:
    """A rule's pattern as a path a person reads (``/iserver/account/orders``)."""
    text = re.sub(r"\(([^()|]*/)\)\?", r"\1", rule.pattern.pattern)  # (account/)? -> account/
    return re.sub(r"\([^()]*\)\?", "", text).replace(".*", "*")


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


class Pacer:
    """Global + per-endpoint pacing for one gateway (thread-safe; also used by the async client).

    ``reserve(method, path)`` books the next slot and returns how many seconds to wait before
    sending. ``scale`` multiplies every allowance (tests only; keep the default 1.0 otherwise).

    ``store`` holds the budget (:mod:`axion_broker_ibkr.drivers.pacing_stores`): by default this process's
    memory; a :class:`~axion_broker_ibkr.drivers.pacing_stores.FileStore` or
    :class:`~axion_broker_ibkr.drivers.pacing_stores.SqlPacingStore` shares one budget, and one 429
    back-off, between every process that paces the same gateway (each books its slots there).
    ``clock`` defaults to the store's clock (a system-wide monotonic clock, wall time for a
    database shared between machines).
    """

    def __init__(
        self,
        max_requests_per_minute: int = 50,
        *,
        scale: float = 1.0,
        rules: tuple[EndpointRule, ...] = IBKR_ENDPOINT_RULES,
        rate_limit_backoff: float = 60.0,
        max_backoff: float = 900.0,
        clock: Callable[[], float] | None = None,
        store: PacingStore | None = None,
    ) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        if max_requests_per_minute <= 0:
            raise ValueError(f"max_requests_per_minute must be > 0, got {max_requests_per_minute!r}")
        from .pacing_stores import MemoryStore

        self.scale = scale
        self.rules = rules
        self.max_requests_per_minute = max_requests_per_minute
        self._store: PacingStore = store if store is not None else MemoryStore()
        self._fixed_clock = clock
        self._clock = clock if clock is not None else self._store.clock
        per_second = min(max_requests_per_minute / 60.0, MAX_PER_SECOND)
        self._interval = SAFETY / (per_second * scale)
        # Burst: up to 10 s worth of budget, but a burst plus one second at the steady rate must
        # still fit IBKR's 10 requests in any one-second window (so: no burst at 10/s).
        self.burst = max(1, min(int(max_requests_per_minute / 6), int(MAX_PER_SECOND - per_second)))
        self._tolerance = (self.burst - 1) * self._interval
        self._intervals = {r.name: SAFETY * r.min_interval / scale for r in rules if r.min_interval > 0}
        # Anything booked further ahead than this is not ours (another boot's monotonic clock,
        # a state file from an old run): such a state is started over.
        self._horizon = 2 * 3600.0 + max(self._intervals.values(), default=0.0)
        self._backoff_base = rate_limit_backoff / scale
        self._max_backoff = max(max_backoff / scale, self._backoff_base)
        self._sent_lock = threading.Lock()
        self._lease_ids = itertools.count(1)
        self._lease_tag = secrets.token_hex(4)  # several pacers in one process: distinct tokens
        self.sent = 0  # requests this process booked so far (for status pages and benchmarks)

    # ----------------------------------------------------------------------------------------

    @property
    def store(self) -> PacingStore:
        """Where the budget lives (``store.name``: ``memory``, ``file``, ``postgres``)."""
        return self._store

    def use_store(self, store: PacingStore) -> None:
        """Move this pacer's bookings to ``store`` (e.g. the client found that ``auto`` means its
        own embedded simulator, which no other process talks to). The old store is closed."""
        old, self._store = self._store, store
        if self._fixed_clock is None:
            self._clock = store.clock
        if old is not store:
            old.close()

    def close(self) -> None:
        self._store.close()

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

    def _fresh(self, state: PacingState, now: float) -> None:
        ahead = max([state.tat, state.blocked_until, *state.next_at.values(), *state.held], default=0.0) - now
        if ahead > self._horizon:
            state.clear()

    def reserve(self, method: str, path: str) -> float:
        """Book a slot for one request; return the delay (s) to wait before sending it.

        Raises :class:`RateLimitedError` while the gateway's clients are backing off after a 429
        (seen by this process or, with a shared store, by any other).
        """
        rule = self.rule_for(method, path)
        interval = self._intervals.get(rule.name, 0.0) if rule is not None else 0.0
        name = rule.name if rule is not None else ""

        def book(state: PacingState) -> tuple[float, float, bool]:
            now = self._clock()
            self._fresh(state, now)
            if now < state.blocked_until:
                return -1.0, state.blocked_until - now, False
            endpoint_at = state.next_at.get(name, 0.0) if interval > 0 else 0.0
            send_at = self._book(state, now, name, interval)
            return send_at - now, 0.0, endpoint_at > now and endpoint_at >= send_at - 1e-6

        delay, blocked, by_endpoint = self._store.update(book)
        if delay < 0:
            raise RateLimitedError(
                f"backing off after HTTP 429 for another {blocked:.1f} s "
                "(IBKR puts clients that keep sending into a 10-15 min penalty box)",
                status_code=429,
                method=method,
                path=path,
            )
        with self._sent_lock:
            self.sent += 1
        if delay >= NOTICEABLE_WAIT and _WAIT_LISTENERS.get():
            _tell(self._wait(rule if by_endpoint else None, path, delay))
        return delay

    def _wait(self, rule: EndpointRule | None, path: str, delay: float) -> Wait:
        if rule is not None:
            every = f"{rule.min_interval:g} s"
            text = f"waiting for IBKR's pacing: {path} allows 1 request per {every}; {delay:.1f} s"
            return Wait(delay, rule.name, True, text)
        text = (
            f"waiting for this client's own request budget (max_requests_per_minute="
            f"{self.max_requests_per_minute}; IBKR's limit is {MAX_PER_SECOND:g}/s); {delay:.1f} s"
        )
        return Wait(delay, "budget", False, text)

    def headroom(self) -> int:
        """How many requests the global budget lets go without waiting now (0 .. :attr:`burst`;
        read only, nothing is booked). Slots held by endpoint-delayed requests that fall inside
        the burst window count as taken."""
        state = self._store.read()
        now = self._clock()
        if now < state.blocked_until:
            return 0
        tat = state.tat
        for h in state.held:  # (sorted) held slots already sent count into the sweep, as in _book
            if h <= now:
                tat = max(tat, h) + self._interval
        tat = max(tat, now)
        free = math.floor((now - tat + self._tolerance) / self._interval + 1e-9) + 1
        free -= sum(1 for h in state.held if now <= h < now + self._tolerance + self._interval)
        return max(0, min(self.burst, free))

    def _book(self, state: PacingState, now: float, name: str, interval: float) -> float:
        """Book one send time in ``state`` and return it.

        The global budget is a GCRA sweep (``tat``). A request that its endpoint's own minimum
        interval holds back beyond the sweep (the second live-orders call of a session, a queued
        ``/tickle``) does not drag the sweep forward with it (that would idle the whole gateway
        until then): it *holds* one global slot at its own send time (``held``), which the sweep
        steps over when it gets there. So every two sends stay at least one interval apart.
        """
        step, tol = self._interval, self._tolerance
        held = state.held
        tat = state.tat
        while held and held[0] <= now:  # held slots already sent: count them into the sweep
            tat = max(tat, held.pop(0)) + step
        if interval > 0:
            send_at = max(now, tat - tol, state.next_at.get(name, 0.0))
            if send_at > max(now, tat - tol):  # waits for its endpoint: hold a slot of its own
                for h in held:  # (sorted) keep a full interval from the other held slots
                    if h > send_at - step and h < send_at + step:
                        send_at = h + step
                bisect.insort(held, send_at)
                state.next_at[name] = send_at + interval
                state.tat = tat
                return send_at
        send_at = max(now, tat - tol)
        while held and held[0] < send_at + step:  # the sweep reaches a held slot: step over it
            tat = max(tat, held.pop(0)) + step
            send_at = max(now, tat - tol)
        if interval > 0:
            send_at = max(send_at, state.next_at.get(name, 0.0))
            state.next_at[name] = send_at + interval
        state.tat = max(tat, send_at) + step
        return send_at

    def penalize(self, retry_after: float | None = None) -> float:
        """Record an HTTP 429: block the gateway's traffic (every process sharing the store);
        returns the back-off in seconds.

        ``Retry-After`` wins when IBKR sends one; otherwise the back-off doubles on each repeat. A
        429 that comes longer than the longest back-off after the last block ended starts over.
        """

        def block(state: PacingState) -> float:
            now = self._clock()
            self._fresh(state, now)
            if now - state.blocked_until > self._max_backoff:
                state.strikes = 0
            state.strikes += 1
            if retry_after is not None and retry_after > 0:
                backoff = retry_after / self.scale
            else:
                backoff = min(self._backoff_base * 2 ** (state.strikes - 1), self._max_backoff)
            state.blocked_until = max(state.blocked_until, now + backoff)
            return backoff

        return self._store.update(block)

    def try_acquire(self, name: str, limit: int, ttl: float) -> str | None:
        """Take one of ``limit`` concurrent slots of endpoint rule ``name`` (history: 5 for the
        whole gateway, every process sharing the store included). Returns a lease token for
        :meth:`release`, or ``None`` when all are taken. A lease lapses after ``ttl`` seconds, so a
        process that died holding one does not keep it."""
        token = f"{os.getpid()}.{self._lease_tag}.{next(self._lease_ids)}"

        def take(state: PacingState) -> str | None:
            now = self._clock()
            live = {t: e for t, e in state.leases.get(name, {}).items() if e > now}
            if len(live) >= limit:
                state.leases[name] = live
                return None
            live[token] = now + ttl
            state.leases[name] = live
            return token

        got = self._store.update(take)
        if got is None and _WAIT_LISTENERS.get():
            rule = next((r for r in self.rules if r.name == name), None)
            where = _path_of(rule) if rule is not None else name
            _tell(Wait(0.0, name, True, f"waiting for IBKR's pacing: {where} allows {limit} concurrent"))
        return got

    def release(self, name: str, token: str) -> None:
        """Give back a slot taken with :meth:`try_acquire`."""

        def give(state: PacingState) -> None:
            state.leases.get(name, {}).pop(token, None)

        self._store.update(give)

    @property
    def blocked_for(self) -> float:
        """Seconds left of the current 429 back-off (0 when traffic may flow)."""
        state = self._store.read()
        return max(0.0, state.blocked_until - self._clock())


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
