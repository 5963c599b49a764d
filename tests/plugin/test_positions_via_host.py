"""Positions of every asset class, as the reference host's aggregator reads them (HOST_CONTRACT §4):
the figures add up (``market_value - cost_basis == unrealized_pnl``), they agree with IBKR's own
position fields, and ``symbol`` does not collide across asset classes."""

from __future__ import annotations

import math
from typing import Any

from tests.host.multi_broker import MultiBroker
from tests.plugin.test_adapter_via_host import host_config


async def _marketable_limit(adapter: Any, symbol: str, asset_type: str, details: dict[str, Any]) -> float:
    from axion_broker_ibkr.adapter import _order_details

    contract = await adapter.resolve(symbol, asset_type, _order_details(details))
    quote = (await adapter.client.snapshot([contract.conid]))[0]
    ask = quote.ask or quote.last
    assert ask, f"no price for {symbol}"
    return float(ask) * 1.005


async def test_every_asset_class_aggregates_with_figures_that_add_up(fresh_sim: Any) -> None:
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url="memory", futures_operator="desk-1"))
    try:
        assert await adapter.connect()
        expiry = (await adapter.client.search("AAPL", "STK"))[0].opt.split(";")[2]
        strike = 5.0 * round((await adapter.get_quote("AAPL"))["last"] / 5.0)
        cases: list[tuple[str, str, float, dict[str, Any]]] = [
            ("AAPL", "stock", 5, {}),
            ("AAPL", "option", 2, {"expiration": expiry, "strike": strike, "option_type": "call"}),
            ("EUR.USD", "forex", 20000, {}),
            ("ES", "futures", 1, {}),
            ("US-T", "bond", 10000, {"issuer": "e1395513", "maturity": "203411"}),
        ]
        for symbol, asset_type, qty, details in cases:
            # A marketable buy limit just over the ask (no market-order question, inside IBKR's 3%).
            price = await _marketable_limit(adapter, symbol, asset_type, details)
            order = {"symbol": symbol, "side": "buy", "qty": qty, "order_type": "limit", "limit_price": price,
                     "time_in_force": "day", "asset_type": asset_type, **details}  # fmt: skip
            execution = await host.execute("ibkr", order)
            assert execution.result["status"] == "filled", (asset_type, execution.result["message"])

        raw = {p.conid: p for p in await adapter.client.positions(await adapter._account())}
        rows = {row["conid"]: row for row in await adapter.get_positions()}
        portfolio = await host.aggregate()
        by_class = {row["sec_type"]: row for row in rows.values()}
        assert {"STK", "OPT", "FUT", "BOND"} <= set(by_class), sorted(by_class)

        for agg in portfolio.positions:  # what the host read: the identity holds for every row
            difference = agg["market_value"] - agg["cost_basis"]
            assert math.isclose(difference, agg["unrealized_pnl"], abs_tol=0.01), agg
        symbols = [agg["symbol"] for agg in portfolio.positions]
        assert len(symbols) == len(set(symbols)), symbols  # no two positions share a symbol

        for row in rows.values():
            p = raw[row["conid"]]
            # IBKR's own fields, read moments apart (prices move; the entry price does not)
            assert row["avg_entry_price"] == p.avg_price and row["qty"] == p.position
            assert math.isclose(row["market_value"] - row["cost_basis"], row["unrealized_pnl"], abs_tol=1e-6)

        stock = next(r for r in rows.values() if r["sec_type"] == "STK" and r["name"] == "AAPL")
        assert stock["symbol"] == "AAPL"  # stocks keep their plain ticker
        opt = by_class["OPT"]
        assert opt["symbol"] == opt["name"] != "AAPL" and opt["name"].startswith("AAPL ")
        assert opt["name"].endswith(" C") and str(int(strike)) in opt["name"]
        p = raw[opt["conid"]]  # options: value and cost are per share x 100 x contracts
        assert math.isclose(opt["market_value"], 2 * 100 * p.mkt_price, rel_tol=0.05)
        assert math.isclose(opt["cost_basis"], 2 * p.avg_cost, rel_tol=1e-3)

        bond = by_class["BOND"]
        assert bond["qty"] == 10000 and bond["symbol"] != "T" and bond["symbol"] == bond["name"]
        p = raw[bond["conid"]]  # bonds: price in percent of face -> 10,000 face at 98 is worth ~9,800
        assert math.isclose(bond["market_value"], 10000 * p.mkt_price / 100, rel_tol=0.05)
        assert math.isclose(bond["cost_basis"], 10000 * p.avg_price / 100, abs_tol=1.0)
        assert bond["cost_basis"] < 20000

        fut = by_class["FUT"]
        assert fut["symbol"].startswith("ES ") and fut["symbol"] != "ES"
        p = raw[fut["conid"]]  # futures: notional on both sides, so their difference is the P&L
        mult = p.multiplier or 50.0
        assert math.isclose(fut["market_value"], p.mkt_price * mult, rel_tol=0.05)
        assert math.isclose(fut["cost_basis"], p.avg_price * mult, abs_tol=1.0)
    finally:
        await adapter.disconnect()
