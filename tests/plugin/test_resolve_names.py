"""The resolve hook names each contract in full (``name``), and that dict is accepted back by the
translate hook (a host passes the resolved contract to it unchanged)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.host.multi_broker import MultiBroker
from tests.plugin.test_adapter_via_host import host_config


@pytest.mark.parametrize(
    ("symbol", "asset_type", "details", "name"),
    [
        ("AAPL", "stock", {}, "AAPL"),
        ("AAPL", "option", {"expiry": "20270115", "strike": 185.0, "right": "P"}, "AAPL 2027-01-15 185 P"),
        ("EUR.USD", "forex", {}, "EUR.USD"),
        ("ES", "futures", {}, "ES "),
        ("US-T 4.25 11/15/34", "bond", {}, "4.25% 2034-11-15"),
    ],
    ids=["stock", "option", "forex", "future", "bond"],
)
async def test_resolved_contract_has_a_full_name_and_translates(
    fresh_sim: Any, monkeypatch: pytest.MonkeyPatch, symbol: str, asset_type: str, details: dict[str, Any],
    name: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "desk-1")
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url="memory"))
    try:
        contract = await host.resolve("ibkr", symbol, asset_type, details)
        assert name in contract["name"], contract["name"]
        if contract["sec_type"] == "FUT":
            assert f"({contract['local_symbol']})" in contract["name"]
        price = {"BOND": 95.0, "CASH": 1.05, "FUT": 5800.0, "OPT": 4.0}.get(contract["sec_type"], 180.0)
        order = {"symbol": symbol, "side": "buy", "qty": 1000 if asset_type == "bond" else 1,
                 "order_type": "limit", "limit_price": price, "asset_type": asset_type}  # fmt: skip
        payload = host.translate("ibkr", order, contract)
        assert payload.get("conid") == contract["conid"] or str(contract["conid"]) in str(
            payload.get("conidex")
        )
    finally:
        await adapter.disconnect()
