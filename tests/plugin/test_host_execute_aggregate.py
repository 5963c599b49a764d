"""Execute -> aggregate through the reference host, which reads results the way Axion's executor and
aggregator do (``float()`` on every number, HOST_CONTRACT §4), for every asset class."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.host.multi_broker import MultiBroker
from tests.plugin.test_adapter_via_host import host_config


async def _working_limit(adapter: Any, symbol: str, asset_type: str, details: dict[str, Any]) -> float:
    """A buy limit 2% under the last price: inside IBKR's 3% percentage constraint (no question),
    under the market (rests, does not fill)."""
    from axion_broker_ibkr.adapter import _order_details

    contract = await adapter.resolve(symbol, asset_type, _order_details(details))
    quote = (await adapter.client.snapshot([contract.conid]))[0]
    last = quote.last or quote.bid
    assert last, f"no price for {symbol}"
    return float(last) * 0.98


async def test_an_open_order_of_every_asset_class_executes_and_aggregates(fresh_sim: Any) -> None:
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url="memory", futures_operator="desk-1"))
    try:
        assert await adapter.connect()
        expiry = (await adapter.client.search("AAPL", "STK"))[0].opt.split(";")[2]
        stock_last = (await adapter.get_quote("AAPL"))["last"]
        strike = 5.0 * round(stock_last / 5.0)
        option = {"expiration": expiry, "strike": strike, "option_type": "call"}
        bond = {"issuer": "e1395513", "maturity": "203411"}
        cases: list[tuple[str, str, float, dict[str, Any]]] = [
            ("AAPL", "stock", 5, {}),
            ("AAPL", "option", 1, option),
            ("EUR.USD", "forex", 20000, {}),
            ("ES", "futures", 1, {}),
            ("US-T", "bond", 1000, bond),
        ]
        seen = set()
        for symbol, asset_type, qty, details in cases:
            price = await _working_limit(adapter, symbol, asset_type, details)
            order = {"symbol": symbol, "side": "buy", "qty": qty, "order_type": "limit", "limit_price": price,
                     "time_in_force": "day", "asset_type": asset_type, **details}  # fmt: skip
            execution = await host.execute("ibkr", order)
            result = execution.result
            assert result["status"] == "open", (asset_type, result["message"])
            assert result["ibkr_status"] in ("PreSubmitted", "Submitted")
            # What the executor read: numbers, nothing filled, and the result says what is unknown.
            assert (execution.fill_price, execution.fill_qty, execution.fee) == (0.0, 0.0, 0.0)
            assert result["fill_price_known"] is False and result["fee_known"] is False
            seen.add(result["order_id"])
        assert len(seen) == len(cases) and "ibkr" not in host.errored

        portfolio = await host.aggregate()
        assert portfolio.brokers == ["ibkr"] and not portfolio.skipped
        assert portfolio.equity > 0 and math.isfinite(portfolio.cash)
        assert portfolio.positions
        for row in portfolio.positions:
            assert all(isinstance(row[k], float) for k in ("qty", "market_value", "cost_basis",
                                                            "unrealized_pnl", "avg_entry_price"))  # fmt: skip
    finally:
        await adapter.disconnect()


async def test_an_executor_failure_marks_the_broker_errored_and_the_aggregator_skips_it(
    fresh_sim: Any,
) -> None:
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url="memory"))

    async def broken(order: dict[str, Any]) -> dict[str, Any]:  # a result the real executor cannot read
        return {"order_id": "1", "client_order_id": "c", "status": "open", "fill_price": None, "fee": None,
                "fill_qty": 0.0, "message": ""}  # fmt: skip

    try:
        assert await adapter.connect()
        adapter.place_order = broken
        with pytest.raises(TypeError, match="NoneType"):
            await host.execute("ibkr", {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "market"})
        assert "ibkr" in host.errored
        portfolio = await host.aggregate()
        assert portfolio.skipped == ["ibkr"] and portfolio.brokers == [] and portfolio.positions == []
    finally:
        await adapter.disconnect()


async def test_a_rejected_result_is_read_as_rejected_with_numbers(fresh_sim: Any) -> None:
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url="memory"))
    try:
        assert await adapter.connect()
        bad = {"symbol": "NOSUCH", "side": "buy", "qty": 1, "order_type": "limit", "limit_price": 1.0}
        execution = await host.execute("ibkr", bad)
        assert execution.status == "rejected" and (execution.fill_price, execution.fee) == (0.0, 0.0)
        assert "ibkr" not in host.errored
    finally:
        await adapter.disconnect()
