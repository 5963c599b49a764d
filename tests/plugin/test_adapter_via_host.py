"""The adapter, driven the way Axion drives it: through the reference host (tests/host)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.host.multi_broker import MultiBroker

HOST_ORDER_KEYS = {"order_id", "client_order_id", "status", "fill_price", "fill_qty", "fee", "message"}


def host_config(sim: Any, **extra: Any) -> dict[str, Any]:
    return {
        "mode": "sim",
        "sim_url": sim.root_url,
        "ssl_verify": sim.cert_fingerprint,
        "max_requests_per_minute": 600,
        **extra,
    }


async def test_discover_create_connect_trade_cancel(fresh_sim: Any, tmp_path: Path) -> None:
    host = MultiBroker()
    assert "ibkr" in host.brokers()
    db = tmp_path / "ibkr.sqlite"
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url=f"sqlite:///{db}"))
    assert adapter.is_connected is False
    assert "stock" in adapter.supported_assets and "crypto" not in adapter.supported_assets
    try:
        assert await adapter.connect() is True
        assert adapter.is_connected is True

        account = await adapter.get_account()
        assert {"account_id", "currency", "cash", "equity", "buying_power"} <= set(account)
        assert account["account_id"] == "DU1234567" and account["currency"] == "USD"
        assert account["equity"] > 0 and account["mode"] == "sim"

        positions = await adapter.get_positions()
        assert positions
        for row in positions:
            assert {"symbol", "qty", "market_value", "cost_basis", "unrealized_pnl", "asset_type", "currency",
                    "conid"} <= set(row)  # fmt: skip

        quote = await adapter.get_quote("AAPL")
        assert {"symbol", "bid", "ask", "last", "volume", "timestamp"} <= set(quote)
        assert quote["symbol"] == "AAPL" and quote["bid"] < quote["ask"]

        price = round(quote["bid"] * 0.99, 2)
        order = {"symbol": "AAPL", "side": "buy", "quantity": 3, "order_type": "limit", "limit_price": price,
                 "time_in_force": "day", "asset_type": "stock"}  # fmt: skip
        result = await host.place("ibkr", order)
        assert set(result) >= HOST_ORDER_KEYS
        assert result["status"] == "open"  # resting below the market: working, never "filled"
        assert result["order_id"] and result["mode"] == "sim" and result["fill_qty"] == 0

        from axion_broker_ibkr.store import open_store

        store = open_store(f"sqlite:///{db}")
        logged = store.journal.get(result["client_order_id"])
        assert logged is not None and logged.order_id == result["order_id"] and logged.mode == "sim"
        store.close()

        assert await adapter.cancel_order(result["order_id"]) is True
        assert await adapter.cancel_order("999999999") is False
    finally:
        await adapter.disconnect()
    assert adapter.is_connected is False


async def test_refusals_come_back_as_rejected_results(fresh_sim: Any) -> None:
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim))
    try:
        assert await adapter.connect()
        quote = await adapter.get_quote("AAPL")
        far = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
               "limit_price": round(quote["bid"] * 0.8, 2), "time_in_force": "day"}  # fmt: skip
        refused = await host.place("ibkr", far)
        assert refused["status"] == "rejected" and "o163" in refused["message"]
        assert refused["declined"] is True and refused["question_ids"] == ["o163"]  # not IBKR's refusal
        assert refused["transcript"][0]["message_ids"] == ["o163"]
        unknown = await host.place("ibkr", {**far, "symbol": "NOSUCH"})
        assert unknown["status"] == "rejected" and "NOSUCH" in unknown["message"]
        bad = await host.place("ibkr", {**far, "qty": -1})
        assert bad["status"] == "rejected" and "qty" in bad["message"]
    finally:
        await adapter.disconnect()


async def test_connect_reports_false_when_logged_out(fresh_sim: Any) -> None:
    fresh_sim.admin.logout()
    adapter = MultiBroker().adapter("ibkr", host_config(fresh_sim))
    try:
        assert await adapter.connect() is False
        assert adapter.is_connected is False
        assert "log in" in adapter.last_error
    finally:
        await adapter.disconnect()


def test_bad_config_is_a_clear_error() -> None:
    from axion_broker_ibkr.errors import ConfigError

    with pytest.raises(ConfigError, match="gateway_port"):
        MultiBroker().adapter("ibkr", {"gateway_port": "fifty"})


def test_other_brokers_get_no_adapter() -> None:
    host = MultiBroker()
    assert host.pm.hook.axion_broker_adapter(broker="alpaca", config={}) is None


QUOTE_KEYS = {"symbol", "bid", "ask", "last", "volume", "timestamp"}


async def test_get_quote_reads_forex_pairs_and_stocks_by_shape(sim: Any) -> None:
    adapter = MultiBroker().adapter("ibkr", host_config(sim, database_url="memory"))
    try:
        assert await adapter.connect()
        eur = await adapter.get_quote("EUR.USD")
        assert set(eur) >= QUOTE_KEYS
        assert (eur["symbol"], eur["sec_type"], eur["requested_symbol"]) == ("EUR.USD", "CASH", "EUR.USD")
        assert 0.5 < eur["bid"] < eur["ask"] < 2.0  # a rate, not a share price
        assert dt.datetime.fromisoformat(eur["timestamp"]).tzinfo is not None

        inverse = await adapter.get_quote("USD.EUR")  # IBKR lists EUR.USD only: its quote, labelled so
        assert (inverse["symbol"], inverse["requested_symbol"]) == ("EUR.USD", "USD.EUR")
        assert inverse["conid"] == eur["conid"] and 0.5 < inverse["bid"] < 2.0

        jpy = await adapter.get_quote("USD.JPY")
        assert jpy["sec_type"] == "CASH" and jpy["conid"] != eur["conid"] and jpy["bid"] > 50

        stock = await adapter.get_quote("AAPL")
        assert set(stock) >= QUOTE_KEYS and (stock["symbol"], stock["sec_type"]) == ("AAPL", "STK")
    finally:
        await adapter.disconnect()


@pytest.mark.parametrize(
    ("symbol", "asset_type"),
    [("EUR.USD", "forex"), (" GBP.USD ", "forex"), ("AAPL", "stock"), ("BRK.B", "stock"),
     ("eur.usd", "stock"), ("EURUSD", "stock"), ("EUR/USD", "stock"), ("EURO.USD", "stock")],
)  # fmt: skip
def test_quote_symbols_are_read_by_shape(symbol: str, asset_type: str) -> None:
    from axion_broker_ibkr.adapter import quote_asset_type

    assert quote_asset_type(symbol) == asset_type


def _book_price(sim: Any, order_id: str) -> float:
    """The limit price the simulator's book holds for ``order_id`` (its admin state)."""
    for row in sim.admin.state().get("orders", []):
        if str(row.get("order_id") or row.get("orderId")) == str(order_id):
            return float(row.get("price") if row.get("price") is not None else row["limit_price"])
    raise AssertionError(f"order {order_id} is not in the simulator's book")


async def test_prices_reach_the_book_on_the_contracts_own_grid(fresh_sim: Any) -> None:
    """Issue 10 item 1: ES (tick 0.25) buy 5850.30 -> 5850.25, sell 5850.30 -> 5850.50;
    AAPL buy 185.123 -> 185.12."""
    host = MultiBroker()
    config = host_config(fresh_sim, database_url="memory", futures_operator="Test Operator")
    adapter = host.adapter("ibkr", config)
    try:
        assert await adapter.connect()
        es = await adapter.resolve("ES", "futures", {})
        assert es.tick_size == 0.25 and es.increment_rules  # rules on the contract the adapter resolved
        base = {"symbol": "ES", "asset_type": "futures", "qty": 1, "order_type": "limit",
                "time_in_force": "day"}  # fmt: skip

        fresh_sim.admin.set_price(es.conid, 5900.0)  # the buy rests below the market
        buy = await host.place("ibkr", {**base, "side": "buy", "limit_price": 5850.30})
        assert buy["status"] == "open", buy
        assert _book_price(fresh_sim, buy["order_id"]) == 5850.25

        fresh_sim.admin.set_price(es.conid, 5800.0)  # the sell rests above the market
        sell = await host.place("ibkr", {**base, "side": "sell", "limit_price": 5850.30})
        assert sell["status"] == "open", sell
        assert _book_price(fresh_sim, sell["order_id"]) == 5850.50

        aapl = await adapter.resolve("AAPL", "stock", {})
        fresh_sim.admin.set_price(aapl.conid, 186.0)
        stock = await host.place("ibkr", {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
                                          "limit_price": 185.123, "time_in_force": "day"})  # fmt: skip
        assert stock["status"] == "open", stock
        assert _book_price(fresh_sim, stock["order_id"]) == 185.12
    finally:
        await adapter.disconnect()


@pytest.fixture
def scaled_sim() -> Any:
    """A simulator of this test's own whose pacing lets two clients connect back to back."""
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=17, rate_scale=100.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _rules_requests(sim: Any) -> int:
    counts = sim.admin.state().get("request_counts", {})
    return sum(int(v) for k, v in counts.items() if "contract/rules" in str(k))


async def test_rules_come_back_from_the_contract_cache_table(scaled_sim: Any, tmp_path: Path) -> None:
    """A second process on the same database resolves ES from the cache table, rules and all, and
    its order still reaches the book on the grid (no rules request needed for the grid)."""
    db = f"sqlite:///{tmp_path / 'ibkr.sqlite'}"
    config = host_config(scaled_sim, database_url=db, futures_operator="Test Operator")
    first = MultiBroker().adapter("ibkr", config)
    try:
        assert await first.connect()
        es = await first.resolve("ES", "futures", {})
        assert es.rules_source == "ibkr" and _rules_requests(scaled_sim) > 0
    finally:
        await first.disconnect()
    host = MultiBroker()
    second = host.adapter("ibkr", config)
    try:
        assert await second.connect()
        asked = _rules_requests(scaled_sim)
        cached = await second.resolve("ES", "futures", {})
        assert cached == es  # from the table: the same contract with the same rules
        scaled_sim.admin.set_price(es.conid, 5900.0)
        order = {"symbol": "ES", "asset_type": "futures", "side": "buy", "qty": 1, "order_type": "limit",
                 "limit_price": 5850.30, "time_in_force": "day"}  # fmt: skip
        buy = await host.place("ibkr", order)
        assert buy["status"] == "open", buy
        assert _book_price(scaled_sim, buy["order_id"]) == 5850.25
        assert _rules_requests(scaled_sim) == asked  # the grid came from the cache table
    finally:
        await second.disconnect()


async def test_the_adapter_keeps_working_after_an_sso_relogin(fresh_sim: Any) -> None:
    # Issue 12 item 2: after a logout + login at the gateway (a new brokerage session that has not
    # asked /iserver/accounts or /portfolio/accounts yet), the host's next calls work with no user
    # action and no IBKR precondition message reaches it.
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url="memory", auto_confirm=["o163"]))
    try:
        assert await adapter.connect() is True
        before = await adapter.get_account()
        fresh_sim.admin.logout()
        fresh_sim.admin.login()
        after = await adapter.get_account()
        assert after["account_id"] == before["account_id"] and after["equity"] > 0
        positions = await adapter.get_positions()
        assert isinstance(positions, list)
        order = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit", "limit_price": 100.0,
                 "time_in_force": "day", "asset_type": "stock"}  # fmt: skip
        placed = await host.place("ibkr", order)
        assert placed["status"] not in ("rejected", "error"), placed
        assert "query" not in str(placed.get("message", "")).lower()
    finally:
        await adapter.disconnect()
