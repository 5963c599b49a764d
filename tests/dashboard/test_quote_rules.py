"""A quote reads no contract rules, so it does not fetch them (two paced ``/iserver/contract/rules``
requests per symbol); an order does (QA: ``quote AAPL MSFT EUR.USD`` took ~4 s)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from axion_broker_ibkr.cli import main

RULES = "/iserver/contract/rules"


def _rules_calls(sim: Any) -> int:
    return sum(n for path, n in sim.state.pacer.counts.items() if path.endswith(RULES))


def test_the_quote_command_fetches_no_contract_rules(
    page_on_fresh_sim: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = page_on_fresh_sim
    assert main(["quote", "AAPL", "MSFT", "EUR.USD", "--json"]) == 0
    rows = {r["symbol"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"AAPL", "MSFT", "EUR.USD"} and all(r["last"] for r in rows.values())
    assert _rules_calls(sim) == 0
    # `resolve` still returns the rules: fetched then (a buy's and a sell's)
    assert main(["resolve", "AAPL"]) == 0
    contract = json.loads(capsys.readouterr().out)
    assert contract["rules_source"] == "ibkr" and contract["increment_rules"]
    assert _rules_calls(sim) == 2


async def test_the_adapter_quotes_without_rules_and_an_order_fetches_them(fresh_sim: Any) -> None:
    from tests.host.multi_broker import MultiBroker
    from tests.plugin.test_adapter_via_host import host_config

    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url="memory"))
    try:
        assert await adapter.connect()
        quote = await adapter.get_quote("AAPL")
        assert quote["last"] and _rules_calls(fresh_sim) == 0
        order = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
                 "limit_price": round(quote["last"] * 0.98, 2), "time_in_force": "day"}  # fmt: skip
        execution = await host.execute("ibkr", order)
        assert execution.result["status"] == "open", execution.result["message"]
        assert _rules_calls(fresh_sim) == 2  # the order's contract carried IBKR's rules
        contract = await adapter.resolve("AAPL", "stock", {})
        assert contract.rules_source == "ibkr" and _rules_calls(fresh_sim) == 2  # cached with them
    finally:
        await adapter.disconnect()
