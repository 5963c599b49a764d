"""Order translation through the reference host (``axion_broker_translate_order``).

The host calls the hook with no options, so account settings come from ``AXION_IBKR_*``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.host.multi_broker import MultiBroker

ENV_KEYS = (
    "AXION_IBKR_ACCOUNT_ID",
    "AXION_IBKR_ALLOW_FRACTIONAL",
    "AXION_IBKR_FUTURES_OPERATOR",
    "AXION_IBKR_MANUAL_ORDERS",
)

AAPL = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL", "exchange": "SMART", "currency": "USD",
        "multiplier": None, "expiry": None, "strike": None, "right": None, "description": "APPLE INC",
        "increment_rules": [{"lower_edge": 0.0, "increment": 0.01}]}  # fmt: skip
ES = {"conid": 495512563, "sec_type": "FUT", "symbol": "ES", "exchange": "CME", "currency": "USD",
      "multiplier": 50.0, "expiry": "20251219", "strike": None, "right": None, "description": "ES DEC25",
      "tick_size": 0.25}  # fmt: skip
EURUSD = {"conid": 12087792, "sec_type": "CASH", "symbol": "EUR", "exchange": "IDEALPRO",
          "currency": "USD", "multiplier": None, "expiry": None, "strike": None, "right": None,
          "description": "EUR.USD"}  # fmt: skip


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> MultiBroker:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    return MultiBroker()


def test_host_translates_a_stock_limit_order(host: MultiBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXION_IBKR_ACCOUNT_ID", "DU1234567")
    order = {"symbol": "AAPL", "side": "buy", "qty": 100, "order_type": "limit", "limit_price": 165.129,
             "time_in_force": "gtc", "extended_hours": True, "asset_type": "stock",
             "client_order_id": "ax-1"}  # fmt: skip
    payload = host.translate("ibkr", order, AAPL)
    assert payload == {
        "acctId": "DU1234567",
        "conid": 265598,
        "secType": "265598:STK",
        "cOID": "ax-1",
        "orderType": "LMT",
        "listingExchange": "SMART",
        "outsideRTH": True,
        "price": 165.12,
        "side": "BUY",
        "quantity": 100,
        "tif": "GTC",
    }


def test_host_forex_order_uses_conidex(host: MultiBroker) -> None:
    order = {
        "symbol": "EUR.USD",
        "side": "sell",
        "quantity": 20000,
        "order_type": "market",
        "asset_type": "forex",
    }
    payload = host.translate("ibkr", order, EURUSD)
    assert payload["conidex"] == "12087792@IDEALPRO" and "conid" not in payload
    assert len(payload["cOID"]) <= 40  # generated


def test_futures_need_the_operator_from_the_environment(
    host: MultiBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = {"symbol": "ES", "side": "sell_short", "qty": 2, "order_type": "stop", "stop_price": 4990.1,
             "asset_type": "futures", "client_order_id": "fut-1"}  # fmt: skip
    with pytest.raises(ValueError, match="AXION_IBKR_FUTURES_OPERATOR") as info:
        host.translate("ibkr", order, ES)
    assert getattr(info.value, "field", None) == "futures_operator"
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "desk-7")
    payload = host.translate("ibkr", order, ES)
    assert (payload["extOperator"], payload["manualIndicator"]) == ("desk-7", False)
    assert (payload["side"], payload["orderType"], payload["price"]) == ("SELL", "STP", 4990.25)


def test_fractional_shares_follow_the_environment(host: MultiBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    order = {"side": "buy", "qty": 0.5, "order_type": "market", "asset_type": "etf"}
    with pytest.raises(ValueError, match="qty"):
        host.translate("ibkr", order, AAPL)
    monkeypatch.setenv("AXION_IBKR_ALLOW_FRACTIONAL", "true")
    assert host.translate("ibkr", order, AAPL)["quantity"] == 0.5
    monkeypatch.setenv("AXION_IBKR_ALLOW_FRACTIONAL", "perhaps")
    with pytest.raises(ValueError, match="AXION_IBKR_ALLOW_FRACTIONAL"):
        host.translate("ibkr", order, AAPL)


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"side": "buy", "qty": 1, "order_type": "market", "time_in_force": "fok"}, "time_in_force"),
        ({"side": "buy", "qty": 1, "order_type": "market", "asset_type": "crypto"}, "asset_type"),
        ({"side": "buy", "qty": float("nan"), "order_type": "market"}, "qty"),
        ({"side": "buy", "qty": 1, "order_type": "limit"}, "limit_price"),
        ({"side": "hold", "qty": 1, "order_type": "market"}, "side"),
    ],
)
def test_host_sees_value_errors_naming_the_field(
    host: MultiBroker, order: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: "):
        host.translate("ibkr", order, AAPL)
