"""The Trading tab's question box (issue 11 item 1, issue 10 item 4): IBKR's question is shown
with the ticket it belongs to (the contract named in full), Yes answers IBKR for the same order
(one cOID, one order-log row), No declines it (a ``declined`` row).

The view-model (``question_box.park/view/outcome``) is tested without Streamlit; the rest drives
the page under AppTest against the dashboard's simulator and reads the page's order log."""

from __future__ import annotations

import time
from typing import Any

import attrs
import pytest
from streamlit.testing.v1 import AppTest

from axion_broker_ibkr.dashboard import question_box
from axion_broker_ibkr.models import IBKRContract, LegResult, OrderResult, PendingQuestion
from axion_broker_ibkr.naming import describe_contract

from .conftest import APP_TIMEOUT

AAPL_CONID = 265598
OPTION = IBKRContract(
    conid=4242, sec_type="OPT", symbol="AAPL", exchange="SMART", currency="USD", expiry="20270115",
    strike=185.0, right="P", multiplier=100.0,
)  # fmt: skip


def _held(coid: str = "c-1", *, expires_in: float = 30.0) -> OrderResult:
    now = time.time()
    question = PendingQuestion("r-1", ("o163",), ("Price exceeds the Percentage constraint of 3%.",),
                               now - 1, now + expires_in)  # fmt: skip
    return OrderResult(order_id=None, client_order_id=coid, status="pending", mode="sim",
                       account_id="DU1234567", question=question)  # fmt: skip


PARKED = {"order": {"symbol": "AAPL"}, "contract": OPTION, "summary": "BUY 1 contract AAPL LIMIT 0.05 DAY",
          "lines": ["Quantity: 1 contract", "Limit price: 0.05"]}  # fmt: skip


# --------------------------------------------------------------------------- the view-model


def test_the_box_names_the_ticket_and_its_contract_in_full() -> None:
    q = question_box.park(PARKED, _held())
    assert (q["client_order_id"], q["ids"], q["reply_id"]) == ("c-1", ("o163",), "r-1")
    box = question_box.view(q)
    assert box.contract == describe_contract(OPTION) == "AAPL 2027-01-15 185 P"
    assert "o163" in box.headline and "Percentage constraint" in box.headline
    assert "BUY 1 contract AAPL LIMIT 0.05 DAY" in box.headline and "AAPL 2027-01-15 185 P" in box.headline
    assert box.lines == ("Quantity: 1 contract", "Limit price: 0.05")
    assert not box.expired and 0 < box.seconds_left <= 30 and "c-1" in box.caption
    assert box.yes_label == "Yes, send it"


def test_after_the_window_the_box_says_yes_places_it_again() -> None:
    box = question_box.view(question_box.park(PARKED, _held(expires_in=-1)))
    assert box.expired and box.seconds_left == 0.0
    assert "new client order id" in box.caption and box.yes_label == "Yes, place it again"


def test_outcome_texts() -> None:
    q = question_box.park(PARKED, _held())
    done = OrderResult(order_id="9", client_order_id="c-1", status="open", ibkr_status="Submitted",
                       mode="sim", account_id="DU1")  # fmt: skip
    assert question_box.outcome(q, done, True) == ("success", "Order 9 (c-1): Submitted")
    again = OrderResult(order_id="10", client_order_id="c-2", status="open", ibkr_status="PreSubmitted",
                        mode="sim", account_id="DU1")  # fmt: skip
    level, text = question_box.outcome(q, again, True)
    assert level == "success" and "placed again as c-2" in text and "linked to c-1" in text
    declined = OrderResult(
        order_id=None, client_order_id="c-1", status="rejected", mode="sim", account_id="DU1"
    )
    assert question_box.outcome(q, declined, False) == (
        "info", "Declined: order c-1 was not placed (order log: Declined)."
    )  # fmt: skip
    assert question_box.outcome(q, _held("c-1"), True)[0] == "question"


def _legs(group: str, order_ids: tuple[str | None, ...] = (None, None, None)) -> tuple[LegResult, ...]:
    roles = (("entry", group), ("take_profit", f"{group}.tp"), ("stop_loss", f"{group}.sl"))
    return tuple(
        LegResult(role=role, client_order_id=coid, order_id=oid, status="open" if oid else "pending")
        for (role, coid), oid in zip(roles, order_ids, strict=True)
    )


def test_a_groups_question_is_shown_and_answered_for_the_whole_group() -> None:
    held = attrs.evolve(_held("G-1"), group_id="G-1", legs=_legs("G-1"))
    q = question_box.park({**PARKED, "summary": "Bracket: BUY 1 AAPL, 3 orders"}, held, kind="group")
    assert q["client_order_id"] == "G-1" and q["legs"] == ("G-1", "G-1.tp", "G-1.sl")
    box = question_box.view(q)
    assert "about this group: Bracket: BUY 1 AAPL, 3 orders" in box.headline
    assert "3 orders of group G-1" in box.caption and "G-1.tp" in box.caption
    assert box.yes_label == "Yes, send the group"
    late = question_box.view({**q, "expires_at": time.time() - 1})
    assert late.expired and "new client order ids" in late.caption and "G-1.sl" in late.caption
    done = OrderResult(order_id="9", client_order_id="G-1", status="open", ibkr_status="Submitted",
                       mode="sim", account_id="DU1", group_id="G-1",
                       legs=_legs("G-1", ("9", "10", "11")))  # fmt: skip
    level, text = question_box.outcome(q, done, True)
    assert level == "success" and text.startswith("Group G-1: Submitted (G-1 #9, G-1.tp #10")
    again = attrs.evolve(done, client_order_id="G-2", group_id="G-2", legs=_legs("G-2", ("12", "13", "14")))
    assert (
        "placed again as G-2 (the question had expired; linked to G-1)"
        in question_box.outcome(q, again, True)[1]
    )
    no = question_box.outcome(q, attrs.evolve(done, status="rejected", legs=()), False)
    assert no == ("info", "Declined: group G-1 was not placed (every leg's order-log row: Declined).")


def test_park_refuses_a_result_without_a_question() -> None:
    done = OrderResult(order_id="9", client_order_id="c-1", status="open", mode="sim", account_id="DU1")
    with pytest.raises(ValueError, match="result"):
        question_box.park(PARKED, done)


# ------------------------------------------------------------------------------- the page


def _script() -> None:
    from axion_broker_ibkr.dashboard.page import render

    render()


def _texts(at: AppTest) -> str:
    parts: list[str] = []
    for kind in ("error", "warning", "info", "success", "markdown", "caption"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    return "\n".join(parts)


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _trading() -> AppTest:
    at = AppTest.from_function(_script, default_timeout=APP_TIMEOUT)
    at.session_state["ibkr_tab"] = "Trading"
    at.run()
    _no_errors(at)
    return at


def _stock_question(limit: float) -> AppTest:
    """AAPL picked, a buy limit far under the market reviewed and sent: IBKR asks o163."""
    at = _trading()
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    at.button(key="trade_search").click().run()
    at.button(key="trade_use").click().run()
    at.number_input(key="trade_qty").set_value(1.0)
    at.selectbox(key="trade_type").set_value("limit").run()
    at.number_input(key="trade_limit").set_value(limit)
    at.button(key="trade_review").click().run()
    at.button(key="trade_confirm").click().run()
    _no_errors(at)
    return at


def _rows(limit: float) -> list[Any]:
    from axion_broker_ibkr.store import open_store

    store = open_store()
    try:
        return [e for e in store.journal.entries() if e.price == limit]
    finally:
        store.close()


def _question(at: AppTest) -> str:
    return next(w.value for w in at.warning if "IBKR asks" in w.value)


def test_yes_answers_ibkr_for_the_same_order(page: Any) -> None:
    page.admin.set_price(AAPL_CONID, 190.0)
    at = _stock_question(151.0)  # 20 % under the market
    question = _question(at)
    assert "o163" in question and "Percentage constraint" in question
    assert "BUY 1 share AAPL LIMIT 151.00 DAY" in question  # the ticket it belongs to, not a reset one
    assert not at.success, "nothing is placed before the question is answered"
    assert not any(n.key == "trade_qty" for n in at.number_input), "no fresh ticket while IBKR asks"
    (held,) = _rows(151.0)
    assert held.status == "awaiting_answer"
    at.button(key="trade_question_yes").click().run()
    _no_errors(at)
    placed = at.success[0].value
    assert held.client_order_id in placed
    (row,) = _rows(151.0)  # one cOID, one row
    assert (row.client_order_id, row.status) == (held.client_order_id, "open")
    assert row.order_id and row.order_id in placed
    record = next(r for r in row.transcript if r.get("held"))
    assert record["answer"] is True and record["confirmed_by_caller"] == ["o163"]
    assert not any("IBKR asks" in w.value for w in at.warning)
    from axion_broker_ibkr.dashboard.factory import get_session

    get_session().client.cancel_order(row.order_id)


def test_no_declines_it(page: Any) -> None:
    page.admin.set_price(AAPL_CONID, 190.0)
    at = _stock_question(152.0)
    assert "o163" in _question(at)
    at.button(key="trade_question_no").click().run()
    _no_errors(at)
    assert any("Declined" in i.value for i in at.info)
    (row,) = _rows(152.0)
    assert row.status == "declined" and row.order_id is None
    record = next(r for r in row.transcript if r.get("held"))
    assert record["message_ids"] == ["o163"] and record["answer"] is False
    assert "Percentage constraint" in record["messages"][0]
    assert not at.success


def test_the_question_names_an_option_ticket_in_full(page: Any) -> None:
    from axion_broker_ibkr.dashboard.contract_finder import PICKED

    at = _trading()
    at.selectbox(key="trade_sectype").set_value("Option")
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    at.radio(key="trade_opt_right").set_value("P").run()
    strikes = at.selectbox(key="trade_opt_strike").options
    at.selectbox(key="trade_opt_strike").set_value(strikes[len(strikes) // 2]).run()
    at.button(key="trade_opt_use").click().run()
    _no_errors(at)
    contract = at.session_state[PICKED]
    at.number_input(key="trade_qty").set_value(1.0)
    at.selectbox(key="trade_type").set_value("limit").run()
    at.number_input(key="trade_limit").set_value(0.05)  # far under an at-the-money put: o163
    at.button(key="trade_review").click().run()
    at.button(key="trade_confirm").click().run()
    _no_errors(at)
    question = _question(at)
    named = describe_contract(contract)
    assert named.startswith("AAPL ") and named.endswith(" P") and named in question
    assert "o163" in question
    at.button(key="trade_question_no").click().run()
    _no_errors(at)


def test_a_modifications_question_is_answered_in_the_box(page: Any) -> None:
    """A modify that moves the price far from the market: IBKR asks o163 about the modification;
    the box shows the modify's own ticket, Yes sends that modification (the order keeps its id)."""
    from axion_broker_ibkr.models import IBKRContract as Contract

    from .seed import _client

    page.admin.set_price(AAPL_CONID, 190.0)
    aapl = Contract(conid=AAPL_CONID, sec_type="STK", symbol="AAPL", exchange="SMART", currency="USD")
    near = {"symbol": "AAPL", "asset_type": "stock", "side": "buy", "qty": 2, "order_type": "limit",
            "limit_price": 188.5, "time_in_force": "day"}  # fmt: skip
    with _client(page.root_url, page.cert_fingerprint) as other:  # another platform's order
        placed = other.place_order(near, aapl)
    oid = int(placed.order_id or 0)
    at = _trading()
    at.selectbox(key="orders_pick").set_value(oid).run()
    at.number_input(key=f"orders_price_{oid}").set_value(153.0)  # 19 % under the market
    at.button(key=f"orders_modify_{oid}").click().run()
    at.button(key="orders_modify_confirm").click().run()
    _no_errors(at)
    question = _question(at)
    assert "o163" in question and "modification" in question and "153.00" in question
    at.button(key="trade_question_yes").click().run()
    _no_errors(at)
    assert not any("IBKR asks" in w.value for w in at.warning)
    # The live orders follow the order stream (no refresh button): rerun until it shows the modify.
    deadline = time.monotonic() + 10
    while True:
        at.run()
        rows = next(df.value for df in at.dataframe if "Remaining" in df.value.columns)
        row = rows[rows["Order id"] == oid].iloc[0]
        if row["Price"] == 153.0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert row["Price"] == 153.0
    at.selectbox(key="orders_pick").set_value(oid).run()
    at.button(key=f"orders_cancel_{oid}").click().run()
    _no_errors(at)
