"""Hypothesis properties of order translation.

``check_cpapi_order`` writes the CPAPI order rules (REFERENCE §4.1, §9.9, §9.10, §10) down a second
time, independently of the translator's tables: every generated valid order must produce a payload
that passes it. Payloads round-trip through the intent, translation is deterministic for a given
``cOID``, and corrupted orders always raise an error naming the corrupted field.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.orders import (
    TranslateOptions,
    intent_from_payload,
    payload_from_intent,
    translate_order,
)
from axion_broker_ibkr.wire.convert import unstructure

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------
# The independent checker

WIRE_KEYS = {
    "acctId", "conid", "conidex", "secType", "cOID", "parentId", "orderType", "listingExchange",
    "outsideRTH", "price", "auxPrice", "side", "quantity", "tif", "trailingAmt", "trailingType",
    "manualIndicator", "extOperator",
}  # fmt: skip
DOCUMENTED_TYPES = {"LMT", "MKT", "STP", "STOP_LIMIT", "TRAIL", "TRAILLMT"}
CLOSE_TYPES = {"MOC", "LOC"}  # [unconfirmed] wire codes, sent for STK with tif DAY only
HOST_TYPE = {"market": {"MKT", "MOC"}, "limit": {"LMT", "LOC"}, "stop": {"STP"}, "stop_limit": {"STOP_LIMIT"},
             "trailing_stop": {"TRAIL"}, "trailing_stop_limit": {"TRAILLMT"}}  # fmt: skip
WITH_LIMIT = {"LMT", "LOC", "STOP_LIMIT", "TRAILLMT"}
WITH_AUX = {"STOP_LIMIT", "TRAILLMT"}
TRAILING = {"TRAIL", "TRAILLMT"}
OUTSIDE_RTH_OK = {"LMT", "STOP_LIMIT", "TRAILLMT"}
COID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")


def _increment_for(contract: dict[str, Any], price: float) -> Decimal | None:
    rules = contract.get("increment_rules")
    if rules:
        bands = sorted(((r["lower_edge"], r["increment"]) for r in rules), reverse=True)
        return next(Decimal(str(inc)) for edge, inc in bands if price >= edge)
    tick = contract.get("tick_size")
    return None if tick is None else Decimal(str(tick))


def _check_price(wire: Any, asked: Any, side: str, contract: dict[str, Any], name: str) -> None:
    assert isinstance(wire, float) and math.isfinite(wire) and wire > 0, name
    inc = _increment_for(contract, asked)
    if inc is None:
        assert wire == asked, f"{name}: no tick information, the price must be sent as given"
        return
    assert Decimal(repr(wire)) % inc == 0, f"{name}: {wire} is not on the {inc} grid"
    step = float(inc)
    noise = 1e-9 + abs(asked) * 1e-12  # float noise in the asked price is not a tick off
    if side == "BUY":  # never pays more (a buy stop never triggers later)
        assert asked - step < wire <= asked + noise, (name, asked, wire)
    else:
        assert asked - noise <= wire < asked + step, (name, asked, wire)


def check_cpapi_order(
    payload: dict[str, Any], host: dict[str, Any], contract: dict[str, Any], options: TranslateOptions
) -> None:
    """Assert that ``payload`` is a CPAPI order satisfying the reference's rules for ``host``."""
    json.dumps(payload, allow_nan=False)
    assert set(payload) <= WIRE_KEYS, set(payload) - WIRE_KEYS
    sec = contract["sec_type"]
    conid = int(contract["conid"])
    # §4.1: conid or conidex, never both; FX direct-routed to IDEALPRO (§3.3)
    if sec == "CASH":
        assert "conid" not in payload and payload["conidex"] == f"{conid}@IDEALPRO"
    else:
        assert "conidex" not in payload and payload["conid"] == conid
    assert payload["secType"] == f"{conid}:{sec}"
    side = payload["side"]
    assert side == ("BUY" if host["side"].lower() in ("buy", "buy_to_cover") else "SELL")
    order_type = payload["orderType"]
    assert order_type in DOCUMENTED_TYPES | CLOSE_TYPES
    assert order_type in HOST_TYPE[host["order_type"]]
    tif = payload["tif"]
    assert tif in {"DAY", "GTC", "IOC", "OPG"}
    if tif in ("IOC", "OPG"):
        assert order_type in {"MKT", "LMT"}
    if tif == "OPG" or order_type in CLOSE_TYPES:
        assert sec == "STK"
    if order_type in CLOSE_TYPES:
        assert tif == "DAY"
    # §9.9: where the prices go
    limit = host.get("limit_price", host.get("price"))
    stop = host.get("stop_price")
    if order_type in WITH_LIMIT:
        _check_price(payload["price"], limit, side, contract, "price")
    elif order_type in ("STP", "TRAIL") and stop is not None:
        _check_price(payload["price"], stop, side, contract, "price")
    else:
        assert "price" not in payload
    if order_type in WITH_AUX:
        _check_price(payload["auxPrice"], stop, side, contract, "auxPrice")
    else:
        assert "auxPrice" not in payload
    if order_type in TRAILING:
        assert payload["trailingType"] in ("amt", "%")
        expected = host.get("trail_amount") if payload["trailingType"] == "amt" else host.get("trail_percent")
        assert payload["trailingAmt"] == expected and expected > 0
    else:
        assert "trailingAmt" not in payload and "trailingType" not in payload
    # quantities: whole where the unit is whole, never truncated
    qty = payload["quantity"]
    assert isinstance(qty, int | float) and not isinstance(qty, bool) and qty > 0
    assert qty == host.get("qty", host.get("quantity"))
    if sec in ("OPT", "FUT", "BOND") or (sec == "STK" and not options.allow_fractional):
        assert float(qty).is_integer()
    # §9.10: CME Rule 536-B
    if sec == "FUT":
        assert payload["manualIndicator"] is options.manual_orders
        assert payload["extOperator"] == options.futures_operator and payload["extOperator"]
    else:
        assert "manualIndicator" not in payload and "extOperator" not in payload
    coid = payload["cOID"]
    assert isinstance(coid, str) and 1 <= len(coid) <= 40 and set(coid) <= COID_CHARS
    if host.get("client_order_id") is not None:
        assert coid == host["client_order_id"]
    assert payload["outsideRTH"] is bool(host.get("extended_hours"))
    if payload["outsideRTH"]:
        assert order_type in OUTSIDE_RTH_OK
    assert payload.get("acctId") == (host.get("account_id") or options.account_id)
    assert "parentId" not in payload


# --------------------------------------------------------------------------------------------
# Generators

GRIDS: list[dict[str, Any]] = [
    {},
    {"tick_size": 0.01},
    {"tick_size": 0.25},
    {"tick_size": 0.0001},
    {"increment_rules": [{"lower_edge": 0.0, "increment": 0.0001}, {"lower_edge": 1.0, "increment": 0.01}]},
    {"increment_rules": [{"lower_edge": 0.0, "increment": 0.05}, {"lower_edge": 3.0, "increment": 0.1}]},
]
CONTRACTS: dict[str, dict[str, Any]] = {
    "STK": {"conid": 265598, "sec_type": "STK", "symbol": "AAPL", "exchange": "SMART", "currency": "USD"},
    "OPT": {"conid": 667629330, "sec_type": "OPT", "symbol": "AAPL", "exchange": "SMART", "currency": "USD",
            "multiplier": 100.0, "expiry": "20240105", "strike": 195.0, "right": "P"},
    "CASH": {"conid": 12087792, "sec_type": "CASH", "symbol": "EUR", "exchange": "IDEALPRO",
             "currency": "USD"},
    "FUT": {"conid": 495512563, "sec_type": "FUT", "symbol": "ES", "exchange": "CME", "currency": "USD",
            "multiplier": 50.0, "expiry": "20251219"},
    "BOND": {"conid": 999000111, "sec_type": "BOND", "symbol": "IBM", "exchange": "SMART", "currency": "USD"},
}  # fmt: skip
ASSET_TYPES = {"STK": ["stock", "etf"], "OPT": ["option", "options"], "CASH": ["forex"],
               "FUT": ["futures"], "BOND": ["bond", "bonds"]}  # fmt: skip
ALL_TYPES = list(HOST_TYPE)
TYPES_BY_SEC = {
    "STK": ALL_TYPES,
    "OPT": ALL_TYPES,
    "CASH": ALL_TYPES,
    "FUT": ALL_TYPES,
    "BOND": ["market", "limit"],
}

prices = st.floats(min_value=1.0, max_value=50_000.0, allow_nan=False, allow_infinity=False)
client_ids = st.from_regex(r"[A-Za-z0-9._:\-]{1,40}", fullmatch=True)
options_strategy = st.builds(
    TranslateOptions,
    account_id=st.sampled_from([None, "DU1234567", "U7654321"]),
    allow_fractional=st.booleans(),
    futures_operator=st.sampled_from(["desk-7", "op.42", "JDOE"]),
    manual_orders=st.booleans(),
)


@st.composite
def valid_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], TranslateOptions]:
    sec = draw(st.sampled_from(list(CONTRACTS)))
    contract = dict(CONTRACTS[sec], **draw(st.sampled_from(GRIDS)))
    options = draw(options_strategy)
    order_type = draw(st.sampled_from(TYPES_BY_SEC[sec]))
    tifs = ["day", "gtc", None]
    if order_type in ("market", "limit"):
        tifs.append("ioc")
        if sec == "STK":
            tifs += ["opg"]  # cls is refused (no documented on-close orderType, issue 16.3)
    tif = draw(st.sampled_from(tifs))
    if sec == "STK" and options.allow_fractional:
        qty: float = draw(
            st.one_of(st.integers(1, 10**6), st.decimals("0.0001", "1000", places=4).map(float))
        )
    elif sec in ("STK", "OPT", "FUT"):
        qty = draw(st.integers(1, 10**4))
    elif sec == "CASH":
        qty = draw(st.decimals("1", "10000000", places=2).map(float))
    else:
        qty = draw(st.integers(1, 1000)) * 1000
    host: dict[str, Any] = {
        "side": draw(st.sampled_from(["buy", "sell", "sell_short", "buy_to_cover", "BUY", "Sell"])),
        "qty" if draw(st.booleans()) else "quantity": qty,
        "order_type": order_type,
        "time_in_force": tif,
        "asset_type": draw(st.sampled_from([None, *ASSET_TYPES[sec]])),
        "client_order_id": draw(st.one_of(st.none(), client_ids)),
        "account_id": draw(st.sampled_from([None, None, "DU1234567", "DU7654321"])),
    }
    if order_type in ("limit", "stop_limit", "trailing_stop_limit"):
        host["limit_price" if draw(st.booleans()) else "price"] = draw(prices)
    if order_type in ("stop", "stop_limit", "trailing_stop_limit") or (
        order_type == "trailing_stop" and draw(st.booleans())
    ):
        host["stop_price"] = draw(prices)
    if order_type.startswith("trailing"):
        key = draw(st.sampled_from(["trail_amount", "trail_percent"]))
        host[key] = draw(st.floats(min_value=0.01, max_value=99.0))
    if order_type in ("limit", "stop_limit", "trailing_stop_limit") and tif not in ("opg", "cls"):
        host["extended_hours"] = draw(st.booleans())
    if sec == "OPT" and draw(st.booleans()):
        host.update(option_type=draw(st.sampled_from(["put", "P", "PUT"])), strike=195,
                    expiration=draw(st.sampled_from(["20240105", "2024-01-05"])))  # fmt: skip
    if draw(st.booleans()):
        host["symbol"] = {"CASH": "EUR.USD"}.get(sec, contract["symbol"])
    return host, contract, options


def _host_for_checker(host: dict[str, Any]) -> dict[str, Any]:
    """The checker reads ``limit_price``/``qty``; fill them from the aliases the generator used."""
    result = dict(host)
    if "price" in result and "limit_price" not in result:
        result["limit_price"] = result.pop("price")
    if "quantity" in result:
        result["qty"] = result.pop("quantity")
    return result


# --------------------------------------------------------------------------------------------
# Properties of valid orders


@SETTINGS
@given(valid_cases())
def test_every_valid_order_gives_a_payload_that_satisfies_the_cpapi_rules(
    case: tuple[dict[str, Any], dict[str, Any], TranslateOptions],
) -> None:
    host, contract, options = case
    payload = translate_order(host, contract, options)
    check_cpapi_order(payload, _host_for_checker(host), contract, options)


@SETTINGS
@given(valid_cases())
def test_payload_intent_payload_round_trips(
    case: tuple[dict[str, Any], dict[str, Any], TranslateOptions],
) -> None:
    host, contract, options = case
    payload = translate_order(host, contract, options)
    again = unstructure(payload_from_intent(intent_from_payload(payload, contract), contract, options))
    assert again == payload


@SETTINGS
@given(valid_cases())
def test_translation_is_deterministic_for_a_given_coid(
    case: tuple[dict[str, Any], dict[str, Any], TranslateOptions],
) -> None:
    host, contract, options = case
    first = translate_order(host, contract, options)
    second = translate_order(dict(host), dict(contract), options)
    if host.get("client_order_id") is None:
        assert first.pop("cOID") != second.pop("cOID")  # a fresh id each time, the rest identical
    assert first == second


# --------------------------------------------------------------------------------------------
# Invalid orders

BAD_NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    0,
    0.0,
    -1,
    -0.01,
    1e15,
    10**30,
    "10",
    "abc",
    [1],
    {},
    True,
    b"1",
]
BAD_WORDS = ["", "unknown", "BUYY", 7, None, 1.5, ["buy"], {"a": 1}]


@st.composite
def invalid_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], TranslateOptions, str]:
    host, contract, options = draw(valid_cases())
    host = _host_for_checker(host)
    candidates = ["qty", "side", "order_type", "time_in_force", "client_order_id", "extended_hours"]
    for key in ("limit_price", "stop_price", "trail_amount", "trail_percent"):
        if key in host:
            candidates += [key, f"missing:{key}"]
    if contract["sec_type"] == "OPT":
        candidates += ["contract.strike", "contract.right", "contract.expiry"]
    target = draw(st.sampled_from(candidates))
    if target.startswith("missing:"):
        key = target.split(":", 1)[1]
        del host[key]
        field = "trail_amount" if key.startswith("trail_") else key
        if key == "stop_price" and host["order_type"] == "trailing_stop":
            field = ""  # the trigger of TRAIL is optional: not an invalid case
        return host, contract, options, field
    if target.startswith("contract."):
        contract = dict(contract, **{target.split(".", 1)[1]: draw(st.sampled_from([None, "", "X", -1]))})
        return host, contract, options, target
    if target == "qty":
        bad = draw(st.sampled_from([*BAD_NUMBERS, None]))
        if contract["sec_type"] in ("OPT", "FUT", "BOND") and draw(st.booleans()):
            bad = draw(st.integers(1, 100)) + 0.5
    elif target in ("side", "order_type"):
        bad = draw(st.sampled_from(BAD_WORDS))
    elif target == "time_in_force":
        bad = draw(st.sampled_from([b for b in BAD_WORDS if b is not None] + ["fok", "gtd"]))
    elif target == "client_order_id":
        bad = draw(st.sampled_from(["", "x" * 41, "white space", "naïve", 12, ["a"]]))
    elif target == "extended_hours":
        bad = draw(st.sampled_from(["true", 1, 0, "no", [True]]))
    else:
        bad = draw(
            st.sampled_from([b for b in BAD_NUMBERS if b != 1e15] + [200.0 if "percent" in target else 1e9])
        )
    host[target] = bad
    return host, contract, options, target


@SETTINGS
@given(invalid_cases())
def test_invalid_orders_always_raise_the_field_naming_error(
    case: tuple[dict[str, Any], dict[str, Any], TranslateOptions, str],
) -> None:
    host, contract, options, field = case
    if not field:
        check_cpapi_order(translate_order(host, contract, options), host, contract, options)
        return
    with pytest.raises(OrderValidationError) as info:
        translate_order(host, contract, options)
    assert info.value.field == field, (str(info.value), host)
    assert str(info.value).startswith(f"{field}: ")
