"""The watchdog's rules (:mod:`axion_broker_ibkr.streaming.watchdog`); ``health()`` on the fake gateway."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from axion_broker_ibkr import models as m
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.streaming import IBKRStreaming, StreamChannel, SyncStreaming, SystemEvent
from axion_broker_ibkr.streaming.watchdog import (
    TopicWatch,
    is_order_notice,
    poll_interval,
    quiet_for,
    topic_state,
)

from .fakegw import FakeClient, FakeGateway
from .test_stream_fake import FAST
from .waiting import until

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {"id": "1", "text": "Order 12 (BUY 2 AAPL): Cancelled", "title": "Order Cancelled", "url": ""},
            True,
        ),
        ({"id": "2", "text": "Your AAPL buy was filled", "title": "ORDER FILLED"}, True),
        (
            {"orderId": 987654321, "reqId": "12345", "options": ["Yes", "No"], "text": "?"},
            True,
        ),  # §4.11 prompt
        ([{"id": "3", "text": "Dividend received"}, {"id": "4", "text": "order placed"}], True),  # list form
        ({"id": "5", "text": "Market closes early today", "title": "Notice"}, False),
        ({"id": "6", "text": "Border crossing fees changed"}, False),  # "order" only as a word
        ([], False),
        ("text", False),
        (None, False),
    ],
)
def test_order_notices_are_recognised_in_both_readings(args: Any, expected: bool) -> None:
    assert is_order_notice(args) is expected


def test_topic_state_covers_the_four_states() -> None:
    watch = TopicWatch(channel=StreamChannel.QUOTE, expected=1.0)
    assert topic_state(True, False, watch, None) == "live"
    assert topic_state(True, True, watch, None) == "silent"
    assert topic_state(False, False, watch, 10.0) == "down"  # never polled
    watch.polled(9.0, ok=True)
    assert topic_state(False, False, watch, 10.0) == "down"  # polled before the socket went down
    watch.polled(11.0, ok=True)
    assert topic_state(False, False, watch, 10.0) == "polling"
    watch.polled(12.0, ok=False)
    assert topic_state(False, False, watch, 10.0) == "down"  # the REST fallback fails too
    assert (watch.polls, watch.poll_errors, watch.age(12.5)) == (2, 1, 1.5)


def test_poll_intervals_come_from_the_pacer() -> None:
    client = type("C", (), {"pacer": Pacer(50)})()
    assert poll_interval(client, StreamChannel.ORDERS, 0.05) == 5.0  # IBKR: 1 / 5 s
    assert poll_interval(client, StreamChannel.PNL, 0.05) == 5.0
    assert poll_interval(client, StreamChannel.QUOTE, 1.0) == 1.0  # snapshot allows 10/s: the floor wins
    scaled = type("C", (), {"pacer": Pacer(50, scale=1000)})()
    assert poll_interval(scaled, StreamChannel.ORDERS, 0.001) == pytest.approx(0.005)
    assert poll_interval(object(), StreamChannel.ORDERS, 0.5) == 0.5  # no pacer: the floor


def test_quiet_for_counts_from_the_latest_mark() -> None:
    assert quiet_for(10.0, 2.0, 5.0) == 5.0
    assert quiet_for(10.0, 2.0, None, since=8.0) == 2.0
    assert quiet_for(10.0, None, None) == 0.0


@pytest.mark.parametrize("name", ["quote_silence", "orders_silence", "pnl_silence", "quote_poll_interval"])
def test_intervals_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        IBKRStreaming(FakeClient(FakeGateway()), **{name: 0})
    with pytest.raises(ValueError, match="poll_after"):
        IBKRStreaming(FakeClient(FakeGateway()), poll_after=-1)


async def test_health_before_any_socket_is_down_with_no_age() -> None:
    stream = IBKRStreaming(FakeClient(FakeGateway()))
    await stream.subscribe_quotes([8314])
    await stream.subscribe_pnl()
    assert stream.health() == {
        "quote": {"state": "down", "last_message_age": None, "resubscribes": 0},
        "pnl": {"state": "down", "last_message_age": None, "resubscribes": 0},
    }


@pytest.fixture
async def gw() -> AsyncIterator[FakeGateway]:
    gateway = FakeGateway()
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
async def stream(gw: FakeGateway) -> AsyncIterator[IBKRStreaming]:
    s = IBKRStreaming(FakeClient(gw), pnl_silence=0.3, ntf_grace=0.05, **FAST)
    await s.start()
    await s.wait_connected(10)
    yield s
    await s.stop()


async def test_silent_quotes_show_silent_are_resent_and_go_live_again(
    stream: IBKRStreaming, gw: FakeGateway
) -> None:
    await stream.subscribe_quotes([8314])
    await until(lambda: stream.health()["quote"]["last_message_age"] is not None, "a first quote")
    assert stream.health()["quote"]["state"] == "live"
    gw.quotes_flowing = False  # re-sending does not help: the topic stays silent
    await until(lambda: stream.health()["quote"]["state"] == "silent", "quote topic silent")
    await until(lambda: stream.health()["quote"]["resubscribes"] >= 2, "re-sent while silent")
    await until(  # the first subscription and the watchdog's re-sends
        lambda: sum(f.startswith("smd+8314") for f in gw.received[-1]) >= 3, "smd re-sent to the gateway"
    )
    gw.quotes_flowing = True
    await until(lambda: stream.health()["quote"]["state"] == "live", "live again")
    assert stream.stats()["connects"] == 1


async def test_a_pnl_subscription_without_frames_is_resent(stream: IBKRStreaming, gw: FakeGateway) -> None:
    await stream.subscribe_pnl()  # the fake gateway sends spl only with a fill
    await until(lambda: stream.health()["pnl"]["resubscribes"] >= 1, "spl re-sent")
    assert stream.health()["pnl"]["state"] == "silent"
    await until(lambda: sum(f == "spl+{}" for f in gw.received[-1]) >= 2, "spl re-sent to the gateway")
    gw.orders[7] = {"orderId": 7, "conid": 8314, "status": "Submitted", "totalSize": 1.0}
    await gw.fill(7, 1.0, 10.0)
    await until(lambda: stream.health()["pnl"]["state"] == "live", "spl heard")


async def test_order_notices_refresh_live_orders_and_reach_consumers(
    stream: IBKRStreaming, gw: FakeGateway
) -> None:
    client = stream.client
    assert isinstance(client, FakeClient)
    await stream.subscribe_orders()

    def replay_age() -> float:
        return float(stream.health()["orders"]["last_message_age"] or 0.0)

    # the sor replay came, and longer ago than the grace: sor did not speak around the notices
    await until(lambda: replay_age() > 0.2, "the sor replay, a while ago")
    system = stream.events(StreamChannel.SYSTEM)
    before = client.calls.count("live_orders")
    await gw.broadcast(
        {"topic": "ntf", "args": {"id": "9", "text": "Market closes early", "title": "Notice"}}
    )
    gw.orders[5] = {"orderId": 5, "conid": 8314, "status": "Cancelled", "totalSize": 1.0}
    await gw.broadcast(
        {"topic": "ntf", "args": {"id": "10", "text": "Order 5 cancelled", "title": "Cancelled"}}
    )
    await until(lambda: stream.order(5) is not None, "the cancelled order from the refresh")
    assert client.calls.count("live_orders") == before + 1  # only the order notice refreshed
    order = stream.order(5)
    assert order is not None and order.status == "Cancelled"
    kinds = [e.data["id"] for e in system.drain() if isinstance(e, SystemEvent) and e.kind == "ntf"]
    assert kinds == ["9", "10"]
    assert stream.stats()["order_notices"] == 1


def test_decoder_remembers_the_topic_of_the_last_frame() -> None:
    stream = IBKRStreaming(FakeClient(FakeGateway()))
    stream.feed(json.dumps({"topic": "sor", "args": []}))
    assert stream.decoder.last_topic == "sor"
    stream.feed(json.dumps({"message": "waiting for session"}))
    assert stream.decoder.last_topic is None


async def test_sync_wrapper_reads_health_on_the_stream_thread(gw: FakeGateway) -> None:
    def run() -> dict[str, dict[str, Any]]:
        with SyncStreaming(lambda: FakeClient(gw), **FAST) as sync:
            sync.subscribe_quotes([8314])
            for _ in sync.events(StreamChannel.QUOTE, timeout=5):
                break
            return sync.health()

    health = await asyncio.to_thread(run)
    assert set(health) == {"quote"} and health["quote"]["state"] == "live"
    assert health["quote"]["last_message_age"] is not None


class SilentSorGateway(FakeGateway):
    """A gateway whose ``sor`` never answers (the build 10.46 capture)."""

    async def _on_frame(self, ws: Any, index: int, frame: str, subs: dict[int, float]) -> None:
        if not frame.startswith("sor"):
            await super()._on_frame(ws, index, frame, subs)


class PollingFake(FakeClient):
    """A client that can poll (and send ``force=true``); every live-orders read shows a new fill."""

    def __init__(self, gw: FakeGateway) -> None:
        super().__init__(gw)
        self.fills = 0.0

    async def snapshot(self, conids: Any, fields: Any = (), *, wait: float | None = None) -> list[m.Quote]:
        return []

    async def pnl(self) -> dict[str, m.PnLRow]:
        return {}

    async def live_orders(  # type: ignore[override]
        self, account_id: str | None = None, filters: Any = None, *, force: bool = False
    ) -> list[m.Order]:
        self.calls.append("live_orders(force)" if force else "live_orders")
        self.fills += 1.0
        return [m.Order(order_id=1, status="Submitted", total_size=100.0, filled_quantity=self.fills)]


async def test_forcing_backs_off_while_it_does_not_bring_sor_back() -> None:
    gw = SilentSorGateway()
    await gw.start()
    client = PollingFake(gw)
    stream = IBKRStreaming(client, **FAST)
    try:
        await stream.start()
        await stream.wait_connected(10)
        await stream.subscribe_orders()  # one read; sor says nothing
        await stream._rebuild_orders(source="poll")  # REST shows a change sor did not bring
        await until(lambda: client.calls.count("live_orders(force)") == 1, "one force=true read")
        assert stream._force_every == 60.0
        await stream._rebuild_orders(source="poll")  # within the minute: no second force
        assert client.calls.count("live_orders(force)") == 1
        assert stream._last_force is not None
        stream._last_force -= 61.0  # a minute later, still no sor frame
        await stream._rebuild_orders(source="poll")
        await until(lambda: client.calls.count("live_orders(force)") == 2, "a second force=true read")
        assert stream._force_every == 120.0
        stream.feed(json.dumps({"topic": "sor", "args": []}))  # sor speaks again
        assert stream._force_every == 60.0
        assert stream.stats()["order_force_refreshes"] == 2
    finally:
        await stream.stop()
        await gw.stop()
