"""Drop policy, subscription frames and refresh, liveness and back-off (no I/O, injected clock)."""

from __future__ import annotations

import json
import random

import pytest

from axion_broker_ibkr import models as m
from axion_broker_ibkr.streaming import OrderEvent, PnLEvent, QuoteEvent, StreamChannel, SubscriptionError
from axion_broker_ibkr.streaming.liveness import Backoff, Liveness
from axion_broker_ibkr.streaming.queues import EventQueue
from axion_broker_ibkr.streaming.subscriptions import Registry, Subscription, quote_subscription


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def q(i: int) -> QuoteEvent:
    return QuoteEvent(conid=i, quote=m.Quote(conid=i), changed={})


def o(i: int) -> OrderEvent:
    return OrderEvent(order_id=i, order=m.Order(order_id=i), changed={"orderId": i})


def drain(queue: EventQueue[object]) -> list[object]:
    out = []
    while len(queue):
        out.append(queue.pop())
    return out


def test_full_queue_drops_oldest_quote_and_keeps_order_of_the_rest() -> None:
    queue: EventQueue[object] = EventQueue(maxsize=3)
    for ev in (q(1), o(1), q(2), q(3), q(4)):
        queue.put(ev)
    assert queue.dropped == 2
    got = drain(queue)
    assert [type(e).__name__ for e in got] == ["OrderEvent", "QuoteEvent", "QuoteEvent"]
    assert [e.conid for e in got if isinstance(e, QuoteEvent)] == [3, 4]


def test_orders_fills_and_pnl_are_never_dropped() -> None:
    queue: EventQueue[object] = EventQueue(maxsize=2)
    pnl = PnLEvent(key="DU1.Core", row=m.PnLRow(dpl=1.0), changed={"dpl": 1.0})
    events = [o(1), o(2), pnl, o(3), q(9)]
    for ev in events:
        queue.put(ev)
    assert queue.overflow == 2 and queue.dropped == 1  # the quote had nothing older to evict
    assert drain(queue) == events[:4]


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        EventQueue(maxsize=0)


def test_quote_subscription_frames_send_field_ids_as_strings() -> None:
    sub = quote_subscription(8314, [31, "84", 31])
    assert sub.subscribe_frame() == 'smd+8314+{"fields":["31","84"]}'
    assert sub.unsubscribe_frame() == "umd+8314+{}"
    assert quote_subscription("8314@SMART", ["31"]).subscribe_frame().startswith("smd+8314@SMART+")


@pytest.mark.parametrize(
    ("conid", "fields", "match"),
    [("AAPL", None, "conid"), (0, None, "conid"), (8314, [], "fields"), (8314, ["last"], "fields")],
)
def test_bad_quote_requests_name_the_argument(conid: object, fields: list[str] | None, match: str) -> None:
    with pytest.raises(SubscriptionError, match=match):
        quote_subscription(conid, fields)  # type: ignore[arg-type]


def test_other_channel_frames() -> None:
    trades = Subscription(channel=StreamChannel.TRADES, days=3)
    assert trades.subscribe_frame().startswith("str+")
    assert json.loads(trades.subscribe_frame()[4:]) == {"realtimeUpdatesOnly": False, "days": 3}
    depth = Subscription(channel=StreamChannel.DEPTH, target="265598", account="DU1234567", exchange="ISLAND")
    assert depth.subscribe_frame() == "sbd+DU1234567+265598+ISLAND"
    assert depth.unsubscribe_frame() == "ubd+DU1234567"
    assert Subscription(channel=StreamChannel.ORDERS).subscribe_frame() == "sor+{}"
    assert Subscription(channel=StreamChannel.PNL).unsubscribe_frame() == "upl+{}"
    with pytest.raises(SubscriptionError, match="system"):
        Subscription(channel=StreamChannel.SYSTEM).subscribe_frame()


def test_registry_extends_quote_fields_and_schedules_refresh() -> None:
    reg = Registry()
    reg.add(quote_subscription(8314, ["31"]))
    sub = reg.add(quote_subscription(8314, ["84"]))
    assert sub.fields == ("31", "84") and len(reg) == 1
    assert reg.due_quote_refresh(0.0, 600, 60) == []  # never sent: nothing to refresh
    sub.sent_at = 0.0
    reg.mark_data(StreamChannel.QUOTE, "8314", 50.0)
    assert reg.due_quote_refresh(100.0, 600, 60) == []
    assert reg.due_quote_refresh(110.0, 600, 60) == [sub]  # silent for 60 s
    reg.mark_data(StreamChannel.QUOTE, "8314", 599.0)
    assert reg.due_quote_refresh(600.0, 600, 60) == [sub]  # before the 15-minute expiry
    reg.reset_sent()
    assert sub.sent_at is None


def test_liveness_tic_tickle_and_dead_socket() -> None:
    clock = FakeClock()
    live = Liveness(tic_interval=30, tickle_interval=60, heartbeat_timeout=35, clock=clock)
    assert not live.dead()  # not connected yet
    live.connected()
    assert not live.tic_due() and live.tickle_due()
    clock.now += 30
    assert live.tic_due()
    live.tic_sent()
    live.frame()  # any frame counts before the first heartbeat
    clock.now += 34
    assert not live.dead()
    live.frame(heartbeat=True)
    clock.now += 20
    live.frame()  # once heartbeats were seen, other frames do not keep the socket alive
    clock.now += 15
    assert live.silence() == pytest.approx(35) and live.dead()
    live.connected()
    assert not live.dead()


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(base=0.5, cap=4.0, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(10)]
    assert all(0.5 <= d <= 4.0 for d in delays)
    assert len(set(delays)) == len(delays)  # jitter: no two equal
    assert max(delays[5:]) > 2.0  # grew towards the cap
    backoff.reset()
    assert backoff.next_delay() == 0.5
