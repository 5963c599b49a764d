"""Order groups (bracket, OCO, OTO) -> the CPAPI ``orders`` array: examples and hypothesis properties.

The group rules are written down a second time here (sides, prices, quantities, wire links) and every
generated valid group must satisfy them; every corrupted group must raise an ``OrderValidationError``
naming the corrupted leg and field, with nothing returned.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.orders import translate_order
from axion_broker_ibkr.orders.groups import is_group, translate_group
from tests.conftest import load_fixture
from tests.unit.order_cases import AAPL, AAPL_PUT, ES_FUT, OPTIONS

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTRACTS = {"AAPL": AAPL, "AAPL_PUT": AAPL_PUT, "ES": ES_FUT}


def bracket(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "side": "buy", "qty": 10, "order_type": "limit", "limit_price": 180.0, "client_order_id": "G-1",
        "take_profit": {"limit_price": 190.0}, "stop_loss": {"stop_price": 175.0},
    }  # fmt: skip
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _limit(payload: dict[str, Any]) -> float | None:
    return payload.get("price") if payload["orderType"] in ("LMT", "STOP_LIMIT", "TRAILLMT") else None


def _stop(payload: dict[str, Any]) -> float | None:
    if payload["orderType"] in ("STP", "TRAIL"):
        return payload.get("price")
    return payload.get("auxPrice") if payload["orderType"] in ("STOP_LIMIT", "TRAILLMT") else None


def check_bracket(payloads: list[dict[str, Any]]) -> None:
    """The bracket rules, independently of the translator."""
    parent, *children = payloads
    assert parent["cOID"] and "parentId" not in parent
    assert 1 <= len(children) <= 2
    entry_price = _limit(parent) if _limit(parent) is not None else _stop(parent)
    buy = parent["side"] == "BUY"
    tp = sl = None
    for child in children:
        assert child["parentId"] == parent["cOID"]
        assert "cOID" not in child  # IBKR: children carry parentId, not a cOID of their own
        assert child["side"] == ("SELL" if buy else "BUY")
        assert child["quantity"] == parent["quantity"]
        assert child["conid"] == parent["conid"] and child["secType"] == parent["secType"]
        assert "isSingleGroup" not in child
        if child["orderType"] == "LMT":
            tp = child["price"]
        else:
            assert child["orderType"] in ("STP", "STOP_LIMIT", "TRAIL", "TRAILLMT")
            sl = _stop(child)
    sign = 1 if buy else -1
    if entry_price is not None and tp is not None:
        assert sign * (tp - entry_price) > 0
    if entry_price is not None and sl is not None:
        assert sign * (entry_price - sl) > 0
    if tp is not None and sl is not None:
        assert sign * (tp - sl) > 0


# --------------------------------------------------------------------------------------------
# Examples


def test_a_stock_bracket_is_the_reference_shape_parent_first() -> None:
    group = translate_group(bracket(time_in_force="gtc"), AAPL, OPTIONS)
    payloads = group.payloads()
    shape = load_fixture("order_request_bracket")["orders"]
    assert [set(p) >= {"conid", "orderType", "side", "quantity", "tif"} for p in payloads] == [True] * 3
    assert [("parentId" in p, "cOID" in p) for p in payloads] == [
        ("parentId" in s, "cOID" in s) for s in [shape[0], shape[2], shape[1]]
    ]
    assert [p["orderType"] for p in payloads] == ["LMT", "LMT", "STP"]
    assert [p["tif"] for p in payloads] == ["GTC"] * 3  # exits inherit a GTC entry's TIF
    assert payloads[0]["cOID"] == "G-1" and group.group_id == "G-1"
    assert [leg.client_order_id for leg in group.legs] == ["G-1", "G-1.tp", "G-1.sl"]
    assert [leg.role for leg in group.legs] == ["entry", "take_profit", "stop_loss"]
    check_bracket(payloads)
    json.dumps(payloads)


def test_stop_loss_variants_stop_limit_and_trailing() -> None:
    limit = translate_group(bracket(stop_loss={"stop_price": 175.0, "limit_price": 174.5}), AAPL, OPTIONS)
    stop_limit = limit.payloads()[2]
    assert (stop_limit["orderType"], stop_limit["price"], stop_limit["auxPrice"]) == (
        "STOP_LIMIT",
        174.5,
        175.0,
    )
    trail = translate_group(bracket(stop_loss={"trail_percent": 2.0}), AAPL, OPTIONS).payloads()[2]
    assert trail["orderType"] == "TRAIL" and trail["trailingType"] == "%" and trail["trailingAmt"] == 2.0
    check_bracket(
        translate_group(
            bracket(stop_loss={"trail_amount": 1.5, "stop_price": 176.0}), AAPL, OPTIONS
        ).payloads()
    )


def test_a_future_bracket_carries_the_cme_fields_on_every_leg() -> None:
    group = translate_group(
        bracket(limit_price=5000.0, take_profit={"limit_price": 5010.0}, stop_loss={"stop_price": 4990.1}),
        ES_FUT, OPTIONS,
    )  # fmt: skip
    payloads = group.payloads()
    assert all(p["extOperator"] == "desk-7" and p["manualIndicator"] is False for p in payloads)
    assert payloads[2]["price"] == 4990.25  # a SELL stop rounds up onto the 0.25 grid


def test_a_sell_entry_has_its_exits_mirrored() -> None:
    group = translate_group(
        bracket(side="sell_short", take_profit={"limit_price": 170.0}, stop_loss={"stop_price": 185.0}),
        AAPL, OPTIONS,
    )  # fmt: skip
    assert [p["side"] for p in group.payloads()] == ["SELL", "BUY", "BUY"]
    check_bracket(group.payloads())


def test_a_market_entry_has_only_the_exits_compared() -> None:
    ok = translate_group(bracket(order_type="market", limit_price=None), AAPL, OPTIONS)
    check_bracket(ok.payloads())
    with pytest.raises(OrderValidationError) as info:
        translate_group(
            bracket(order_type="market", limit_price=None, stop_loss={"stop_price": 195.0}), AAPL, OPTIONS
        )
    assert info.value.field == "stop_loss.stop_price"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stop_loss": {"stop_price": 181.0}}, "stop_loss.stop_price"),
        ({"stop_loss": {"stop_price": 179.999}}, "stop_loss.stop_price"),  # rounds onto the entry
        ({"take_profit": {"limit_price": 170.0}}, "take_profit.limit_price"),
        ({"take_profit": {"limit_price": 190.0, "qty": 5}}, "take_profit.qty"),
        ({"take_profit": {"limit_price": 190.0, "side": "buy"}}, "take_profit.side"),
        ({"take_profit": {"limit_price": -1.0}}, "take_profit.limit_price"),
        ({"take_profit": {}}, "take_profit.limit_price"),
        ({"take_profit": {"limit_price": 190.0, "stop_price": 1.0}}, "take_profit.stop_price"),
        ({"take_profit": 190.0}, "take_profit"),
        ({"stop_loss": {"stop_price": 175.0, "time_in_force": "fortnight"}}, "stop_loss.time_in_force"),
        ({"stop_loss": {"limit_price": 170.0}}, "stop_loss.stop_price"),
        (
            {"stop_loss": {"stop_price": 175.0, "trail_amount": 1.0, "trail_percent": 1.0}},
            "stop_loss.trail_amount",
        ),
        ({"limit_price": -5.0}, "limit_price"),
        ({"client_order_id": "X" * 38}, "client_order_id"),
        ({"take_profit": None, "stop_loss": None}, "order"),
    ],
)
def test_invalid_brackets_name_the_leg_and_field(change: dict[str, Any], field: str) -> None:
    order = bracket(**change)
    if field == "order":
        order = {**bracket(), "take_profit": None, "stop_loss": None}
        field = "take_profit"
    with pytest.raises(OrderValidationError) as info:
        translate_group(order, AAPL, OPTIONS)
    assert info.value.field == field, info.value


def test_an_option_bracket_is_checked_against_the_option_contract() -> None:
    opt = {"side": "buy", "qty": 2, "order_type": "limit", "limit_price": 5.0,
           "take_profit": {"limit_price": 7.5}, "stop_loss": {"stop_price": 3.0}}  # fmt: skip
    check_bracket(translate_group(opt, AAPL_PUT, OPTIONS).payloads())
    with pytest.raises(OrderValidationError) as info:
        translate_group({**opt, "right": "call"}, AAPL_PUT, OPTIONS)
    assert info.value.field == "right"


def test_oco_every_order_is_single_group_with_its_own_coid() -> None:
    group = translate_group(
        {"client_order_id": "O-1", "oco": [
            {"side": "sell", "qty": 10, "order_type": "limit", "limit_price": 190.0},
            {"side": "sell", "qty": 10, "order_type": "stop", "stop_price": 170.0},
        ]},
        AAPL, OPTIONS,
    )  # fmt: skip
    assert group.kind == "oco"
    assert [p["cOID"] for p in group.payloads()] == ["O-1.o1", "O-1.o2"]
    assert all(p["isSingleGroup"] is True and "parentId" not in p for p in group.payloads())


@pytest.mark.parametrize(
    ("oco", "field"),
    [
        ([{"side": "sell", "qty": 10, "order_type": "market"}], "oco"),
        (
            [
                {"side": "sell", "qty": 10, "order_type": "market"},
                {"side": "sell", "qty": 5, "order_type": "market"},
            ],
            "oco[1].qty",
        ),
        (
            [
                {"side": "sell", "qty": 10, "order_type": "market"},
                {"side": "sell", "qty": 10, "order_type": "limit"},
            ],
            "oco[1].limit_price",
        ),
        ([{"side": "sell", "qty": 10, "order_type": "market", "take_profit": {}}, {}], "oco[0].take_profit"),
        ("nope", "oco"),
        (
            [
                {"side": "sell", "qty": 10, "order_type": "market"},
                {"side": "sell", "qty": 10, "order_type": "market", "account_id": "DU999"},
            ],
            "oco[1].account_id",
        ),
    ],
)
def test_invalid_oco_names_the_order_and_field(oco: Any, field: str) -> None:
    with pytest.raises(OrderValidationError) as info:
        translate_group({"oco": oco}, AAPL, OPTIONS)
    assert info.value.field == field


def test_oto_has_one_child_linked_to_the_parent() -> None:
    then = [{"side": "sell", "qty": 10, "order_type": "limit", "limit_price": 200.0}]
    group = translate_group({**bracket(take_profit=None, stop_loss=None), "then": then}, AAPL, OPTIONS)
    parent, child = group.payloads()
    assert group.kind == "oto" and child["parentId"] == parent["cOID"] == "G-1" and "cOID" not in child
    assert group.legs[1].client_order_id == "G-1.t1"
    two = [{"side": "sell", "qty": 10, "order_type": "market"}] * 2
    for then, field in (
        (two, "then"),
        ([{"side": "sell", "qty": 10, "order_type": "limit"}], "then[0].limit_price"),
    ):
        with pytest.raises(OrderValidationError) as info:
            translate_group({**bracket(take_profit=None, stop_loss=None), "then": then}, AAPL, OPTIONS)
        assert info.value.field == field


def test_the_single_order_translator_refuses_a_group() -> None:
    assert is_group(bracket()) and not is_group({"side": "buy"})
    for key in ("take_profit", "stop_loss", "oco", "then", " Take_Profit"):
        with pytest.raises(OrderValidationError, match="group") as info:
            translate_order({**bracket(take_profit=None, stop_loss=None), key: {}}, AAPL, OPTIONS)
        assert info.value.field == key


# --------------------------------------------------------------------------------------------
# Properties

QUARTERS = st.integers(min_value=1, max_value=80).map(lambda n: n * 0.25)


@st.composite
def valid_brackets(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    name = draw(st.sampled_from(sorted(CONTRACTS)))
    contract = CONTRACTS[name]
    entry = draw(st.integers(min_value=200, max_value=2000).map(lambda n: n * 0.25))
    buy = draw(st.booleans())
    sign = 1 if buy else -1
    side = draw(st.sampled_from(["buy", "buy_to_cover"] if buy else ["sell", "sell_short"]))
    kind = draw(st.sampled_from(["limit", "stop", "market", "stop_limit"]))
    order: dict[str, Any] = {"side": side, "qty": draw(st.integers(1, 50)), "order_type": kind}
    if kind in ("limit", "stop_limit"):
        order["limit_price"] = entry
    if kind in ("stop", "stop_limit"):
        order["stop_price"] = entry
    tp = entry + sign * draw(QUARTERS)
    sl = entry - sign * draw(QUARTERS)
    if sl <= 0 or tp <= 0:
        sl, tp = entry - sign * 0.25, entry + sign * 0.25
    legs = draw(st.sampled_from(["both", "tp", "sl"]))
    if legs in ("both", "tp"):
        order["take_profit"] = {"limit_price": tp}
    if legs in ("both", "sl"):
        variant = draw(st.sampled_from(["stop", "stop_limit", "trail"]))
        spec: dict[str, Any] = {"stop_price": sl}
        if variant == "stop_limit":
            spec["limit_price"] = sl
        elif variant == "trail":
            spec["trail_amount"] = draw(QUARTERS)
        order["stop_loss"] = spec
    if draw(st.booleans()):
        order["time_in_force"] = "gtc"
    return order, contract


@SETTINGS
@given(valid_brackets())
def test_every_valid_bracket_translates_to_legs_that_satisfy_the_rules(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    order, contract = case
    group = translate_group(order, contract, OPTIONS)
    payloads = group.payloads()
    assert len(payloads) == 1 + ("take_profit" in order) + ("stop_loss" in order)
    check_bracket(payloads)
    ids = [leg.client_order_id for leg in group.legs]
    assert len(set(ids)) == len(ids) and all(i.startswith(group.group_id) for i in ids)
    assert all(len(i) <= 40 for i in ids)


@st.composite
def invalid_brackets(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], str]:
    order, contract = draw(valid_brackets())
    buy = order["side"] in ("buy", "buy_to_cover")
    sign = 1 if buy else -1
    reference: float | None = order.get("limit_price", order.get("stop_price"))
    faults = ["qty", "side", "negative"]
    if reference is not None:
        faults += ["tp_losing", "sl_winning"]
    fault = draw(st.sampled_from(faults))
    leg = draw(st.sampled_from([k for k in ("take_profit", "stop_loss") if k in order]))
    spec = dict(order[leg])
    if fault == "qty":
        spec["qty"] = order["qty"] + draw(st.integers(1, 5))
        field = f"{leg}.qty"
    elif fault == "side":
        spec["side"] = order["side"]
        field = f"{leg}.side"
    elif fault == "negative":
        key = "limit_price" if leg == "take_profit" else "stop_price"
        spec[key] = draw(st.sampled_from([-1.0, 0.0, float("nan"), "1.5", True]))
        field = f"{leg}.{key}"
    elif fault == "tp_losing" and reference is not None:
        leg = "take_profit"
        spec = {"limit_price": reference - sign * draw(st.sampled_from([0.0, 0.25, 1.0]))}
        field = "take_profit.limit_price"
    else:
        assert reference is not None
        leg = "stop_loss"
        spec = {"stop_price": reference + sign * draw(st.sampled_from([0.0, 0.25, 1.0]))}
        field = "stop_loss.stop_price"
    return {**order, leg: spec}, contract, field


@SETTINGS
@given(invalid_brackets())
def test_every_invalid_bracket_raises_naming_the_leg_and_field(
    case: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    order, contract, field = case
    with pytest.raises(OrderValidationError) as info:
        translate_group(order, contract, OPTIONS)
    assert info.value.field == field, (info.value, order)


@SETTINGS
@given(
    st.lists(st.sampled_from(["market", "limit", "stop"]), min_size=2, max_size=4),
    st.integers(1, 20),
    st.one_of(st.none(), st.integers(0, 3)),
)
def test_oco_groups_have_equal_quantities_or_name_the_odd_one(
    kinds: list[str], qty: int, odd: int | None
) -> None:
    members = []
    for index, kind in enumerate(kinds):
        member: dict[str, Any] = {"side": "sell", "qty": qty, "order_type": kind}
        if kind == "limit":
            member["limit_price"] = 190.0
        if kind == "stop":
            member["stop_price"] = 170.0
        if odd is not None and index == odd and index > 0:
            member["qty"] = qty + 1
        members.append(member)
    if odd is not None and 0 < odd < len(kinds):
        with pytest.raises(OrderValidationError) as info:
            translate_group({"oco": members}, AAPL, OPTIONS)
        assert info.value.field == f"oco[{odd}].qty"
        return
    payloads = translate_group({"oco": members}, AAPL, OPTIONS).payloads()
    assert len(payloads) == len(kinds)
    assert {p["quantity"] for p in payloads} == {qty}
    assert all(p["isSingleGroup"] is True for p in payloads)
    assert len({p["cOID"] for p in payloads}) == len(payloads)
