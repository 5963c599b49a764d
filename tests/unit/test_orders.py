"""Example tests of order translation, built from the CPAPI reference's examples (REFERENCE §4.1)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from axion_broker_ibkr.errors import OrderValidationError, UnsupportedAssetError
from axion_broker_ibkr.orders import (
    TranslateOptions,
    asset_type_to_sec_type,
    new_client_order_id,
    translate_order,
)
from tests.conftest import load_fixture
from tests.unit.order_cases import (
    AAPL,
    AAPL_PUT,
    ES_FUT,
    EURUSD,
    IBM_BOND,
    OPTIONS,
    order,
    refused,
)

# --------------------------------------------------------------------------------------------
# Reference examples


def test_minimal_stock_limit_order_matches_the_reference_example() -> None:
    # REFERENCE §4.1: {"conid": 265598, "side": "BUY", "orderType": "LMT", "price": 165,
    #                  "quantity": 100, "tif": "DAY"}
    payload = translate_order(
        {"symbol": "AAPL", "side": "buy", "qty": 100, "order_type": "limit", "limit_price": 165,
         "time_in_force": "day", "client_order_id": "Order123", "asset_type": "stock"},
        AAPL,
        OPTIONS,
    )  # fmt: skip
    assert payload == {
        "conid": 265598,
        "side": "BUY",
        "orderType": "LMT",
        "price": 165.0,
        "quantity": 100,
        "tif": "DAY",
        "cOID": "Order123",
        "secType": "265598:STK",
        "outsideRTH": False,
        "listingExchange": "SMART",
        "acctId": "U1234567",
    }
    assert type(payload["quantity"]) is int


@pytest.mark.parametrize("index", [1, 2])
def test_bracket_children_of_the_reference_translate_field_for_field(index: int) -> None:
    child = load_fixture("order_request_bracket")["orders"][index]
    host = {
        "side": child["side"].lower(),
        "qty": child["quantity"],
        "order_type": {"STP": "stop", "LMT": "limit"}[child["orderType"]],
        "time_in_force": child["tif"].lower(),
        "extended_hours": child["outsideRTH"],
        "client_order_id": "child",
        ("stop_price" if child["orderType"] == "STP" else "limit_price"): child["price"],
    }
    payload = translate_order(host, AAPL, OPTIONS)
    for key in ("acctId", "conid", "orderType", "listingExchange", "outsideRTH", "price", "tif", "quantity"):
        assert payload[key] == child[key], key
    assert payload["side"] == child["side"].upper()  # the sample's "Sell" is sent as documented: SELL


def test_bracket_parent_market_order_outside_rth_is_refused_not_silently_changed() -> None:
    # The reference's bracket parent is MKT with outsideRTH: true; market orders are not in
    # contract_rules.json's orderTypesOutside, so the plugin refuses instead of dropping the flag.
    parent = load_fixture("order_request_bracket")["orders"][0]
    assert parent["orderType"] == "MKT" and parent["outsideRTH"] is True
    message = refused("extended_hours", order(order_type="market", extended_hours=True), AAPL)
    assert "outside regular hours" in message


def test_option_order_from_secdef_info_example() -> None:
    payload = translate_order(
        order(symbol="AAPL", asset_type="option", order_type="limit", limit_price=1.234, qty=2,
              option_type="put", strike=195, expiration="2024-01-05"),
        AAPL_PUT,
        OPTIONS,
    )  # fmt: skip
    assert payload["conid"] == 667629330
    assert payload["secType"] == "667629330:OPT"
    assert payload["quantity"] == 2
    assert payload["price"] == 1.234  # no increment rules on the contract: sent as given
    assert "manualIndicator" not in payload and "extOperator" not in payload


def test_forex_order_goes_to_idealpro_through_conidex_only() -> None:
    payload = translate_order(
        order(symbol="EUR.USD", asset_type="forex", side="sell", qty=25000.5, order_type="limit",
              limit_price=1.0851, time_in_force="ioc"),
        EURUSD,
        OPTIONS,
    )  # fmt: skip
    assert payload["conidex"] == "12087792@IDEALPRO"
    assert "conid" not in payload and "listingExchange" not in payload
    assert payload["quantity"] == 25000.5  # base-currency units, never truncated
    assert (payload["side"], payload["tif"], payload["price"]) == ("SELL", "IOC", 1.0851)


def test_futures_order_carries_cme_536b_fields_from_config() -> None:
    options = TranslateOptions(futures_operator="desk-7", manual_orders=True)
    payload = translate_order(
        order(symbol="ES", asset_type="futures", qty=3, order_type="stop_limit", limit_price=5000.3,
              stop_price=4999.9, time_in_force="gtc"),
        ES_FUT,
        options,
    )  # fmt: skip
    assert payload["manualIndicator"] is True
    assert payload["extOperator"] == "desk-7"
    assert payload["listingExchange"] == "CME"
    # BUY: limit and stop round down to the 0.25 tick
    assert (payload["orderType"], payload["price"], payload["auxPrice"]) == ("STOP_LIMIT", 5000.25, 4999.75)
    assert "acctId" not in payload  # no account configured: IBKR uses the path's account


def test_futures_order_without_operator_is_refused_naming_the_setting() -> None:
    message = refused(
        "futures_operator", order(asset_type="futures", qty=1), ES_FUT, options=TranslateOptions()
    )
    assert "AXION_IBKR_FUTURES_OPERATOR" in message and "536-B" in message
    assert translate_order(order(qty=1), ES_FUT, OPTIONS)["manualIndicator"] is False


def test_bond_order_is_face_value_limit() -> None:
    payload = translate_order(
        order(asset_type="bonds", qty=10000, order_type="limit", limit_price=98.12345, side="sell"),
        IBM_BOND,
        OPTIONS,
    )
    assert (payload["quantity"], payload["price"], payload["orderType"]) == (10000, 98.124, "LMT")
    refused("qty", order(asset_type="bond", qty=10000.5), IBM_BOND)
    refused("order_type", order(asset_type="bond", order_type="stop", stop_price=90), IBM_BOND)


# --------------------------------------------------------------------------------------------
# Order types, sides, TIFs


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ({"order_type": "market"}, {"orderType": "MKT"}),
        ({"order_type": "limit", "limit_price": 150.5}, {"orderType": "LMT", "price": 150.5}),
        ({"order_type": "limit", "price": 150.5}, {"orderType": "LMT", "price": 150.5}),
        ({"order_type": "stop", "stop_price": 140}, {"orderType": "STP", "price": 140.0}),
        (
            {"order_type": "stop_limit", "limit_price": 141, "stop_price": 140},
            {"orderType": "STOP_LIMIT", "price": 141.0, "auxPrice": 140.0},
        ),
        (
            {"order_type": "trailing_stop", "trail_amount": 2.5},
            {"orderType": "TRAIL", "trailingAmt": 2.5, "trailingType": "amt"},
        ),
        (
            {"order_type": "trailing_stop", "trail_percent": 1.5, "stop_price": 139},
            {"orderType": "TRAIL", "price": 139.0, "trailingAmt": 1.5, "trailingType": "%"},
        ),
        (
            {"order_type": "trailing_stop_limit", "limit_price": 141, "stop_price": 140, "trail_amount": 1},
            {
                "orderType": "TRAILLMT",
                "price": 141.0,
                "auxPrice": 140.0,
                "trailingAmt": 1.0,
                "trailingType": "amt",
            },
        ),
    ],
)
def test_price_fields_follow_reference_4_1(host: dict[str, Any], expected: dict[str, Any]) -> None:
    payload = translate_order(order(**host), AAPL, OPTIONS)
    price_keys = {"orderType", "price", "auxPrice", "trailingAmt", "trailingType"}
    assert {k: v for k, v in payload.items() if k in price_keys} == expected


@pytest.mark.parametrize(
    ("host", "field"),
    [
        ({"order_type": "limit"}, "limit_price"),
        ({"order_type": "stop"}, "stop_price"),
        ({"order_type": "stop_limit", "limit_price": 1}, "stop_price"),
        ({"order_type": "trailing_stop_limit", "stop_price": 1, "trail_amount": 1}, "limit_price"),
        ({"order_type": "trailing_stop"}, "trail_amount"),
        ({"order_type": "trailing_stop", "trail_amount": 1, "trail_percent": 1}, "trail_amount"),
        ({"order_type": "trailing_stop", "trail_percent": 100}, "trail_percent"),
        ({"order_type": "market", "limit_price": 1}, "limit_price"),
        ({"order_type": "limit", "limit_price": 1, "stop_price": 1}, "stop_price"),
        ({"order_type": "limit", "limit_price": 1, "trail_amount": 1}, "trail_amount"),
        ({"order_type": "limit", "limit_price": 1, "price": 2}, "limit_price"),
        ({"order_type": "limit_on_open"}, "order_type"),
        ({"order_type": None}, "order_type"),
    ],
)
def test_missing_or_stray_price_fields_are_refused(host: dict[str, Any], field: str) -> None:
    refused(field, order(**host), AAPL)


@pytest.mark.parametrize(
    ("side", "wire"),
    [("buy", "BUY"), ("sell", "SELL"), ("sell_short", "SELL"), ("buy_to_cover", "BUY"), ("SELL", "SELL")],
)
def test_sides(side: str, wire: str) -> None:
    assert translate_order(order(side=side), AAPL, OPTIONS)["side"] == wire


@pytest.mark.parametrize(
    ("tif", "order_type", "contract", "wire_tif", "wire_type"),
    [
        ("day", "market", AAPL, "DAY", "MKT"),
        (None, "market", AAPL, "DAY", "MKT"),
        ("gtc", "stop", AAPL, "GTC", "STP"),
        ("ioc", "limit", EURUSD, "IOC", "LMT"),
        ("opg", "limit", AAPL, "OPG", "LMT"),
        ("opg", "market", AAPL, "OPG", "MKT"),
        ("GTC", "market", ES_FUT, "GTC", "MKT"),
    ],
)
def test_time_in_force(
    tif: str | None, order_type: str, contract: dict[str, Any], wire_tif: str, wire_type: str
) -> None:
    prices = (
        {"limit_price": 1.5} if "limit" in order_type else {"stop_price": 1.5} if order_type == "stop" else {}
    )
    payload = translate_order(
        order(time_in_force=tif, order_type=order_type, qty=1, **prices), contract, OPTIONS
    )
    assert (payload["tif"], payload["orderType"]) == (wire_tif, wire_type)


@pytest.mark.parametrize(
    ("tif", "order_type", "contract", "reason"),
    [
        ("fok", "market", AAPL, "FOK"),
        ("gtd", "limit", AAPL, "GTD"),
        ("ioc", "stop", AAPL, "not taken"),
        ("opg", "limit", AAPL_PUT, "not taken"),
        ("opg", "stop", AAPL, "not taken"),
        ("cls", "market", AAPL, "on-the-close"),
        ("cls", "limit", AAPL, "on-the-close"),
        ("cls", "market", ES_FUT, "on-the-close"),
        ("week", "market", AAPL, "unknown value"),
        (3, "market", AAPL, "expected text"),
    ],
)
def test_time_in_force_refusals(tif: Any, order_type: str, contract: dict[str, Any], reason: str) -> None:
    prices = (
        {"limit_price": 1.5} if order_type == "limit" else {"stop_price": 1.5} if order_type == "stop" else {}
    )
    host = order(time_in_force=tif, order_type=order_type, qty=1, **prices)
    if contract is AAPL_PUT:
        host["asset_type"] = "option"
    assert reason in refused("time_in_force", host, contract)


def test_extended_hours_sets_outside_rth_for_limit_types() -> None:
    payload = translate_order(order(order_type="limit", limit_price=10, extended_hours=True), AAPL, OPTIONS)
    assert payload["outsideRTH"] is True
    refused("extended_hours", order(order_type="limit", limit_price=10, extended_hours="yes"), AAPL)
    refused(
        "extended_hours",
        order(order_type="limit", limit_price=10, extended_hours=True, time_in_force="opg"),
        AAPL,
    )


# --------------------------------------------------------------------------------------------
# Quantities


def test_fractional_shares_need_the_config_switch() -> None:
    message = refused("qty", order(qty=1.5), AAPL)
    assert "AXION_IBKR_ALLOW_FRACTIONAL" in message
    allowed = TranslateOptions(allow_fractional=True)
    assert translate_order(order(qty=1.5), AAPL, allowed)["quantity"] == 1.5
    assert translate_order(order(qty=0.0001), AAPL, allowed)["quantity"] == 0.0001


@pytest.mark.parametrize(
    ("qty", "contract", "field"),
    [
        (1.5, AAPL_PUT, "qty"),
        (2.5, ES_FUT, "qty"),
        (0, AAPL, "qty"),
        (-5, AAPL, "qty"),
        (float("nan"), AAPL, "qty"),
        (float("inf"), AAPL, "qty"),
        (10**400, AAPL, "qty"),
        (1e9, AAPL, "qty"),
        ("100", AAPL, "qty"),
        (Decimal("sNaN"), AAPL, "qty"),
        (Decimal("NaN"), AAPL, "qty"),
        (True, AAPL, "qty"),
        (None, AAPL, "qty"),
    ],
)
def test_bad_quantities_are_refused(qty: Any, contract: dict[str, Any], field: str) -> None:
    refused(field, order(qty=qty), contract)


def test_qty_and_quantity_aliases() -> None:
    host = order()
    del host["qty"]
    host["quantity"] = 7
    assert translate_order(host, AAPL, OPTIONS)["quantity"] == 7
    refused("qty", order(qty=5, quantity=6), AAPL)
    assert translate_order(order(qty=5, quantity=5), AAPL, OPTIONS)["quantity"] == 5
    assert translate_order(order(qty=Decimal("12")), AAPL, OPTIONS)["quantity"] == 12


# --------------------------------------------------------------------------------------------
# Tick rounding


@pytest.mark.parametrize(
    ("side", "order_type", "prices", "expected"),
    [
        ("buy", "limit", {"limit_price": 165.127}, {"price": 165.12}),
        ("sell", "limit", {"limit_price": 165.121}, {"price": 165.13}),
        ("sell_short", "limit", {"limit_price": 165.121}, {"price": 165.13}),
        ("buy", "limit", {"limit_price": 0.1 + 0.2}, {"price": 0.3}),  # float noise is not a tick off
        ("buy", "limit", {"limit_price": 165.12}, {"price": 165.12}),
        ("buy", "stop", {"stop_price": 170.009}, {"price": 170.0}),
        ("sell", "stop", {"stop_price": 150.001}, {"price": 150.01}),
        (
            "sell",
            "stop_limit",
            {"limit_price": 149.991, "stop_price": 150.001},
            {"price": 150.0, "auxPrice": 150.01},
        ),
    ],
)
def test_prices_round_to_the_tick_in_the_traders_favour(
    side: str, order_type: str, prices: dict[str, float], expected: dict[str, float]
) -> None:
    payload = translate_order(order(side=side, order_type=order_type, **prices), AAPL, OPTIONS)
    assert {k: payload[k] for k in expected} == expected


def test_increment_bands_and_tick_size() -> None:
    penny = dict(
        AAPL,
        increment_rules=[{"lower_edge": 1.0, "increment": 0.01}, {"lower_edge": 0.0, "increment": 0.0001}],
    )
    assert translate_order(order(order_type="limit", limit_price=0.56789), penny, OPTIONS)["price"] == 0.5678
    assert translate_order(order(order_type="limit", limit_price=5.6789), penny, OPTIONS)["price"] == 5.67
    ticks = dict(AAPL, increment_rules=None, tick_size=0.05)
    assert (
        translate_order(order(side="sell", order_type="limit", limit_price=10.01), ticks, OPTIONS)["price"]
        == 10.05
    )
    refused("limit_price", order(order_type="limit", limit_price=0.004), AAPL)
    refused("contract.increment_rules[0].increment", order(order_type="limit", limit_price=1),
            dict(AAPL, increment_rules=[{"lower_edge": 0, "increment": "x"}]))  # fmt: skip
    refused(
        "contract.tick_size",
        order(order_type="limit", limit_price=1),
        dict(AAPL, increment_rules=None, tick_size=0),
    )


# --------------------------------------------------------------------------------------------
# Options, asset types, symbols, ids, accounts


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"option_type": "call"}, "option_type"),
        ({"right": "C"}, "right"),
        ({"strike": 200}, "strike"),
        ({"expiration": "20240112"}, "expiration"),
        ({"expiration": "2024-13-05"}, "expiration"),
        ({"option_type": "straddle"}, "option_type"),
    ],
)
def test_option_details_must_agree_with_the_contract(fields: dict[str, Any], field: str) -> None:
    refused(field, order(asset_type="option", **fields), AAPL_PUT)


@pytest.mark.parametrize("missing", ["strike", "right", "expiry"])
def test_option_contract_without_strike_right_or_expiry_is_refused(missing: str) -> None:
    refused(f"contract.{missing}", order(asset_type="option"), dict(AAPL_PUT, **{missing: None}))


def test_asset_types() -> None:
    table = {"stock": "STK", "etf": "STK", "option": "OPT", "options": "OPT", "forex": "CASH",
             "futures": "FUT", "bond": "BOND", "bonds": "BOND", "Stock": "STK"}  # fmt: skip
    assert {name: asset_type_to_sec_type(name) for name in table} == table
    for name in ("crypto", "mutual_funds", "mutual_fund"):
        with pytest.raises(UnsupportedAssetError, match="asset_type"):
            asset_type_to_sec_type(name)
    with pytest.raises(OrderValidationError, match="asset_type"):
        asset_type_to_sec_type("tulips")
    refused("asset_type", order(asset_type="option"), AAPL)
    refused("asset_type", order(asset_type="crypto"), AAPL)


def test_symbol_must_name_the_contract() -> None:
    assert translate_order(order(symbol="eur/usd", asset_type="forex"), EURUSD, OPTIONS)["conidex"]
    refused("symbol", order(symbol="MSFT"), AAPL)
    refused("symbol", order(symbol=""), AAPL)


@pytest.mark.parametrize(
    ("contract", "field"),
    [
        (dict(AAPL, conid=None), "contract.conid"),
        (dict(AAPL, conid="0265598"), "contract.conid"),
        (dict(AAPL, conid=-1), "contract.conid"),
        (dict(AAPL, sec_type="CRYPTO"), "contract.sec_type"),
        (dict(AAPL, sec_type=None), "contract.sec_type"),
        (dict(AAPL, sec_type=["STK"]), "contract.sec_type"),
        (["not", "a", "dict"], "contract"),
    ],
)
def test_bad_contracts_are_refused(contract: Any, field: str) -> None:
    refused(field, order(), contract)


def test_conid_given_as_text_is_accepted() -> None:
    assert translate_order(order(), dict(AAPL, conid="265598"), OPTIONS)["conid"] == 265598


def test_client_order_ids() -> None:
    ids = {new_client_order_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9._:\-]{1,40}", i) for i in ids)
    host = order()
    del host["client_order_id"]
    first, second = translate_order(host, AAPL, OPTIONS), translate_order(host, AAPL, OPTIONS)
    assert first["cOID"] != second["cOID"]
    uuid = "3f2b8a52-6d43-4c1e-9a53-0c0f3b5c9e11"
    assert translate_order(order(client_order_id=uuid), AAPL, OPTIONS)["cOID"] == uuid
    for bad in ("", "x" * 41, "has space", 42, "é"):
        refused("client_order_id", order(client_order_id=bad), AAPL)


def test_account_from_order_wins_and_bad_accounts_are_not_echoed() -> None:
    assert translate_order(order(account_id="DU7654321"), AAPL, OPTIONS)["acctId"] == "DU7654321"
    message = refused("account_id", order(account_id="DU765 4321"), AAPL)
    assert "DU765" not in message


def test_refusals_build_no_payload_and_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"^side: unknown value 'hold'"):
        translate_order(order(side="hold"), AAPL, OPTIONS)
    refused("order", ["side", "buy"], AAPL)  # type: ignore[arg-type]
