"""IBKRStreaming over a real loopback socket against a scripted gateway (faults on demand)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from axion_broker_ibkr.streaming import (
    IBKRStreaming,
    OrderEvent,
    PnLEvent,
    QuoteEvent,
    StreamChannel,
    SubscriptionError,
    SyncStreaming,
    TradeEvent,
)

from .fakegw import FakeClient, FakeGateway
from .waiting import until

pytestmark = pytest.mark.timeout(30)

FAST: dict[str, Any] = {
    "tick": 0.02,
    "tic_interval": 0.2,
    "tickle_interval": 0.5,
    "heartbeat_timeout": 1.0,
    "quote_silence": 0.3,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
    "subscribe_wait": 0.5,
}


@pytest.fixture
async def gw() -> AsyncIterator[FakeGateway]:
    gateway = FakeGateway()
    gateway.orders[101] = {
        "orderId": 101, "acct": "DU1234567", "conid": 8314, "ticker": "IBM", "status": "Submitted",
        "totalSize": 10.0, "filledQuantity": 0.0, "remainingQuantity": 10.0, "side": "BUY",
        "order_ref": "cOID-101",
    }  # fmt: skip
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
async def stream(gw: FakeGateway) -> AsyncIterator[IBKRStreaming]:
    s = IBKRStreaming(FakeClient(gw), **FAST)
    await s.start()
    await s.wait_connected(10)
    yield s
    await s.stop()


def smd_frames(gw: FakeGateway, conn: int) -> list[str]:
    return [f for f in gw.received[conn] if f.startswith("smd+")] if conn < len(gw.received) else []


async def next_quote_after_reconnect(stream: IBKRStreaming, gw: FakeGateway, conn: int) -> QuoteEvent:
    await until(lambda: len(smd_frames(gw, conn)) > 0, f"smd re-sent on connection {conn}")
    events = stream.events(StreamChannel.QUOTE)
    event = await events.get(10)
    events.close()
    assert isinstance(event, QuoteEvent)
    return event


async def test_connect_authenticates_and_quotes_flow(stream: IBKRStreaming, gw: FakeGateway) -> None:
    events = stream.events(StreamChannel.QUOTE)
    await stream.subscribe_quotes([8314], fields=[31, "84"])
    ev = await events.get(10)
    assert isinstance(ev, QuoteEvent) and ev.conid == 8314 and ev.quote.last is not None
    assert gw.cookies[0] == 'api={"session":"abcdef0123456789"}'
    assert json.loads(gw.received[0][0]) == {"session": "abcdef0123456789"}
    assert 'smd+8314+{"fields":["31","84"]}' in gw.received[0]
    stats = stream.stats()
    assert stats["state"] == "connected" and stats["connected"] and stats["account"] == "DU***567"
    assert stats["subscriptions"] == [{"channel": "quote", "target": "8314", "sends": 1, "active": True}]
    assert stream.quote(8314) is not None
    await until(lambda: "tic" in gw.received[0], "a tic was sent")


async def test_bad_subscription_requests_are_refused(stream: IBKRStreaming) -> None:
    with pytest.raises(SubscriptionError, match="conid"):
        await stream.subscribe_quotes(["IBM"])
    with pytest.raises(SubscriptionError, match="days"):
        await stream.subscribe_trades(days=30)
    with pytest.raises(ValueError, match="smd_refresh"):
        IBKRStreaming(stream.client, smd_refresh=900)


async def test_socket_closed_reconnects_and_resubscribes(stream: IBKRStreaming, gw: FakeGateway) -> None:
    await stream.subscribe_quotes([8314, 265598])
    await stream.subscribe_orders()
    await stream.subscribe_pnl()
    await gw.close_all()
    await next_quote_after_reconnect(stream, gw, 1)
    await until(lambda: "spl+{}" in gw.received[1] and "sor+{}" in gw.received[1], "sor and spl re-sent")
    assert {f.split("+")[1] for f in smd_frames(gw, 1)} == {"8314", "265598"}
    stats = stream.stats()
    assert stats["reconnects"] >= 1 and stats["last_disconnect_reason"].startswith("closed")
    assert stats["order_rebuilds"] >= 2  # subscribe_orders, then the reconnect


async def test_auth_loss_reinits_without_taking_over(stream: IBKRStreaming, gw: FakeGateway) -> None:
    client = stream.client
    assert isinstance(client, FakeClient)
    await stream.subscribe_quotes([8314])
    await gw.drop_session()
    await next_quote_after_reconnect(stream, gw, 1)
    assert "init_session(compete=False)" in client.calls  # the default policy is wait
    assert stream.stats()["reinits"] == 1
    assert stream.stats()["last_disconnect_reason"] == "auth lost"


async def test_take_over_policy_reinits_a_competing_session(gw: FakeGateway) -> None:
    client = FakeClient(gw)
    async with IBKRStreaming(client, compete=True, **FAST) as s:
        await s.wait_connected(10)
        await s.subscribe_quotes([8314])
        await gw.compete()
        await next_quote_after_reconnect(s, gw, 1)
        assert "init_session(compete=True)" in client.calls
        assert s.stats()["reinits"] == 1
        assert s.stats()["last_disconnect_reason"] == "competing session"


def test_one_competing_policy_default_read_in_one_place() -> None:
    from axion_broker_ibkr.config import DEFAULT_COMPETING_POLICY, IBKRConfig, takes_over_competing

    assert DEFAULT_COMPETING_POLICY == "wait" == IBKRConfig().competing_policy
    assert takes_over_competing(object()) is False  # a client without a config: wait
    assert takes_over_competing(IBKRConfig()) is False
    assert takes_over_competing(IBKRConfig(competing_policy="take_over")) is True
    assert IBKRStreaming(FakeClient(FakeGateway())).compete is False


async def test_silent_heartbeat_declares_socket_dead(stream: IBKRStreaming, gw: FakeGateway) -> None:
    await stream.subscribe_quotes([8314])
    await until(lambda: stream.liveness.last_heartbeat is not None, "a first heartbeat")
    gw.heartbeats = False  # the socket stays open and quotes keep coming: only the heartbeat stops
    await until(lambda: stream.stats().get("dead_sockets", 0) >= 1, "dead socket detected")
    gw.heartbeats = True
    await next_quote_after_reconnect(stream, gw, 1)
    assert stream.stats()["last_disconnect_reason"] == "heartbeat lost"


async def test_expired_quote_subscription_is_refreshed(stream: IBKRStreaming, gw: FakeGateway) -> None:
    await stream.subscribe_quotes([8314])
    await until(lambda: stream.quote(8314) is not None, "first quote")
    gw.expire_quotes()
    await until(lambda: len(smd_frames(gw, 0)) >= 2, "smd re-sent on the same socket")
    before = stream.quote(8314)
    await until(lambda: stream.quote(8314) != before, "quotes flow again")
    assert stream.stats()["quote_refreshes"] >= 1 and len(gw.received) == 1


async def test_fills_arrive_on_orders_trades_and_pnl(stream: IBKRStreaming, gw: FakeGateway) -> None:
    seen: dict[StreamChannel, list[Any]] = {
        StreamChannel.ORDERS: [],
        StreamChannel.TRADES: [],
        StreamChannel.PNL: [],
    }
    for channel, bucket in seen.items():
        stream.on(channel, bucket.append)
    await stream.subscribe_orders()
    await stream.subscribe_trades(days=1)
    await stream.subscribe_pnl()
    await until(lambda: "spl+{}" in gw.received[0], "subscriptions sent")
    await gw.fill(101, 4.0, 99.5)
    await until(lambda: all(seen.values()), "fill on every channel")
    order_ev = [e for e in seen[StreamChannel.ORDERS] if isinstance(e, OrderEvent) and e.source == "ws"][-1]
    assert order_ev.order.filled_quantity == 4.0 and order_ev.order.ticker == "IBM"  # merged
    assert isinstance(seen[StreamChannel.TRADES][0], TradeEvent)
    assert seen[StreamChannel.TRADES][0].trade.execution_id == "exec.101.0"
    pnl = seen[StreamChannel.PNL][0]
    assert isinstance(pnl, PnLEvent) and pnl.row.upl == 6.0


async def test_fill_during_outage_is_recovered_from_rest(stream: IBKRStreaming, gw: FakeGateway) -> None:
    await stream.subscribe_orders()
    await stream.subscribe_trades()
    events = stream.events(StreamChannel.ORDERS, StreamChannel.TRADES)
    await gw.fill(101, 10.0, 98.0, notify=False)  # happens while nobody hears it
    await gw.close_all()
    await until(lambda: len(gw.received) >= 2 and "sor+{}" in gw.received[1], "resubscribed")
    await until(lambda: (o := stream.order(101)) is not None and o.status == "Filled", "fill merged")
    got = []
    while (ev := await events.get(0.5)) is not None:
        got.append(ev)
    rest = [e for e in got if getattr(e, "source", "") == "rest"]
    assert any(isinstance(e, OrderEvent) and e.delta.status == "Filled" for e in rest)
    assert any(isinstance(e, TradeEvent) and e.trade.execution_id == "exec.101.0" for e in rest)
    assert [t.execution_id for t in stream.trades] == ["exec.101.0"]  # str replay de-duplicated
    assert stream.order(101).filled_quantity == 10.0  # type: ignore[union-attr]


async def test_slow_consumer_drops_quotes_but_not_fills(stream: IBKRStreaming, gw: FakeGateway) -> None:
    slow = stream.events(StreamChannel.QUOTE, StreamChannel.ORDERS, maxsize=5)
    await stream.subscribe_orders()
    await stream.subscribe_quotes([8314, 265598])
    await until(lambda: slow.dropped > 20, "quotes piling up")
    await gw.fill(101, 1.0, 99.0)
    await until(lambda: any(o.filled_quantity == 1.0 for o in stream.orders.values()), "fill seen")
    await stream.unsubscribe_quotes([8314, 265598])
    got = []
    while (ev := await slow.get(0.3)) is not None:
        got.append(ev)
    orders = [e for e in got if isinstance(e, OrderEvent)]
    assert [e.order.filled_quantity for e in orders] == [0.0, 1.0]  # REST rebuild, then the fill: none lost
    assert any(isinstance(e, QuoteEvent) for e in got)
    assert stream.stats()["dropped"] >= slow.dropped > 20


async def test_callback_errors_are_counted_not_fatal(stream: IBKRStreaming) -> None:
    got: list[QuoteEvent] = []

    def boom(event: Any) -> None:
        raise RuntimeError("consumer bug")

    async def record(event: Any) -> None:
        got.append(event)

    stream.on(StreamChannel.QUOTE, boom)
    remove = stream.on(StreamChannel.QUOTE, record)
    await stream.subscribe_quotes([8314])
    await until(lambda: len(got) >= 3, "async callback called")
    remove()
    assert stream.stats()["callback_errors"] >= 3 and stream.connected


async def test_events_iterator_ends_on_stop(gw: FakeGateway) -> None:
    s = IBKRStreaming(FakeClient(gw), **FAST)
    async with s:
        await s.wait_connected(10)
        events = s.events(StreamChannel.SYSTEM)
        await s.stop()
        kinds = [e.state async for e in events if e.kind == "state"]  # type: ignore[union-attr]
    assert kinds[-1] == "closed" and s.stats()["state"] == "closed"


async def test_sync_wrapper(gw: FakeGateway) -> None:
    def run() -> tuple[list[Any], dict[str, Any]]:
        with SyncStreaming(lambda: FakeClient(gw), **FAST) as sync:
            sync.subscribe_quotes([8314])
            got = []
            for event in sync.events(StreamChannel.QUOTE, timeout=5):
                got.append(event)
                if len(got) == 3:
                    break
            return got, sync.stats()

    got, stats = await asyncio.to_thread(run)
    assert [e.conid for e in got] == [8314, 8314, 8314] and stats["connected"]


async def test_sync_wrapper_gives_up_cleanly_when_it_cannot_connect(gw: FakeGateway) -> None:
    class Broken(FakeClient):
        async def auth_status(self) -> Any:
            raise ConnectionRefusedError("gateway down")

    sync = SyncStreaming(lambda: Broken(gw), **FAST)
    with pytest.raises(TimeoutError):
        await asyncio.to_thread(sync.start, 0.3)
    with pytest.raises(RuntimeError, match="not started"):
        sync.stats()


async def test_repeated_quote_subscription_is_not_resent(stream: IBKRStreaming, gw: FakeGateway) -> None:
    stream.quote_silence = 600.0  # no refresh re-send may blur the count, however slow the machine
    await stream.subscribe_quotes([8314], ["31"])
    await stream.subscribe_quotes([8314], ["31"])  # e.g. a page re-rendering
    await stream.subscribe_quotes([8314], ["84"])  # more fields: re-sent with the union
    await until(lambda: len(smd_frames(gw, 0)) == 2, "two smd frames")
    assert smd_frames(gw, 0) == ['smd+8314+{"fields":["31"]}', 'smd+8314+{"fields":["31","84"]}']
    await stream.unsubscribe_quotes(8314)
    await until(lambda: "umd+8314+{}" in gw.received[0], "umd sent")
    assert stream.stats()["subscriptions"] == []
    assert await stream.unsubscribe(StreamChannel.QUOTE, "8314") is False


async def test_wait_policy_does_not_take_over_a_competing_session(gw: FakeGateway) -> None:
    client = FakeClient(gw)  # no config: the default policy (wait) applies
    async with IBKRStreaming(client, **FAST) as s:
        await s.wait_connected(10)
        await s.subscribe_quotes([8314])
        await gw.compete()
        await until(lambda: s.stats().get("state_waiting_for_session", 0) >= 1, "waiting for the session")
        assert not any(c.startswith("init_session") for c in client.calls)
        assert "CompetingSessionError" in str(s.stats()["last_disconnect_reason"])
        next_conn = len(gw.received)  # no socket is opened while waiting
        gw.competing, gw.authenticated = False, True  # the other platform logged out
        await next_quote_after_reconnect(s, gw, next_conn)
        assert s.state == "connected"


async def test_quiet_sor_is_covered_by_the_periodic_order_resync(gw: FakeGateway) -> None:
    async with IBKRStreaming(FakeClient(gw), orders_resync=0.2, **FAST) as s:
        await s.wait_connected(10)
        events = s.events(StreamChannel.ORDERS)
        await s.subscribe_orders()
        await until(lambda: "sor+{}" in gw.received[0], "sor subscribed")

        def sor_snapshot_decoded() -> bool:  # changed or not, the snapshot is one of these counts
            frames = s.stats()["frames"]
            return frames.get("orders", 0) + frames.get("unchanged_orders", 0) >= 1

        await until(sor_snapshot_decoded, "the sor snapshot decoded")
        events.drain()
        gw.orders[101]["status"] = "Cancelled"  # changed at the broker, but no sor frame says so
        await until(lambda: (o := s.order(101)) is not None and o.status == "Cancelled", "resync saw it")
        got = [e for e in events.drain() if isinstance(e, OrderEvent) and e.delta.status == "Cancelled"]
        assert got and got[0].source == "rest" and s.stats()["order_resyncs"] >= 1


async def test_logged_out_gateway_waits_for_login_with_growing_backoff(gw: FakeGateway) -> None:
    from axion_broker_ibkr.errors import NotAuthenticatedError

    class LoggedOut(FakeClient):
        async def auth_status(self) -> Any:
            self.calls.append("auth_status")
            raise NotAuthenticatedError(
                "no SSO session", status_code=401, method="POST", path="/iserver/auth/status"
            )

    client = LoggedOut(gw)
    async with IBKRStreaming(client, **FAST) as s:
        await until(lambda: client.calls.count("auth_status") >= 3, "three attempts")
        stats = s.stats()
        assert stats["state"] == "waiting_for_login" and not stats["connected"]
        assert stats["last_disconnect_reason"] == "NotAuthenticatedError" and s.backoff.attempts >= 2
        assert "tickle" not in client.calls and gw.received == []  # no socket without a session
