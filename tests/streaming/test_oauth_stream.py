"""The stream in ``mode="oauth"``: ``wss://.../v1/api/ws?oauth_token=...`` plus the ``api`` cookie
from ``/tickle`` (REFERENCE §6.1), against ``SimServer(oauth=True)``; fills reach ORDERS and TRADES."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.client import AsyncIBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.sim import SimServer
from axion_broker_ibkr.streaming import IBKRStreaming, QuoteEvent, StreamChannel, TradeEvent

from .waiting import until

pytestmark = pytest.mark.timeout(60)
AAPL = IBKRContract(conid=265598, sec_type="STK", symbol="AAPL", exchange="SMART", currency="USD")
SCALE = 1000.0
FAST: dict[str, Any] = {"tick": 0.05, "tic_interval": 1.0, "tickle_interval": 2.0, "heartbeat_timeout": 1.0,
        "quote_silence": 2.0, "backoff_base": 0.05, "backoff_cap": 0.3}  # fmt: skip


@pytest.fixture
def oauth_sim() -> Iterator[SimServer]:
    with SimServer(port=0, seed=13, heartbeat_interval=0.2, rate_scale=SCALE, oauth=True) as sim:
        yield sim


async def test_stream_over_oauth_delivers_quotes_and_fills(
    oauth_sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert oauth_sim.oauth_credentials is not None and oauth_sim.state.oauth is not None
    config = IBKRConfig(mode="oauth", oauth_credentials=str(oauth_sim.oauth_credentials),
                        oauth_base_url=oauth_sim.base_url, competing_policy="take_over",
                        ssl_verify=str(oauth_sim.oauth_credentials.parent / "ca.pem"))  # fmt: skip
    client = AsyncIBKRClient(config, pacer=Pacer(600, scale=SCALE))
    stream = IBKRStreaming(client, **FAST)
    try:
        await stream.start()
        await stream.wait_connected(20)
        await stream.subscribe_quotes([265598])
        await stream.subscribe_orders()
        await stream.subscribe_trades(days=1)
        events = stream.events(StreamChannel.QUOTE, StreamChannel.TRADES)
        seen: list[Any] = []

        def drain() -> bool:
            seen.extend(events.drain())
            return True

        await until(lambda: drain() and any(isinstance(e, QuoteEvent) for e in seen), "a quote over OAuth")
        last = next(e for e in seen if isinstance(e, QuoteEvent)).quote.last
        assert last is not None
        order = {"symbol": "AAPL", "side": "buy", "qty": 3, "order_type": "limit",
                 "limit_price": round(last * 1.02, 2), "time_in_force": "day", "asset_type": "stock",
                 "client_order_id": "AX-OAUTH-STREAM"}  # fmt: skip
        result = await client.place_order(order, AAPL)
        assert result.mode == "oauth" and result.order_id is not None
        await until(
            lambda: drain() and any(isinstance(e, TradeEvent) and e.trade.client_order_id == "AX-OAUTH-STREAM"
                                    for e in seen),
            "the fill on TRADES",
        )  # fmt: skip
        events.close()
    finally:
        await stream.stop()
        await client.aclose()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "oauth_token=***" in text  # the stream said where it connected, token masked
    assert oauth_sim.state.oauth.access_token not in text
