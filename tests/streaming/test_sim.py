"""IBKRStreaming end to end: the real AsyncIBKRClient against the embedded simulator's socket.

Each admin fault (socket closed, brokerage session dropped, competing session, heartbeats stopped,
clock advanced past the 15-minute ``smd`` expiry) must leave the stream delivering quotes again
with every subscription restored, and fills placed through the client must reach ORDERS, TRADES
and the merged order state, with P&L updating afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from axion_broker_ibkr.streaming import (
    DepthEvent,
    IBKRStreaming,
    OrderEvent,
    QuoteEvent,
    StreamChannel,
    SyncStreaming,
    TradeEvent,
)

pytest.importorskip("axion_broker_ibkr.sim")
pytestmark = pytest.mark.timeout(60)

from axion_broker_ibkr.client import AsyncIBKRClient  # noqa: E402
from axion_broker_ibkr.config import IBKRConfig  # noqa: E402
from axion_broker_ibkr.drivers.pacing import Pacer  # noqa: E402
from axion_broker_ibkr.models import IBKRContract  # noqa: E402
from axion_broker_ibkr.sim import SimServer  # noqa: E402

from .waiting import until  # noqa: E402

AAPL = IBKRContract(conid=265598, sec_type="STK", symbol="AAPL", exchange="SMART", currency="USD")
SCALE = 1000.0  # pacing allowances of the simulator and of the client's pacer, scaled alike (tests only)
FAST: dict[str, Any] = {"tick": 0.05, "tic_interval": 1.0, "tickle_interval": 2.0, "heartbeat_timeout": 1.0,
        "quote_silence": 2.0, "backoff_base": 0.05, "backoff_cap": 0.3}  # fmt: skip


@pytest.fixture
def stream_sim() -> Iterator[SimServer]:
    server = SimServer(port=0, seed=13, heartbeat_interval=0.2, rate_scale=SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(stream_sim: SimServer) -> AsyncIterator[AsyncIBKRClient]:
    config = IBKRConfig(mode="sim", sim_url=stream_sim.root_url, ssl_verify=stream_sim.cert_fingerprint,
                        competing_policy="take_over")  # fmt: skip
    c = AsyncIBKRClient(config, pacer=Pacer(600, scale=SCALE))
    yield c
    await c.aclose()


@pytest.fixture
async def stream(client: AsyncIBKRClient) -> AsyncIterator[IBKRStreaming]:
    s = IBKRStreaming(client, **FAST)
    await s.start()
    await s.wait_connected(20)
    yield s
    await s.stop()


async def admin(sim: SimServer, name: str, *args: Any) -> Any:
    return await asyncio.to_thread(getattr(sim.admin, name), *args)


async def fresh_quote(stream: IBKRStreaming, conid: int) -> QuoteEvent:
    events = stream.events(StreamChannel.QUOTE)
    try:
        for _ in range(200):
            event = await events.get(20)
            if isinstance(event, QuoteEvent) and event.conid == conid:
                return event
        raise AssertionError(f"no quote for {conid}")
    finally:
        events.close()


FAULTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "socket closed": ("close_websockets", ()),
    "session dropped": ("drop_brokerage", ()),
    "competing session": ("competing", ()),
    "heartbeat stopped": ("stop_heartbeats", ()),
    "clock past 15 minutes": ("advance_clock", (16 * 60,)),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_stream_recovers_from_each_fault_without_losing_fills(
    stream: IBKRStreaming, client: AsyncIBKRClient, stream_sim: SimServer, fault: str
) -> None:
    await stream.subscribe_quotes([265598, 8314])
    await stream.subscribe_orders()
    await stream.subscribe_trades()
    await stream.subscribe_pnl()
    last = (await fresh_quote(stream, 265598)).quote.last
    assert last is not None
    coid = "AX-FAULT-" + fault.replace(" ", "-")
    result = await client.place_order(limit_buy(3, round(last * 0.98, 2), coid), AAPL)  # rests
    order_id = int(str(result.order_id))
    await until(lambda: stream.order(order_id) is not None, "resting order on ORDERS")
    await until(lambda: stream.liveness.last_heartbeat is not None, "a first heartbeat")
    connects = stream.stats()["connects"]
    name, args = FAULTS[fault]
    await admin(stream_sim, name, *args)
    await admin(stream_sim, "fill", order_id)  # during the outage: no sor/str frame reaches us for it
    if fault == "heartbeat stopped":
        await until(lambda: stream.stats().get("dead_sockets", 0) >= 1, "silent socket declared dead")
        await admin(stream_sim, "start_heartbeats")
    elif fault != "clock past 15 minutes":
        await until(lambda: stream.stats()["connects"] > connects, "reconnected")
    await until(lambda: stream.connected, "connected again")
    after = await fresh_quote(stream, 265598)
    assert after.quote.last is not None
    await fresh_quote(stream, 8314)  # every quote subscription is back, not just one
    stats = stream.stats()
    assert {s["channel"] for s in stats["subscriptions"] if s["active"]} == {
        "quote",
        "orders",
        "trades",
        "pnl",
    }
    if fault in {"session dropped", "competing session"}:
        assert stats["reinits"] >= 1
    await until(lambda: _filled(stream, order_id), "the outage fill in the merged order state")
    await until(lambda: any(t.client_order_id == coid for t in stream.trades), "the outage fill among trades")


async def test_quote_subscription_outlives_the_smd_expiry_without_a_reconnect(
    stream: IBKRStreaming, stream_sim: SimServer
) -> None:
    """The sim clock jumps 16 minutes: ``smd`` expires there, and the ``quote_silence`` watchdog renews it.

    The stream's own ``smd_refresh`` runs on its monotonic clock (600 s here), which the jump does not
    move, so only the silence watchdog (FAST: 2 s) can notice that the frames stopped.
    """
    await asyncio.to_thread(stream_sim.admin.config, idle_timeout=10**9)  # brokerage survives the jump
    await stream.subscribe_quotes([265598])
    await fresh_quote(stream, 265598)
    before = stream.stats()
    jumped = await admin(stream_sim, "advance_clock", 16 * 60)
    assert (await admin(stream_sim, "state"))["ws_counts"]["smd_expired"] == 1

    def renewed_after_the_jump() -> bool:
        sockets = stream_sim.admin.state()["websockets"]
        return any(s["smd"].get("265598", {}).get("renewed_ms", 0) > jumped["now_ms"] for s in sockets)

    await until(
        lambda: asyncio.to_thread(renewed_after_the_jump),
        "the stream re-sends smd after it expired on the simulator",
        interval=0.1,
    )
    after = await fresh_quote(stream, 265598)
    assert after.quote.last is not None
    stats = stream.stats()
    assert stats["quote_refreshes"] > before.get("quote_refreshes", 0)
    assert stats["connects"] == before["connects"]  # renewed on the same socket
    assert stats.get("reconnects", 0) == before.get("reconnects", 0)
    assert stats["state"] == "connected"
    assert stats["last_error"] is None  # the {"session": ...} frame after the cookie is not an error


async def test_fills_reach_orders_trades_and_pnl(stream: IBKRStreaming, client: AsyncIBKRClient) -> None:
    await stream.subscribe_quotes([265598])  # market data first, as a trader would (else IBKR asks o354)
    last = (await fresh_quote(stream, 265598)).quote.last
    assert last is not None
    await stream.subscribe_orders()
    await stream.subscribe_trades(days=1)
    await stream.subscribe_pnl()
    events = stream.events(StreamChannel.ORDERS, StreamChannel.TRADES, StreamChannel.PNL)
    order = limit_buy(7, round(last * 1.02, 2), "AX-STREAM-1")  # marketable
    result = await client.place_order(order, AAPL)
    assert result.order_id is not None
    order_id = int(result.order_id)
    seen: list[Any] = []
    await until(lambda: _drain(events, seen) and _filled(stream, order_id), "order filled on ORDERS")
    await until(
        lambda: _drain(events, seen) and any(_is_fill(e, "AX-STREAM-1") for e in seen), "fill on TRADES"
    )

    def pnl_events() -> int:
        _drain(events, seen)
        return sum(1 for e in seen if e.channel is StreamChannel.PNL)

    pnl_before = pnl_events()
    await until(lambda: pnl_events() > pnl_before, "P&L updates after the fill")
    merged = stream.order(order_id)
    assert merged is not None and merged.client_order_id == "AX-STREAM-1" and merged.filled_quantity == 7
    assert any(isinstance(e, OrderEvent) and e.order_id == order_id for e in seen)


async def test_depth_ladder(stream: IBKRStreaming) -> None:
    await until(lambda: stream.account is not None, "selected account from the act frame")
    events = stream.events(StreamChannel.DEPTH)
    await stream.subscribe_depth(265598)
    event = await events.get(20)
    assert isinstance(event, DepthEvent) and event.conid == 265598 and event.account == stream.account
    focus = [r for r in event.rows if r.focus]
    asks = [r for r in event.rows if r.ask is not None]
    bids = [r for r in event.rows if r.bid is not None]
    assert len(focus) == 1 and focus[0].size is not None and asks and bids
    assert min(r.price or 0 for r in asks) > max(r.price or 0 for r in bids)


def test_sync_wrapper_with_a_client_factory(stream_sim: SimServer) -> None:
    """What the dashboard does: ``SyncStreaming(partial(AsyncIBKRClient, config))`` from plain code."""
    config = IBKRConfig(mode="sim", sim_url=stream_sim.root_url, ssl_verify=stream_sim.cert_fingerprint)
    made: list[AsyncIBKRClient] = []

    def factory() -> AsyncIBKRClient:
        made.append(AsyncIBKRClient(config, pacer=Pacer(600, scale=SCALE)))
        return made[-1]

    with SyncStreaming(factory, **FAST) as sync:
        sync.subscribe_quotes([265598])
        quotes = []
        for event in sync.events(StreamChannel.QUOTE, timeout=20):
            quotes.append(event)
            if len(quotes) == 2:
                break
        assert [q.conid for q in quotes if isinstance(q, QuoteEvent)] == [265598, 265598]
        latest = sync.quote(265598)
        assert latest is not None and latest.last is not None
        assert sync.stats()["state"] == "connected"
    assert len(made) == 1 and made[0].mode == "sim"


def limit_buy(qty: int, price: float, coid: str) -> dict[str, Any]:
    return {"symbol": "AAPL", "side": "buy", "qty": qty, "order_type": "limit", "limit_price": price,
            "time_in_force": "day", "asset_type": "stock", "client_order_id": coid}  # fmt: skip


def _drain(events: Any, seen: list[Any]) -> bool:
    seen.extend(events.drain())
    return True


def _filled(stream: IBKRStreaming, order_id: int) -> bool:
    order = stream.order(order_id)
    return order is not None and order.status == "Filled"


def _is_fill(event: Any, coid: str) -> bool:
    # executions carry the order's cOID (order_ref), not its order id (REFERENCE §4.8)
    return isinstance(event, TradeEvent) and event.trade.client_order_id == coid
