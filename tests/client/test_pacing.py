"""Pacer and RetryPolicy, on a fake clock: budgets are booked before sending, 429 stops traffic."""

from __future__ import annotations

import itertools

import pytest

from axion_broker_ibkr.drivers.pacing import SAFETY, Pacer, RetryPolicy
from axion_broker_ibkr.errors import RateLimitedError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send_all(pacer: Pacer, clock: FakeClock, method: str, path: str, n: int) -> list[float]:
    """Book ``n`` requests, advancing the clock by each delay as a client would; return send times."""
    times = []
    for _ in range(n):
        clock.now += pacer.reserve(method, path)
        times.append(clock.now)
    return times


def test_global_budget_allows_a_burst_then_paces_at_the_configured_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(60, clock=clock)  # 1/s, burst of 9 (9 + 1 per second stays within 10/s)
    times = send_all(pacer, clock, "GET", "/iserver/accounts", 14)
    assert times[:9] == [1000.0] * 9
    gaps = [b - a for a, b in itertools.pairwise(times[8:])]
    assert gaps == pytest.approx([SAFETY] * 5)


@pytest.mark.parametrize("rpm", [50, 60, 120, 300, 599, 600])
def test_no_one_second_window_holds_more_than_ten(rpm: int) -> None:
    clock = FakeClock()
    pacer = Pacer(rpm, clock=clock)
    times = send_all(pacer, clock, "GET", "/iserver/accounts", 200)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 10


@pytest.mark.parametrize(
    ("method", "path", "interval"),
    [
        ("GET", "/iserver/account/orders", 5.0),
        ("GET", "/iserver/account/trades", 5.0),
        ("GET", "/iserver/account/pnl/partitioned", 5.0),
        ("GET", "/portfolio/accounts", 5.0),
        ("POST", "/tickle", 1.0),
        ("GET", "/sso/validate", 60.0),
        ("GET", "/iserver/marketdata/snapshot", 0.1),
    ],
)
def test_per_endpoint_minimum_intervals(method: str, path: str, interval: float) -> None:
    clock = FakeClock()
    pacer = Pacer(600, clock=clock)
    times = send_all(pacer, clock, method, path, 3)
    assert times[1] - times[0] == pytest.approx(interval * SAFETY)
    assert times[2] - times[1] == pytest.approx(interval * SAFETY)


def test_endpoint_limits_do_not_slow_other_endpoints() -> None:
    clock = FakeClock()
    pacer = Pacer(300, clock=clock)  # a burst of 5
    send_all(pacer, clock, "GET", "/iserver/account/orders", 1)
    assert pacer.reserve("GET", "/iserver/accounts") == 0.0
    assert pacer.reserve("GET", "/iserver/account/orders") == pytest.approx(5.0 * SAFETY)


def test_scale_multiplies_allowances() -> None:
    clock = FakeClock()
    pacer = Pacer(600, scale=100.0, clock=clock)
    times = send_all(pacer, clock, "GET", "/iserver/account/orders", 2)
    assert times[1] - times[0] == pytest.approx(0.05 * SAFETY)


def test_history_concurrency_cap() -> None:
    pacer = Pacer()
    assert pacer.max_concurrent("GET", "/iserver/marketdata/history") == ("history", 5)
    assert pacer.max_concurrent("GET", "/iserver/marketdata/snapshot") is None


def test_429_blocks_traffic_and_backs_off_exponentially() -> None:
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, rate_limit_backoff=60.0)
    assert pacer.penalize() == 60.0
    with pytest.raises(RateLimitedError, match="backing off"):
        pacer.reserve("GET", "/iserver/accounts")
    clock.now += 60.5
    assert pacer.reserve("GET", "/iserver/accounts") == 0.0
    assert pacer.penalize() == 120.0
    assert pacer.blocked_for == pytest.approx(120.0)
    assert pacer.penalize(retry_after=7.0) == 7.0  # Retry-After wins; the longer block stays
    assert pacer.blocked_for == pytest.approx(120.0)


def test_backoff_is_capped_at_the_penalty_box() -> None:
    pacer = Pacer(clock=FakeClock(), rate_limit_backoff=600.0)
    assert [pacer.penalize() for _ in range(4)] == [600.0, 900.0, 900.0, 900.0]


def test_backoff_starts_over_after_a_long_clean_spell() -> None:
    clock = FakeClock()
    pacer = Pacer(clock=clock, rate_limit_backoff=60.0, max_backoff=900.0)
    assert [pacer.penalize() for _ in range(2)] == [60.0, 120.0]
    clock.now += 120.0 + 900.0  # the block is over, and then no 429 for the longest back-off
    assert pacer.penalize() == 240.0  # not yet: exactly the longest back-off
    clock.now += 240.0 + 900.5
    assert pacer.penalize() == 60.0


def test_retry_policy_retries_only_5xx_and_timeouts_with_capped_jitter() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=3.0, jitter=lambda: 1.0)
    assert policy.should_retry(1, status=503)
    assert policy.should_retry(2, timeout=True)
    assert not policy.should_retry(3, status=503)
    assert not policy.should_retry(1, status=400)
    assert not policy.should_retry(1, status=429)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]
    low = RetryPolicy(base_delay=1.0, jitter=lambda: 0.0)
    assert low.delay(2) == 1.0


def test_bad_pacer_arguments() -> None:
    with pytest.raises(ValueError, match="scale"):
        Pacer(scale=0)
    with pytest.raises(ValueError, match="max_requests_per_minute"):
        Pacer(0)
