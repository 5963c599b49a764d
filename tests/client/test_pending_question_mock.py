"""Held questions against scripted gateway answers: the write-ahead order of the row's statuses,
and never an order sent twice when IBKR's answer to a yes is unclear."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from axion_broker_ibkr.errors import OrderStateUnknownError
from tests.client.conftest import Router, call, make_client, reply
from tests.client.test_orders_mock import AAPL, ACK, ORDERS, Q163, SpyJournal, order
from tests.client.test_orders_mock import paper as paper  # the fixture: a paper account

REPLY = f"/iserver/reply/{Q163[0]['id']}"
LIVE = "/iserver/account/orders"


def _client(kind: str, router: Router) -> tuple[Any, SpyJournal]:
    journal = SpyJournal(router)
    client = make_client(kind, router)
    client.journal = journal
    return client, journal


async def test_the_row_is_written_ahead_at_each_step(kind: str, paper: Router) -> None:
    paper.on("POST", ORDERS, Q163)
    paper.on("POST", REPLY, ACK)
    client, journal = _client(kind, paper)
    held = await call(client.place_order(order(client_order_id="AX-H1"), AAPL, hold_questions=True))
    assert held.status == "pending" and held.question.reply_id == Q163[0]["id"]
    assert paper.count("POST", "/v1/api" + REPLY) == 0  # neither answered nor declined
    done = await call(client.answer_question("AX-H1", True))
    assert done.order_id == "1234567890" and done.client_order_id == "AX-H1"
    assert paper.count("POST", ORDERS) == 1
    steps = [e[0] for e in journal.events]
    assert steps == ["pending", "result:awaiting_answer", "result:submitted_unconfirmed", "result:open"]
    answer = next(r for r in reversed(paper.calls) if r.url.path.endswith(REPLY))
    assert answer.read() == b'{"confirmed":true}'


async def test_a_gone_question_whose_order_is_at_ibkr_is_not_sent_again(kind: str, paper: Router) -> None:
    mine = {"orderId": 42, "status": "PreSubmitted", "order_ref": "AX-H2", "filledQuantity": 0.0,
            "totalSize": 10.0, "conid": 265598, "ticker": "AAPL", "side": "BUY"}  # fmt: skip
    paper.on("POST", ORDERS, Q163)
    paper.on("POST", REPLY, reply(400, {"error": f"reply id not found: '{Q163[0]['id']}'"}))
    paper.on("GET", LIVE, {"orders": [mine]})
    client, journal = _client(kind, paper)
    await call(client.place_order(order(client_order_id="AX-H2"), AAPL, hold_questions=True))
    result = await call(client.answer_question("AX-H2", True))
    assert (result.client_order_id, result.order_id, result.status) == ("AX-H2", "42", "open")
    assert paper.count("POST", ORDERS) == 1  # found at IBKR: never placed again
    entry = journal.get("AX-H2")
    assert entry is not None and entry.status == "open" and entry.order_id == "42"


async def test_an_unclear_answer_to_yes_is_looked_up_not_resent(kind: str, paper: Router) -> None:
    paper.on("POST", ORDERS, Q163)
    paper.on("POST", REPLY, reply(503, {"error": "Service Unavailable"}))  # not IBKR's "invalidated"
    paper.on("GET", LIVE, {"orders": []})
    client, journal = _client(kind, paper)
    await call(client.place_order(order(client_order_id="AX-H3"), AAPL, hold_questions=True))
    with pytest.raises(OrderStateUnknownError, match="NOT re-sent"):
        await call(client.answer_question("AX-H3", True))
    assert paper.count("POST", ORDERS) == 1
    entry = journal.get("AX-H3")
    assert entry is not None and entry.status == "unknown_at_broker"


async def test_a_lost_connection_on_yes_is_looked_up_too(kind: str, paper: Router) -> None:
    paper.on("POST", ORDERS, Q163)
    paper.on("POST", REPLY, httpx.ReadTimeout("no answer"))
    paper.on("GET", LIVE, {"orders": []})
    client, journal = _client(kind, paper)
    await call(client.place_order(order(client_order_id="AX-H4"), AAPL, hold_questions=True))
    with pytest.raises(OrderStateUnknownError):
        await call(client.answer_question("AX-H4", True))
    assert paper.count("POST", ORDERS) == 1
    assert journal.get("AX-H4").status == "unknown_at_broker"  # type: ignore[union-attr]


async def test_no_declines_at_ibkr_and_in_the_log(kind: str, paper: Router) -> None:
    paper.on("POST", ORDERS, Q163)
    paper.on("POST", REPLY, {"error": "Order was not confirmed and has been discarded."})
    client, journal = _client(kind, paper)
    await call(client.place_order(order(client_order_id="AX-H5"), AAPL, hold_questions=True))
    result = await call(client.answer_question("AX-H5", False))
    assert result.status == "rejected"
    answer = next(r for r in reversed(paper.calls) if r.url.path.endswith(REPLY))
    assert answer.read() == b'{"confirmed":false}'
    assert [e[0] for e in journal.events] == ["pending", "result:awaiting_answer", "result:declined"]
