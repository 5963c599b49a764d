"""The pacer tells why and how long a request waits (the page's spinner), and how much of the
global budget's burst is free now (the page's background refreshes leave it to the trader)."""

from __future__ import annotations

from axion_broker_ibkr.drivers.pacing import Pacer, Wait, watch_waits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_headroom_counts_down_with_each_booking_and_refills_at_the_steady_rate() -> None:
    clock = Clock()
    pacer = Pacer(50, clock=clock)
    assert pacer.burst == 8
    assert pacer.headroom() == 8
    for left in range(7, -1, -1):
        assert pacer.reserve("GET", "/iserver/accounts") < 1e-9
        assert pacer.headroom() == left
    clock.now += 60 / 50 * 1.02 * 3  # three steady-rate intervals later: three requests may go
    assert pacer.headroom() == 3
    assert pacer.reserve("GET", "/iserver/accounts") < 1e-9
    assert pacer.headroom() == 2


def test_headroom_is_zero_while_backing_off_after_a_429() -> None:
    pacer = Pacer(50, clock=Clock())
    pacer.penalize(retry_after=30)
    assert pacer.headroom() == 0


def test_a_wait_for_the_clients_own_budget_is_named_as_such() -> None:
    pacer = Pacer(50, clock=Clock())
    waits: list[Wait] = []
    with watch_waits(waits.append):
        for _ in range(9):
            pacer.reserve("GET", "/iserver/accounts")
    assert len(waits) == 1  # the ninth, after the burst of eight
    (wait,) = waits
    assert wait.rule == "budget" and not wait.ibkr
    assert abs(wait.seconds - 1.224) < 1e-6
    assert wait.text == (
        "waiting for this client's own request budget (max_requests_per_minute=50; "
        "IBKR's limit is 10/s); 1.2 s"
    )


def test_a_wait_ibkrs_endpoint_rule_forces_names_the_endpoint_and_its_interval() -> None:
    pacer = Pacer(600, clock=Clock())
    waits: list[Wait] = []
    with watch_waits(waits.append):
        pacer.reserve("GET", "/iserver/account/orders")
        pacer.reserve("GET", "/iserver/account/orders")
    (wait,) = waits
    assert wait.rule == "live_orders" and wait.ibkr
    assert wait.text == "waiting for IBKR's pacing: /iserver/account/orders allows 1 request per 5 s; 5.1 s"


def test_a_full_concurrency_cap_is_named() -> None:
    pacer = Pacer(600, clock=Clock())
    waits: list[Wait] = []
    tokens = [pacer.try_acquire("history", 5, 30.0) for _ in range(5)]
    assert all(tokens)
    with watch_waits(waits.append):
        assert pacer.try_acquire("history", 5, 30.0) is None
    assert [w.text for w in waits] == [
        "waiting for IBKR's pacing: /iserver/marketdata/history allows 5 concurrent"
    ]


def test_nothing_is_told_outside_watch_waits_or_for_requests_that_do_not_wait() -> None:
    clock = Clock()
    pacer = Pacer(600, clock=clock)
    waits: list[Wait] = []
    pacer.reserve("GET", "/iserver/account/orders")
    pacer.reserve("GET", "/iserver/account/orders")  # waits, but nobody watches
    clock.now += 1.0
    with watch_waits(waits.append):
        pacer.reserve("GET", "/iserver/accounts")  # a free slot of the global budget: no wait
    assert waits == []


def test_headroom_counts_a_held_slot_already_sent_into_the_sweep() -> None:
    clock = Clock()
    pacer = Pacer(50, clock=clock)
    pacer.reserve("GET", "/iserver/account/orders")
    assert pacer.reserve("GET", "/iserver/account/orders") > 5.0  # holds a slot 5 s ahead
    for _ in range(7):
        pacer.reserve("GET", "/iserver/accounts")
    clock.now += 5.2  # the held request was sent; four intervals refilled, minus that send
    assert pacer.headroom() == 3
    assert pacer.reserve("GET", "/iserver/accounts") < 1e-9
    assert pacer.headroom() == 2
