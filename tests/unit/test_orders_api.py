"""The structured order API (intent <-> payload) and translation options from the environment."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from axion_broker_ibkr.errors import ConfigError, OrderValidationError
from axion_broker_ibkr.orders import (
    CPAPIOrder,
    OrderIntent,
    TranslateOptions,
    intent_from_host,
    intent_from_payload,
    payload_from_intent,
    translate_order,
)
from axion_broker_ibkr.wire.convert import unstructure
from tests.unit.order_cases import AAPL, AAPL_PUT, ES_FUT, EURUSD, OPTIONS, order

# --------------------------------------------------------------------------------------------
# Intent / payload API


def test_intent_then_payload_is_translate_order() -> None:
    host = order(order_type="stop_limit", limit_price=101.019, stop_price=100.011, side="sell")
    intent = intent_from_host(host, AAPL)
    assert isinstance(intent, OrderIntent)
    assert (intent.limit_price, intent.stop_price, intent.side) == (101.019, 100.011, "sell")
    wire = payload_from_intent(intent, AAPL, OPTIONS)
    assert isinstance(wire, CPAPIOrder)
    assert (wire.price, wire.aux_price) == (101.02, 100.02)
    assert translate_order(host, AAPL, OPTIONS)["price"] == wire.price
    with pytest.raises(OrderValidationError, match=r"contract\.conid"):
        payload_from_intent(intent, EURUSD, OPTIONS)


@pytest.mark.parametrize(
    ("host", "contract"),
    [
        (order(order_type="limit", limit_price=165.12, extended_hours=True), AAPL),
        (order(order_type="trailing_stop", trail_percent=2.0, side="sell"), AAPL),
        (order(order_type="market", time_in_force="opg"), AAPL),
        (order(order_type="limit", limit_price=1.1, qty=20000, time_in_force="gtc"), EURUSD),
        (order(order_type="stop", stop_price=5000.25, qty=2), ES_FUT),
        (order(order_type="limit", limit_price=3.5, qty=1, asset_type="option"), AAPL_PUT),
    ],
)
def test_payload_round_trips_through_the_intent(host: dict[str, Any], contract: dict[str, Any]) -> None:
    payload = translate_order(host, contract, OPTIONS)
    assert translate_order_from(intent_from_payload(payload, contract), contract) == payload


def translate_order_from(intent: OrderIntent, contract: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = unstructure(payload_from_intent(intent, contract, OPTIONS))
    return result


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bogus": 1}, "payload"),
        ({"conidex": "265598@SMART"}, "payload.conid"),
        ({"conid": 8314}, "payload.conid"),
        ({"secType": "265598:OPT"}, "payload.secType"),
        ({"orderType": "MOC"}, "payload.orderType"),  # on-close codes are not read back (16.3)
        ({"tif": "PAX"}, "payload.tif"),
        ({"side": "HOLD"}, "payload.side"),
        ({"parentId": "Parent"}, "payload.parentId"),
        ({"quantity": "lots"}, "payload"),
        ({"auxPrice": 1.0}, "payload.auxPrice"),
        ({"trailingAmt": 1.0}, "payload.trailingAmt"),
    ],
)
def test_bad_payloads_are_refused_on_the_way_back(change: dict[str, Any], field: str) -> None:
    payload = translate_order(order(order_type="stop", stop_price=10), AAPL, OPTIONS)
    payload.update(change)
    with pytest.raises(OrderValidationError) as info:
        intent_from_payload(payload, AAPL)
    assert info.value.field == field


# --------------------------------------------------------------------------------------------
# Options from the environment


def test_options_from_env() -> None:
    env = {
        "AXION_IBKR_ACCOUNT_ID": " DU1234567 ",
        "AXION_IBKR_ALLOW_FRACTIONAL": "true",
        "AXION_IBKR_FUTURES_OPERATOR": "desk-7",
        "AXION_IBKR_MANUAL_ORDERS": "0",
    }
    assert TranslateOptions.from_env(env) == TranslateOptions(
        account_id="DU1234567", allow_fractional=True, futures_operator="desk-7", manual_orders=False
    )
    assert TranslateOptions.from_env({}) == TranslateOptions()
    with pytest.raises(ConfigError, match="AXION_IBKR_MANUAL_ORDERS"):
        TranslateOptions.from_env({"AXION_IBKR_MANUAL_ORDERS": "maybe"})


def test_translate_without_options_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AXION_IBKR_FUTURES_OPERATOR", raising=False)
    with pytest.raises(OrderValidationError, match="futures_operator"):
        translate_order(order(qty=1), ES_FUT)
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "desk-9")
    monkeypatch.setenv("AXION_IBKR_MANUAL_ORDERS", "yes")
    payload = translate_order(order(qty=1), ES_FUT)
    assert (payload["extOperator"], payload["manualIndicator"]) == ("desk-9", True)


def test_hand_built_intents_are_checked_before_use() -> None:
    good = OrderIntent(conid=265598, sec_type="STK", side="buy", quantity=3, order_type="market",
                       time_in_force="day", client_order_id="T-9")  # fmt: skip
    assert payload_from_intent(good, AAPL, OPTIONS).quantity == 3
    for change in ({"order_type": "moc"}, {"side": "short"}, {"time_in_force": "fok"}):
        bad = OrderIntent(**{**attrs.asdict(good), **change})
        with pytest.raises(OrderValidationError) as info:
            payload_from_intent(bad, AAPL, OPTIONS)
        assert info.value.field == "intent"
