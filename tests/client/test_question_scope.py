"""auto_confirm answers questions in this client's own orders; only suppress_questions switches them
off for the whole brokerage session (every program on the gateway)."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.errors import QuestionRefusedError
from tests.client.conftest import call, sim_client

FAR_BUY = {
    "symbol": "AAPL",
    "side": "buy",
    "qty": 1,
    "order_type": "limit",
    "limit_price": 1.0,  # far from the market: the simulator asks o163-style price questions
    "time_in_force": "day",
    "asset_type": "stock",
}


def _contract() -> dict[str, Any]:
    return {"conid": 265598, "sec_type": "STK", "symbol": "AAPL", "exchange": "SMART", "currency": "USD"}


async def test_auto_confirm_does_not_suppress_for_the_session(kind: str, fault_sim: Any) -> None:
    confident = sim_client(kind, fault_sim, auto_confirm=["o163", "o354", "o10151", "o403", "o2137"])
    careful = sim_client(kind, fault_sim)
    try:
        await call(confident.connect())
        assert fault_sim.state.session.suppressed == set()
        result = await call(confident.place_order(FAR_BUY, _contract()))
        asked = [q for q in result.transcript if "message_ids" in q]
        assert asked and all(q["answer"] for q in asked)
        # Another program on the same gateway still gets the question (and refuses it).
        await call(careful.connect())
        with pytest.raises(QuestionRefusedError):
            await call(careful.place_order(FAR_BUY, _contract()))
    finally:
        await call(confident.close())
        await call(careful.close())


async def test_suppress_questions_is_session_wide_and_explicit(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim, suppress_questions=["o163"])
    try:
        await call(client.connect())
        assert fault_sim.state.session.suppressed == {"o163"}
    finally:
        await call(client.close())
