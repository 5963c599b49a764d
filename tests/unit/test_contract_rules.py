"""Contract rules (``/iserver/contract/rules``) carried on the contract decide the translation."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr import models as m
from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.orders import TranslateOptions, translate_order

OPTS = TranslateOptions(account_id="DU1234567", futures_operator="op1")


def _contract(sec_type: str, tick: float, **rules: Any) -> dict[str, Any]:
    wire = m.ContractRules(
        increment_rules=[m.IncrementRule(lower_edge=0.0, increment=tick)],
        order_types=rules.get("order_types", ["limit", "market", "stop", "stop_limit"]),
        order_types_outside=["limit"],
        tif_types=["IOC/MARKET,LIMIT,a", "GTC/o,a", "DAY/o,a"],
        size_increment=rules.get("size_increment", 1.0),
    )
    base = m.IBKRContract(conid=1, sec_type=sec_type, symbol="ES" if sec_type == "FUT" else "AAPL")
    return base.with_rules(wire, wire).to_host()


def _order(side: str, price: float, **extra: Any) -> dict[str, Any]:
    return {"side": side, "qty": 1, "order_type": "limit", "limit_price": price, **extra}


def test_es_grid_buy_down_sell_up_and_stock_cents() -> None:
    es = _contract("FUT", 0.25)
    assert translate_order(_order("buy", 5850.30), es, OPTS)["price"] == 5850.25
    assert translate_order(_order("sell", 5850.30), es, OPTS)["price"] == 5850.50
    assert translate_order(_order("buy", 185.123), _contract("STK", 0.01), OPTS)["price"] == 185.12


def test_round_trip_keeps_rules() -> None:
    es = _contract("FUT", 0.25)
    assert m.IBKRContract(**es).to_host() == es and es["rules_source"] == "ibkr"


def test_below_first_tick_and_off_list_are_refused() -> None:
    es = _contract("FUT", 0.25)
    with pytest.raises(OrderValidationError, match="limit_price"):
        translate_order(_order("sell", 0.1), es, OPTS)
    with pytest.raises(OrderValidationError, match="order_type"):
        translate_order(_order("buy", 10.0), _contract("STK", 0.01, order_types=["market"]), OPTS)
    with pytest.raises(OrderValidationError, match="time_in_force"):
        translate_order(
            {"side": "buy", "qty": 1, "order_type": "stop", "stop_price": 10.0, "time_in_force": "ioc"},
            _contract("STK", 0.01),
            OPTS,
        )
    with pytest.raises(OrderValidationError, match="qty"):
        translate_order(_order("buy", 99.0, qty=1500), _contract("BOND", 0.001, size_increment=1000.0), OPTS)
