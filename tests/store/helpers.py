"""Builders shared by the persistence tests."""

from __future__ import annotations

from typing import Any

from axion_broker_ibkr.models import Order, Trade
from axion_broker_ibkr.ops.journal import JournalEntry


def entry(coid: str = "c-1", **overrides: Any) -> JournalEntry:
    """A pending order-log entry with a realistic payload."""
    values: dict[str, Any] = {
        "client_order_id": coid,
        "account_id": "DU1234567",
        "mode": "sim",
        "conid": 265598,
        "symbol": "AAPL",
        "sec_type": "STK",
        "side": "BUY",
        "order_type": "LMT",
        "quantity": 10.0,
        "price": 187.25,
        "exchange": "SMART",
        "currency": "USD",
        "tif": "DAY",
        "payload": {
            "orders": [
                {"acctId": "DU1234567", "conid": 265598, "cOID": coid, "orderType": "LMT", "price": 187.25}
            ]
        },
    }
    values.update(overrides)
    return JournalEntry(**values)


def order(coid: str | None, status: str | None, **overrides: Any) -> Order:
    values: dict[str, Any] = {
        "order_id": 1001,
        "client_order_id": coid,
        "status": status,
        "total_size": 10.0,
        "filled_quantity": 0.0,
        "side": "BUY",
        "order_type": "LIMIT",
    }
    values.update(overrides)
    return Order(**values)


def trade(coid: str | None, execution_id: str, size: float, price: float, **overrides: Any) -> Trade:
    values: dict[str, Any] = {
        "execution_id": execution_id,
        "client_order_id": coid,
        "order_id": 1001,
        "size": size,
        "price": price,
        "trade_time": "20261124-14:30:00",
    }
    values.update(overrides)
    return Trade(**values)
