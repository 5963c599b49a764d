"""Pure parts of issue 15's follow-ups: a group placed again under a new id (after its question
expired) keeps its terms and re-derives every leg's id; a modification's quantities are checked
against the group before anything is sent (the entry's exits follow it, one exit alone is refused
naming the leg and field, an OCO's quantities stay equal)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.ops.groupflow import LoggedLeg, check_quantities
from axion_broker_ibkr.orders.groups import regroup, translate_group
from tests.unit.order_cases import AAPL, OPTIONS
from tests.unit.test_order_groups import bracket


def test_a_bracket_placed_again_keeps_its_terms_under_new_ids() -> None:
    first = translate_group(bracket(time_in_force="gtc"), AAPL, OPTIONS)
    again = regroup(first, "G-2")
    assert again.kind == "bracket" and again.group_id == "G-2"
    assert [leg.client_order_id for leg in again.legs] == ["G-2", "G-2.tp", "G-2.sl"]
    assert again.legs[0].payload["cOID"] == "G-2"
    assert [leg.payload.get("parentId") for leg in again.legs] == [None, "G-2", "G-2"]
    strip = ("cOID", "parentId")
    assert [{k: v for k, v in leg.payload.items() if k not in strip} for leg in again.legs] == [
        {k: v for k, v in leg.payload.items() if k not in strip} for leg in first.legs
    ]
    assert first.legs[1].payload["parentId"] == "G-1"  # the first group is untouched


def test_an_oco_placed_again_re_derives_even_its_own_ids() -> None:
    a = {"side": "buy", "qty": 2, "order_type": "stop", "stop_price": 190.0, "client_order_id": "mine"}
    b = {"side": "buy", "qty": 2, "order_type": "limit", "limit_price": 170.0}
    first = translate_group({"client_order_id": "O-1", "oco": [a, b]}, AAPL, OPTIONS)
    again = regroup(first, "O-2")
    assert [leg.client_order_id for leg in again.legs] == ["O-2.o1", "O-2.o2"]
    assert [leg.payload["cOID"] for leg in again.legs] == ["O-2.o1", "O-2.o2"]
    assert all(leg.payload["isSingleGroup"] is True for leg in again.legs)


def test_a_new_group_id_is_checked_as_the_first() -> None:
    first = translate_group(bracket(), AAPL, OPTIONS)
    with pytest.raises(OrderValidationError) as info:
        regroup(first, "x" * 40)
    assert info.value.field == "client_order_id"


def _legs(qty: float = 10, *, sl_status: str = "open") -> list[LoggedLeg]:
    def leg(role: str, coid: str, status: str = "open") -> LoggedLeg:
        return LoggedLeg(role=role, field=role, client_order_id=coid, order_id="1", quantity=qty,
                         payload={}, status=status)  # fmt: skip

    return [leg("entry", "G"), leg("take_profit", "G.tp"), leg("stop_loss", "G.sl", sl_status)]


def _body(qty: float) -> dict[str, Any]:
    return {"quantity": qty}


def test_a_new_entry_quantity_is_returned_for_its_exits() -> None:
    assert check_quantities("bracket", _legs(), {"G": _body(12)}) == 12
    assert check_quantities("bracket", _legs(), {"G": _body(10)}) is None  # price only
    assert check_quantities("bracket", _legs(), {"G": _body(12), "G.tp": _body(12)}) == 12
    with pytest.raises(OrderValidationError) as info:
        check_quantities("bracket", _legs(), {"G": _body(12), "G.sl": _body(11)})
    assert info.value.field == "stop_loss.qty" and "entry's new quantity 12" in info.value.reason


def test_one_exit_alone_is_refused_unless_its_sibling_changes_too() -> None:
    with pytest.raises(OrderValidationError) as info:
        check_quantities("bracket", _legs(), {"G.tp": _body(5)}, {"G.tp": {"quantity": 5}})
    assert info.value.field == "take_profit.quantity"  # the caller's own word for it
    assert "stop_loss" in info.value.reason
    assert check_quantities("bracket", _legs(), {"G.tp": _body(5), "G.sl": _body(5)}) is None
    # A sibling that is over (filled or cancelled) does not have to follow.
    assert check_quantities("bracket", _legs(sl_status="canceled"), {"G.tp": _body(5)}) is None
    with pytest.raises(OrderValidationError) as info:
        check_quantities("bracket", _legs(), {"G.tp": _body(11), "G.sl": _body(11)})
    assert "exceeds the entry's quantity 10" in info.value.reason
    with pytest.raises(OrderValidationError) as info:
        check_quantities("bracket", _legs(), {"X": _body(1)})
    assert info.value.field == "client_order_id"


@given(st.integers(1, 50), st.integers(1, 50))
def test_oco_quantities_change_all_together_or_not_at_all(first: int, second: int) -> None:
    legs = [
        LoggedLeg(
            role="oco",
            field=f"oco[{i}]",
            client_order_id=f"O.o{i + 1}",
            order_id=str(i),
            quantity=10,
            payload={},
            status="open",
        )
        for i in range(2)
    ]
    changes = {"O.o1": _body(first), "O.o2": _body(second)}
    if first == second:
        assert check_quantities("oco", legs, changes) is None
    else:
        with pytest.raises(OrderValidationError) as info:
            check_quantities("oco", legs, changes)
        assert info.value.field in ("oco[0].qty", "oco[1].qty")
