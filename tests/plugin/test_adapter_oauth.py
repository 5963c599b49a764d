"""The adapter in ``mode="oauth"``, driven through the reference host, against the simulator as
IBKR's OAuth server: account, quote, an order written to the order log first, and its cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.sim import SimServer
from tests.host.multi_broker import MultiBroker


@pytest.fixture
def oauth_sim() -> Iterator[SimServer]:
    with SimServer(port=0, oauth=True, rate_scale=100.0) as sim:
        yield sim


def oauth_host_config(sim: SimServer, **extra: Any) -> dict[str, Any]:
    assert sim.oauth_credentials is not None
    return {
        "mode": "oauth",
        "oauth_credentials": str(sim.oauth_credentials),
        "oauth_base_url": sim.base_url,
        "ssl_verify": str(sim.oauth_credentials.parent / "ca.pem"),
        "max_requests_per_minute": 600,
        **extra,
    }


async def test_trade_through_the_host_over_oauth(oauth_sim: SimServer, tmp_path: Path) -> None:
    host = MultiBroker()
    db = tmp_path / "ibkr.sqlite"
    adapter = host.adapter("ibkr", oauth_host_config(oauth_sim, database_url=f"sqlite:///{db}"))
    try:
        assert await adapter.connect() is True
        account = await adapter.get_account()
        assert account["account_id"] == "DU1234567" and account["mode"] == "oauth"
        quote = await adapter.get_quote("AAPL")
        price = round(quote["bid"] * 0.99, 2)  # rests below the market
        order = {"symbol": "AAPL", "side": "buy", "quantity": 3, "order_type": "limit",
                 "limit_price": price, "time_in_force": "day", "asset_type": "stock"}  # fmt: skip
        result = await host.place("ibkr", order)
        assert result["status"] == "open" and result["mode"] == "oauth"
        from axion_broker_ibkr.store import open_store

        store = open_store(f"sqlite:///{db}")
        logged = store.journal.get(result["client_order_id"])
        assert logged is not None and logged.mode == "oauth" and logged.order_id == result["order_id"]
        store.close()
        assert await adapter.cancel_order(result["order_id"]) is True
    finally:
        await adapter.disconnect()
    assert oauth_sim.state.oauth is not None and oauth_sim.state.oauth.issued == 1
