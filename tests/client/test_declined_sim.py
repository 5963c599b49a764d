"""A question not answered yes leaves one ``declined`` row (not ``rejected``) with the question's
ids and text, against the simulator; no later event moves it."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.errors import QuestionRefusedError
from axion_broker_ibkr.ops.journal import TERMINAL, next_status
from axion_broker_ibkr.store.row_status import DECLINED
from tests.client.conftest import AAPL_STOCK as STOCK
from tests.client.conftest import aapl_limit, call, sim_client


async def test_a_question_not_answered_yes_is_logged_declined(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    try:
        far = await aapl_limit(client, 0.95, client_order_id="far-1")
        with pytest.raises(QuestionRefusedError) as info:
            await call(client.place_order(far, STOCK))
        assert info.value.message_ids == ["o163"]
        rows = client.journal.entries()  # type: ignore[union-attr]
        assert [(r.client_order_id, r.status) for r in rows] == [("far-1", DECLINED)]
        question = rows[0].transcript[-1]
        assert question["message_ids"] == ["o163"] and question["answer"] is False
        assert "Percentage constraint" in question["messages"][0]
    finally:
        await call(client.close())


def test_declined_is_settled() -> None:
    assert DECLINED == "declined" and DECLINED in TERMINAL
    for later in ("open", "pending", "partially_filled", "pending_submit", "submitted_unconfirmed"):
        assert next_status(DECLINED, later) == DECLINED  # a working status never reopens it
