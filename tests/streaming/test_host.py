"""Streaming through the reference host: the capability is advertised, and a stream on the host's
own adapter carries quotes and the fill of an order the host placed, and keeps the adapter's order
log (its default database, redirected to the test's tmp dir) current."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.streaming import IBKRStreaming, OrderEvent, QuoteEvent, StreamChannel
from tests.host.multi_broker import MultiBroker

pytest.importorskip("axion_broker_ibkr.sim")
pytestmark = pytest.mark.timeout(60)

from axion_broker_ibkr.sim import SimServer  # noqa: E402

from .waiting import until  # noqa: E402

FAST: dict[str, Any] = {"tick": 0.05, "tic_interval": 1.0, "tickle_interval": 2.0, "heartbeat_timeout": 1.0,
        "backoff_base": 0.05, "backoff_cap": 0.3}  # fmt: skip


@pytest.fixture
def host_sim() -> Iterator[SimServer]:
    server = SimServer(port=0, seed=17, heartbeat_interval=0.2, rate_scale=1000.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_host_sees_streaming_capability() -> None:
    caps = MultiBroker().registry["ibkr"]
    assert (
        caps["streaming"] is True and caps["supports_websocket"] is True and caps["real_time_quotes"] is True
    )


async def test_stream_on_the_host_adapter_carries_quotes_and_fills(host_sim: SimServer) -> None:
    host = MultiBroker()
    config = {"mode": "sim", "sim_url": host_sim.root_url, "ssl_verify": host_sim.cert_fingerprint}
    adapter = host.adapter("ibkr", config)
    assert await adapter.connect()
    stream = adapter.stream(**FAST)
    assert isinstance(stream, IBKRStreaming) and adapter.store is not None
    try:
        await stream.start()
        await stream.wait_connected(20)
        events = stream.events(StreamChannel.QUOTE, StreamChannel.ORDERS)
        await stream.subscribe_quotes([265598])
        await stream.subscribe_orders()
        quote = None
        while quote is None:
            event = await events.get(20)
            assert event is not None, "no quote from the stream"
            quote = event.quote if isinstance(event, QuoteEvent) else None
        assert quote.last is not None
        order = {"symbol": "AAPL", "side": "buy", "qty": 2, "order_type": "limit", "asset_type": "stock",
                 "limit_price": round(quote.last * 0.99, 2), "time_in_force": "day",
                 "client_order_id": "AX-HOST-1"}  # fmt: skip
        result: dict[str, Any] = await host.place("ibkr", order)
        assert result["status"] == "open"  # resting: only the stream can tell the log about the fill
        row = adapter.store.journal.get("AX-HOST-1")
        assert row is not None and row.status == "open"
        await asyncio.to_thread(host_sim.admin.fill, result["order_id"])
        filled = None
        for _ in range(500):
            event = await events.get(20)
            assert event is not None, "the fill never reached ORDERS"
            if (
                isinstance(event, OrderEvent)
                and event.order.client_order_id == "AX-HOST-1"
                and event.order.status == "Filled"
            ):
                filled = event.order
                break
        assert filled is not None and filled.filled_quantity == 2
        # The order log follows the stream (writes run in a worker thread: wait for the row).
        await until(
            lambda: getattr(adapter.store.journal.get("AX-HOST-1"), "status", None) == "filled", "row filled"
        )
        row = adapter.store.journal.get("AX-HOST-1")
        assert row is not None and (row.status, row.filled_quantity) == ("filled", 2)
    finally:
        await stream.stop()
        await adapter.disconnect()
        await asyncio.sleep(0)
