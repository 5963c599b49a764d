"""The fast path and the structured API agree; the speed-minded pieces equal their plain versions.

``translate_order`` writes the wire dict straight from the checked values; ``intent_from_host`` ->
``payload_from_intent`` -> ``unstructure`` goes through the attrs models and cattrs. Both must give
the same payload (same ``quantity`` type too) or the same refusal (type, field and message), for
valid orders, single-fault orders and orders with several random faults. Tick rounding divides by
the increment's whole inverse instead of calling ``round``: it must equal the ``round`` formula.
"""

from __future__ import annotations

import math
import os
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axion_broker_ibkr.orders import (
    TranslateOptions,
    intent_from_host,
    options_from_env,
    payload_from_intent,
    translate_order,
)
from axion_broker_ibkr.orders.prices import round_to_grid
from axion_broker_ibkr.wire.convert import unstructure
from tests.unit.test_orders_properties import SETTINGS, invalid_cases, valid_cases

Outcome = tuple[Any, ...]


def _outcome(fn: Any, generated_coid: bool) -> Outcome:
    try:
        payload = fn()
    except ValueError as exc:
        return ("refused", type(exc).__name__, getattr(exc, "field", None), str(exc))
    if generated_coid:  # a fresh cOID per call: compare its shape, not its value
        assert len(payload["cOID"]) == 26 and payload["cOID"].startswith("AX")
        payload = dict(payload, cOID="<generated>")
    return ("sent", payload, type(payload["quantity"]).__name__)


def _both(host: Any, contract: dict[str, Any], options: TranslateOptions) -> tuple[Outcome, Outcome]:
    generated = not isinstance(host, dict) or host.get("client_order_id") is None
    fast = _outcome(lambda: translate_order(host, contract, options), generated)
    structured = _outcome(
        lambda: unstructure(payload_from_intent(intent_from_host(host, contract), contract, options)),
        generated,
    )
    return fast, structured


def _fixed_coid(host: dict[str, Any]) -> dict[str, Any]:
    """A generated cOID differs per call; give the order one so both paths can be compared."""
    return host if host.get("client_order_id") is not None else dict(host, client_order_id="T-fixed")


@SETTINGS
@given(valid_cases())
def test_both_paths_give_the_same_payload_for_valid_orders(
    case: tuple[dict[str, Any], dict[str, Any], TranslateOptions],
) -> None:
    host, contract, options = case
    fast, structured = _both(_fixed_coid(host), contract, options)
    assert fast[0] == "sent", fast
    assert fast == structured


@SETTINGS
@given(invalid_cases())
def test_both_paths_refuse_single_faults_alike(
    case: tuple[dict[str, Any], dict[str, Any], TranslateOptions, str],
) -> None:
    host, contract, options, field = case
    fast, structured = _both(_fixed_coid(host), contract, options)
    assert fast == structured
    if field:
        assert fast[0] == "refused" and fast[2] == field, fast


ODD_VALUES: list[Any] = [
    None, "", " ", "BUY", " Sell ", "LIMIT", "stop", "trailing_stop", "GTC", "opg", "cls", "fok", "week",
    0, -1, 2, 2.5, 1e9, 10**30, math.nan, math.inf, True, Decimal("12"), "100", [1], {}, b"x",
    165.127, 0.004, 195, "P", "call", "2024-01-05", "20240112", "EUR.USD", "MSFT", "x" * 41, "naïve",
    "DU 1", "etf", "crypto", "tulips",
]  # fmt: skip
ORDER_KEYS = [
    "side", "order_type", "time_in_force", "qty", "quantity", "limit_price", "price", "stop_price",
    "trail_amount", "trail_percent", "extended_hours", "client_order_id", "account_id", "symbol",
    "asset_type", "option_type", "right", "strike", "expiration", "expiry",
]  # fmt: skip
CONTRACT_CHANGES: list[dict[str, Any]] = [
    {"conid": "265598"}, {"conid": "0265598"}, {"conid": -1}, {"sec_type": "CRYPTO"}, {"sec_type": ["STK"]},
    {"exchange": ""}, {"symbol": None}, {"local_symbol": "EURUSD"}, {"strike": None}, {"right": "x"},
    {"expiry": "2024-13-01"}, {"tick_size": 0}, {"tick_size": "0.01"}, {"increment_rules": "rules"},
    {"increment_rules": [{"lowerEdge": 0.0, "increment": 0.05}]},
    {"increment_rules": [{"lower_edge": 0, "increment": "x"}]},
    {"increment_rules": [{"lower_edge": None, "increment": 0.01}]},
]  # fmt: skip


@st.composite
def faulty_cases(draw: st.DrawFn) -> tuple[Any, dict[str, Any], TranslateOptions]:
    """A valid case with up to four keys replaced by odd values or removed, and maybe a bad contract."""
    host, contract, options = draw(valid_cases())
    host = dict(_fixed_coid(host))
    for key in draw(st.lists(st.sampled_from(ORDER_KEYS), min_size=1, max_size=4)):
        if draw(st.booleans()):
            host[key] = draw(st.sampled_from(ODD_VALUES))
        else:
            host.pop(key, None)
    if draw(st.booleans()):
        contract = dict(contract, **draw(st.sampled_from(CONTRACT_CHANGES)))
    return host, contract, options


@SETTINGS
@given(faulty_cases())
def test_both_paths_agree_on_orders_with_several_faults(
    case: tuple[Any, dict[str, Any], TranslateOptions],
) -> None:
    fast, structured = _both(*case)
    assert fast == structured


# --------------------------------------------------------------------------------------------
# Tick rounding: the division by a whole inverse equals the round() formula


def _reference_round(price: float, bands: list[tuple[float, float]], down: bool) -> float:
    """The plain formula: the band's increment, nearest tick within float noise, else floor/ceil."""
    increment = next((inc for edge, inc in sorted(bands, reverse=True) if price >= edge), min(bands)[1])
    steps = price / increment
    nearest = round(steps)
    if abs(steps - nearest) <= 1e-9 + abs(steps) * 1e-13:
        ticks = nearest
    else:
        ticks = math.floor(steps) if down else math.ceil(steps)
    text = f"{increment:.10f}".rstrip("0")
    return round(ticks * increment, len(text) - text.index(".") - 1)


INCREMENTS = [0.01, 0.001, 0.0001, 0.25, 0.05, 0.5, 1.0, 1 / 32, 0.005, 0.03, 5.0, 1 / 3, 1e-8, 0.00001]


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 1.0, 3.0, 10.0]), st.sampled_from(INCREMENTS)),
        min_size=1,
        max_size=3,
        unique_by=lambda band: band[0],
    ),
    st.one_of(
        st.floats(min_value=1e-6, max_value=1e8),
        st.builds(lambda n, i, e: n * INCREMENTS[i] * (1 + e), st.integers(1, 10**7),
                  st.integers(0, len(INCREMENTS) - 1), st.sampled_from([0.0, 1e-15, -1e-15, 1e-12])),
    ),
    st.booleans(),
)  # fmt: skip
def test_tick_rounding_equals_the_round_formula(
    bands: list[tuple[float, float]], price: float, down: bool
) -> None:
    grid = tuple(sorted(bands, reverse=True))
    assert round_to_grid(price, grid, down) == _reference_round(price, bands, down)


# --------------------------------------------------------------------------------------------
# Options from the environment: read on every call, rebuilt only on a change


ENV_KEYS = (
    "AXION_IBKR_ACCOUNT_ID",
    "AXION_IBKR_ALLOW_FRACTIONAL",
    "AXION_IBKR_FUTURES_OPERATOR",
    "AXION_IBKR_MANUAL_ORDERS",
)


def test_options_follow_every_change_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    first = options_from_env()
    assert first == TranslateOptions()
    assert options_from_env() is first  # unchanged values: the options are not rebuilt
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "dësk-7")  # non-ASCII survives the raw read
    monkeypatch.setenv("AXION_IBKR_ACCOUNT_ID", " DU1234567 ")
    assert options_from_env() == TranslateOptions(account_id="DU1234567", futures_operator="dësk-7")
    monkeypatch.setenv("AXION_IBKR_ALLOW_FRACTIONAL", "yes")
    assert options_from_env().allow_fractional is True
    monkeypatch.delenv("AXION_IBKR_ACCOUNT_ID")
    assert options_from_env().account_id is None
    monkeypatch.setenv("AXION_IBKR_MANUAL_ORDERS", "maybe")
    with pytest.raises(ValueError, match="AXION_IBKR_MANUAL_ORDERS"):
        options_from_env()


def test_options_are_read_from_a_replaced_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", {"AXION_IBKR_FUTURES_OPERATOR": "desk-9"})
    assert options_from_env() == TranslateOptions(futures_operator="desk-9")
    os.environ["AXION_IBKR_FUTURES_OPERATOR"] = "desk-10"
    assert options_from_env().futures_operator == "desk-10"
