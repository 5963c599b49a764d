"""A question held for the caller (``hold_questions=True``) against the simulator, over real
sockets, with both clients: yes continues the same order (one cOID, one row), no declines it,
and after the reply window a yes places the ticket again under a new cOID whose row links the
first. Modifications hold their questions the same way."""

from __future__ import annotations

import time
from typing import Any

import pytest

from axion_broker_ibkr.errors import OrderValidationError, QuestionRefusedError
from axion_broker_ibkr.models import PendingQuestion
from axion_broker_ibkr.ops.orderpath import REPLY_WINDOW_S
from axion_broker_ibkr.store.memory import MemoryJournal
from axion_broker_ibkr.store.row_status import AWAITING_ANSWER, DECLINED
from tests.client.conftest import call, sim_client

STOCK = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL", "currency": "USD"}


async def _far_order(client: Any, coid: str) -> dict[str, Any]:
    """A buy limit 5 % under the bid: the simulator asks o163 (price constraint) for it."""
    quote = (await call(client.snapshot([265598])))[0]
    return {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
            "limit_price": round(quote.bid * 0.95, 2), "client_order_id": coid}  # fmt: skip


def _rows(client: Any) -> list[Any]:
    journal = client.journal
    assert isinstance(journal, MemoryJournal)
    return list(reversed(journal.entries()))  # oldest first


async def _live_refs(client: Any) -> list[str]:
    orders = await call(client.live_orders(force=True))
    if not orders:  # the gateway's documented "call it twice" priming
        orders = await call(client.live_orders())
    return [o.client_order_id for o in orders if o.client_order_id]


async def test_held_question_then_yes_places_the_same_order(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    coid = f"hold-yes-{kind}"
    try:
        order = await _far_order(client, coid)
        held = await call(client.place_order(order, STOCK, hold_questions=True))
        assert held.status == "pending" and held.ibkr_status is None and held.order_id is None
        assert isinstance(held.question, PendingQuestion)
        assert held.question.message_ids == ("o163",)
        assert "Percentage constraint" in held.question.messages[0]
        assert held.question.expires_at == pytest.approx(held.question.asked_at + REPLY_WINDOW_S)
        assert held.to_host()["question"]["message_ids"] == ["o163"]
        assert [(r.client_order_id, r.status) for r in _rows(client)] == [(coid, AWAITING_ANSWER)]
        assert client.held_question(coid) == held.question
        assert coid not in await _live_refs(client)  # nothing at IBKR while the question is open

        done = await call(client.answer_question(coid, True))
        assert done.client_order_id == coid and done.question is None
        assert done.status == "open" and done.ibkr_status in ("Submitted", "PreSubmitted")
        assert done.order_id
        rows = _rows(client)
        assert [(r.client_order_id, r.status, r.order_id) for r in rows] == [(coid, "open", done.order_id)]
        record = next(r for r in rows[0].transcript if r.get("held"))
        assert record["answer"] is True and record["confirmed_by_caller"] == ["o163"]
        assert (await _live_refs(client)).count(coid) == 1
        with pytest.raises(OrderValidationError) as info:  # answered: a second answer finds nothing
            await call(client.answer_question(coid, True))
        assert info.value.field == "client_order_id"
        await call(client.cancel_order(done.order_id))
    finally:
        await call(client.close())


async def test_held_question_then_no_is_declined(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    coid = f"hold-no-{kind}"
    try:
        held = await call(client.place_order(await _far_order(client, coid), STOCK, hold_questions=True))
        assert held.status == "pending"
        result = await call(client.answer_question(coid, False))
        assert result.status == "rejected" and result.order_id is None and "declined" in result.message
        rows = _rows(client)
        assert [(r.client_order_id, r.status) for r in rows] == [(coid, DECLINED)]
        record = next(r for r in rows[0].transcript if r.get("held"))
        assert record["message_ids"] == ["o163"] and record["answer"] is False
        assert "Percentage constraint" in record["messages"][0]
        assert coid not in await _live_refs(client)
    finally:
        await call(client.close())


async def test_without_hold_a_refused_question_is_still_declined(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    coid = f"no-hold-{kind}"
    try:
        with pytest.raises(QuestionRefusedError):
            await call(client.place_order(await _far_order(client, coid), STOCK))
        assert [(r.client_order_id, r.status) for r in _rows(client)] == [(coid, DECLINED)]
        assert client.held_question(coid) is None
    finally:
        await call(client.close())


async def test_yes_after_the_window_places_again_linked(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    coid = f"hold-late-{kind}"
    try:
        held = await call(client.place_order(await _far_order(client, coid), STOCK, hold_questions=True))
        assert held.question is not None
        # The reply window passes, for IBKR (the simulator's clock) and for the client.
        fault_sim.admin.call("advance_clock", seconds=REPLY_WINDOW_S + 5)
        client.clock = lambda: time.time() + REPLY_WINDOW_S + 5
        again = await call(client.answer_question(coid, True))
        assert again.client_order_id != coid and again.question is None
        assert again.status == "open" and again.order_id
        first, second = _rows(client)
        assert (first.client_order_id, first.status) == (coid, DECLINED)
        assert first.message is not None and first.message.startswith("question expired")
        assert (second.client_order_id, second.linked_client_order_id) == (again.client_order_id, coid)
        assert second.status == "open" and second.order_id == again.order_id
        refs = await _live_refs(client)
        assert coid not in refs and refs.count(again.client_order_id) == 1
    finally:
        await call(client.close())


async def test_a_reply_id_ibkr_forgot_inside_the_window_is_treated_as_expired(
    kind: str, fault_sim: Any
) -> None:
    client = sim_client(kind, fault_sim)
    coid = f"hold-gone-{kind}"
    try:
        await call(client.place_order(await _far_order(client, coid), STOCK, hold_questions=True))
        fault_sim.admin.call("advance_clock", seconds=REPLY_WINDOW_S + 5)  # IBKR's side only
        again = await call(client.answer_question(coid, True))  # 400 "reply id not found"
        assert again.client_order_id != coid and again.status == "open"
        first, second = _rows(client)
        assert first.status == DECLINED and first.message is not None
        assert first.message.startswith("question expired")
        assert any("reply id not found" in str(r.get("error", "")) for r in first.transcript)
        assert second.linked_client_order_id == coid
    finally:
        await call(client.close())


async def test_no_after_the_window_declines_without_asking_ibkr(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    coid = f"hold-late-no-{kind}"
    try:
        await call(client.place_order(await _far_order(client, coid), STOCK, hold_questions=True))
        client.clock = lambda: time.time() + REPLY_WINDOW_S + 5
        result = await call(client.answer_question(coid, False))
        assert result.status == "rejected"
        assert [(r.client_order_id, r.status) for r in _rows(client)] == [(coid, DECLINED)]
    finally:
        await call(client.close())


async def test_modify_holds_its_question(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    coid = f"hold-mod-{kind}"
    try:
        quote = (await call(client.snapshot([265598])))[0]
        near = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
                "limit_price": round(quote.bid * 0.99, 2), "client_order_id": coid}  # fmt: skip
        placed = await call(client.place_order(near, STOCK))
        assert placed.status == "open" and placed.order_id
        far = {**near, "limit_price": round(quote.bid * 0.95, 2)}
        held = await call(client.modify_order(placed.order_id, far, STOCK, hold_questions=True))
        assert held.status == "pending" and held.question is not None
        assert held.question.message_ids == ("o163",) and held.client_order_id == coid
        journal = client.journal
        assert isinstance(journal, MemoryJournal)
        assert [m.status for m in journal.modifications(coid)] == [AWAITING_ANSWER]
        assert _rows(client)[0].status == "open"  # the order itself still works at IBKR
        done = await call(client.answer_question(coid, True))
        assert done.status == "open" and done.order_id == placed.order_id
        assert [m.status for m in journal.modifications(coid)] == ["accepted"]
        row = _rows(client)[0]
        assert (row.client_order_id, row.price) == (coid, far["limit_price"])
        await call(client.cancel_order(placed.order_id))
    finally:
        await call(client.close())


async def test_answer_question_refuses_what_it_does_not_hold(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    try:
        with pytest.raises(OrderValidationError) as info:
            await call(client.answer_question("never-asked", True))
        assert info.value.field == "client_order_id"
    finally:
        await call(client.close())


async def test_a_forex_row_names_the_pair(kind: str, fast_sim: Any) -> None:
    """The order log's symbol of a forex order is the pair (``EUR.USD``), not the base currency."""
    from axion_broker_ibkr.resolver import AsyncContractResolver, ContractResolver

    client: Any = sim_client(kind, fast_sim)
    try:
        resolver: Any = ContractResolver(client) if kind == "sync" else AsyncContractResolver(client)
        pair = await call(resolver.resolve("EUR.USD", "forex", {}))
        quote = (await call(client.snapshot([pair.conid])))[0]
        coid = f"fx-row-{kind}"
        order = {"symbol": "EUR.USD", "side": "buy", "qty": 20000, "order_type": "limit",
                 "limit_price": round(float(quote.bid) * 0.999, 5), "client_order_id": coid,
                 "asset_type": "forex"}  # fmt: skip
        placed = await call(client.place_order(order, pair, hold_questions=True))
        (row,) = _rows(client)
        assert (row.client_order_id, row.symbol, row.sec_type) == (coid, "EUR.USD", "CASH")
        if placed.order_id:
            await call(client.cancel_order(placed.order_id))
    finally:
        await call(client.close())


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        ({"sec_type": "CASH", "symbol": "EUR", "currency": "USD"}, "EUR.USD"),
        ({"sec_type": "CASH", "symbol": "EUR.USD", "currency": "USD"}, "EUR.USD"),
        ({"sec_type": "STK", "symbol": "AAPL", "currency": "USD"}, "AAPL"),
    ],
)
def test_log_symbol(contract: dict[str, Any], expected: str) -> None:
    from axion_broker_ibkr.ops.orderpath import log_symbol

    assert log_symbol(contract) == expected


async def test_another_order_invalidates_the_held_question_and_yes_places_again(
    kind: str, fast_sim: Any
) -> None:
    """REFERENCE §4.3: another order request invalidates a pending question (503 on a late reply).
    A yes inside the window then places the same ticket again, linked to the first."""
    client = sim_client(kind, fast_sim)
    coid = f"hold-inval-{kind}"
    try:
        await call(client.place_order(await _far_order(client, coid), STOCK, hold_questions=True))
        other = await _far_order(client, f"other-{kind}")
        other = {**other, "limit_price": round(other["limit_price"] / 0.95 * 0.99, 2)}  # near: no question
        placed_other = await call(client.place_order(other, STOCK))
        assert placed_other.status == "open"
        again = await call(client.answer_question(coid, True))
        assert again.client_order_id not in (coid, other["client_order_id"]) and again.status == "open"
        rows = {r.client_order_id: r for r in _rows(client)}
        assert rows[coid].status == DECLINED and (rows[coid].message or "").startswith("question expired")
        assert rows[again.client_order_id].linked_client_order_id == coid
        for order_id in (placed_other.order_id, again.order_id):
            await call(client.cancel_order(order_id))
    finally:
        await call(client.close())


async def test_chained_questions_are_held_for_the_same_order(kind: str, fast_sim: Any) -> None:
    """A market order: IBKR (the simulator) asks o10151 (and o354 without market data); each
    question is held in turn, all for the same cOID and the same row."""
    client = sim_client(kind, fast_sim)
    coid = f"hold-chain-{kind}"
    try:
        order = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "market", "client_order_id": coid}
        result = await call(client.place_order(order, STOCK, hold_questions=True))
        asked: list[str] = []
        for _ in range(4):
            if result.question is None:
                break
            assert result.client_order_id == coid and result.status == "pending"
            asked.extend(result.question.message_ids)
            result = await call(client.answer_question(coid, True))
        assert "o10151" in asked and result.question is None
        assert result.client_order_id == coid and result.status in ("open", "filled", "partially_filled")
        (row,) = _rows(client)
        assert row.client_order_id == coid and row.status == result.status
        held = [r for r in row.transcript if r.get("held")]
        assert [r["message_ids"] for r in held] == [[i] for i in asked]
        assert all(r["answer"] is True for r in held)
    finally:
        await call(client.close())


async def test_a_modify_answered_after_the_window_is_sent_again(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    coid = f"hold-mod-late-{kind}"
    try:
        quote = (await call(client.snapshot([265598])))[0]
        near = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
                "limit_price": round(quote.bid * 0.99, 2), "client_order_id": coid}  # fmt: skip
        placed = await call(client.place_order(near, STOCK))
        far = {**near, "limit_price": round(quote.bid * 0.95, 2)}
        held = await call(client.modify_order(placed.order_id, far, STOCK, hold_questions=True))
        assert held.question is not None
        fault_sim.admin.call("advance_clock", seconds=REPLY_WINDOW_S + 5)
        client.clock = lambda: time.time() + REPLY_WINDOW_S + 5
        done = await call(client.answer_question(coid, True))
        assert done.status == "open" and done.order_id == placed.order_id
        journal = client.journal
        assert isinstance(journal, MemoryJournal)
        mods = journal.modifications(coid)
        assert [m.status for m in mods] == ["refused", "accepted"]
        assert (mods[0].message or "").startswith("question expired")
        (row,) = _rows(client)  # a modification never makes a new order
        assert (row.client_order_id, row.price) == (coid, far["limit_price"])
    finally:
        await call(client.close())
