"""A group's IBKR question held for the caller (``hold_questions=True``), against the simulator with
both clients: the question is about the whole request, so it is held under the parent's cOID with
every leg's row ``awaiting_answer``; yes continues the group's reply loop (same cOIDs, same rows, one
POST's orders), no declines every leg, and after the reply window a yes places the group again under
new cOIDs whose rows link the first group's legs."""

from __future__ import annotations

import time
from typing import Any

import pytest

from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.models import PendingQuestion
from axion_broker_ibkr.ops.orderpath import REPLY_WINDOW_S
from tests.client.conftest import call
from tests.client.test_groups_sim import AAPL_PRICE, _bracket, _pin, group_client, group_sim, store
from tests.client.test_modify_every_type import _contract

__all__ = ["group_client", "group_sim", "store"]  # the fixtures, re-used

#: Every question but o163 (a limit far from the market): that one is held for the caller.
OTHERS = ["o354", "o10151", "o403"]


def _coids(coid: str) -> list[str]:
    return [coid, f"{coid}.tp", f"{coid}.sl"]


def _statuses(journal: Any, coids: list[str]) -> list[str | None]:
    return [getattr(journal.get(c), "status", None) for c in coids]


def _book(sim: Any) -> list[dict[str, Any]]:
    return list(sim.admin.state()["orders"])


async def _held_bracket(make: Any, kind: str, sim: Any, coid: str) -> tuple[Any, Any, Any]:
    """A client (every question but o163 auto-confirmed) and its bracket whose question is held:
    ``(client, contract, held result)``."""
    client = make(auto_confirm=OTHERS)
    contract = await _contract(client, kind, "STK")
    _pin(sim, contract)
    # 10 % under the market: the simulator asks o163 (price constraint) about the request.
    order = _bracket(contract, AAPL_PRICE * 0.9, 2, coid)
    held = await call(client.place_order(order, contract, hold_questions=True))
    assert held.question is not None
    return client, contract, held


async def test_a_held_group_question_then_yes_places_the_same_group(
    kind: str, group_sim: Any, store: Any, group_client: Any
) -> None:
    journal = store.journal
    coid = f"gq-yes-{kind}"
    client, _, held = await _held_bracket(group_client, kind, group_sim, coid)
    assert held.status == "pending" and held.order_id is None and held.ibkr_status is None
    assert isinstance(held.question, PendingQuestion) and held.question.message_ids == ("o163",)
    assert held.group_id == coid and [leg.client_order_id for leg in held.legs] == _coids(coid)
    assert all(leg.status == "pending" and leg.order_id is None for leg in held.legs)
    assert f"answer_question('{coid}', yes)" in held.message
    assert _statuses(journal, _coids(coid)) == ["awaiting_answer"] * 3
    assert client.held_question(coid) == held.question
    assert _book(group_sim) == []  # nothing at IBKR while the question is open

    done = await call(client.answer_question(coid, True))
    assert done.question is None and done.group_id == coid and done.client_order_id == coid
    assert [leg.client_order_id for leg in done.legs] == _coids(coid)
    assert [leg.ibkr_status for leg in done.legs] == ["Submitted", "PreSubmitted", "PreSubmitted"]
    assert sorted(str(o["orderId"]) for o in _book(group_sim)) == sorted(
        str(leg.order_id) for leg in done.legs
    )  # the one request's three orders, once
    assert _statuses(journal, _coids(coid)) == ["open"] * 3
    for leg in done.legs:  # same rows: each keeps the question, answered yes by the caller
        row = journal.get(leg.client_order_id)
        assert row.order_id == leg.order_id
        record = next(r for r in row.transcript if r.get("held"))
        assert record["answer"] is True and record["confirmed_by_caller"] == ["o163"]
    with pytest.raises(OrderValidationError) as info:  # answered: a second answer finds nothing
        await call(client.answer_question(coid, True))
    assert info.value.field == "client_order_id"


async def test_a_held_group_question_then_no_declines_every_leg(
    kind: str, group_sim: Any, store: Any, group_client: Any
) -> None:
    journal = store.journal
    coid = f"gq-no-{kind}"
    client, _, _held = await _held_bracket(group_client, kind, group_sim, coid)
    result = await call(client.answer_question(coid, False))
    assert result.status == "rejected" and "declined by the caller" in result.message
    assert [leg.status for leg in result.legs] == ["rejected"] * 3
    assert _statuses(journal, _coids(coid)) == ["declined"] * 3
    for c in _coids(coid):
        record = next(r for r in journal.get(c).transcript if r.get("held"))
        assert record["answer"] is False and record["message_ids"] == ["o163"]
    assert _book(group_sim) == []


async def test_after_the_window_a_yes_places_the_group_again_linked_to_the_first(
    kind: str, group_sim: Any, store: Any, group_client: Any
) -> None:
    journal = store.journal
    coid = f"gq-late-{kind}"
    client, _, _held = await _held_bracket(group_client, kind, group_sim, coid)
    # The reply window passes, for IBKR (the simulator's clock) and for the client.
    group_sim.admin.call("advance_clock", seconds=REPLY_WINDOW_S + 5)
    client.clock = lambda: time.time() + REPLY_WINDOW_S + 5
    again = await call(client.answer_question(coid, True))
    new = again.group_id
    assert new and new != coid and again.client_order_id == new and again.question is None
    assert [leg.client_order_id for leg in again.legs] == _coids(new)
    assert [leg.ibkr_status for leg in again.legs] == ["Submitted", "PreSubmitted", "PreSubmitted"]
    assert _statuses(journal, _coids(coid)) == ["declined"] * 3
    assert all("question expired" in (journal.get(c).message or "") for c in _coids(coid))
    assert _statuses(journal, _coids(new)) == ["open"] * 3
    assert [journal.get(c).linked_client_order_id for c in _coids(new)] == _coids(coid)
    assert journal.get(f"{new}.tp").parent_client_order_id == new
    assert journal.get(f"{new}.sl").payload["parentId"] == new
    assert len(_book(group_sim)) == 3  # the second group only; the first never reached IBKR


async def test_a_question_invalidated_by_another_order_places_the_group_again_once(
    kind: str, group_sim: Any, store: Any, group_client: Any
) -> None:
    """Another order request invalidates IBKR's pending question (REFERENCE §4.3): inside the window
    a yes finds the question gone and no leg at IBKR, so the same group goes again, under new ids
    linked to the first, exactly once."""
    journal = store.journal
    coid = f"gq-gone-{kind}"
    client, contract, _held = await _held_bracket(group_client, kind, group_sim, coid)
    other = group_client(auto_confirm=["o163", *OTHERS])  # another order, from another client
    await call(
        other.place_order({"side": "buy", "qty": 1, "order_type": "limit", "limit_price": 150.0}, contract)
    )
    again = await call(client.answer_question(coid, True))
    new = again.group_id
    assert new and new != coid and [leg.client_order_id for leg in again.legs] == _coids(new)
    assert _statuses(journal, _coids(coid)) == ["declined"] * 3
    assert "question expired at IBKR" in (journal.get(coid).message or "")
    assert [journal.get(c).linked_client_order_id for c in _coids(new)] == _coids(coid)
    assert len(_book(group_sim)) == 4  # the other order and the group's three, once
