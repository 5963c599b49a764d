"""The bracket ticket (``dashboard/bracket_ticket.py``): its view-model (group dict, risk/reward, the
exact legs in the confirm box) and the ticket under AppTest against the page's simulator: reviewed,
confirmed, placed as one group of three orders, each leg in the order log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from axion_broker_ibkr.dashboard.bracket_ticket import bracket_order, confirm_legs, risk_reward
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.orders import TranslateOptions
from axion_broker_ibkr.orders.groups import translate_group

from .conftest import APP_TIMEOUT, RATE_SCALE, _point_page_at

AAPL = IBKRContract(conid=265598, sec_type="STK", symbol="AAPL", exchange="SMART", currency="USD")
ES = IBKRContract(
    conid=495512563, sec_type="FUT", symbol="ES", exchange="CME", currency="USD", multiplier=50.0
)


def test_the_ticket_builds_a_bracket_and_shows_its_exact_legs_and_risk_reward() -> None:
    order = bracket_order(side="buy", quantity=2.0, entry_type="limit", entry_price=188.0, take_profit=193.0,
                          stop_loss=185.0, client_order_id="BT-1")  # fmt: skip
    assert order["qty"] == 2 and order["take_profit"] == {"limit_price": 193.0}
    group = translate_group(order, AAPL.to_host(), TranslateOptions(account_id="DU1234567"))
    rr = risk_reward(group)
    assert (rr.risk_per_unit, rr.reward_per_unit, rr.risk, rr.reward) == (3.0, 5.0, 6.0, 10.0)
    assert rr.ratio is not None and round(rr.ratio, 2) == 1.67
    head, lines = confirm_legs(group, AAPL)
    assert head == "Bracket: BUY 2 AAPL, 3 orders"
    assert lines[0].startswith("Entry: BUY 2 shares LIMIT limit 188.00 DAY (cOID BT-1")
    assert lines[1].startswith(
        "Take-profit: SELL 2 shares LIMIT limit 193.00 DAY (attached to BT-1; log id BT-1.tp"
    )
    assert lines[2].startswith(
        "Stop-loss: SELL 2 shares STOP stop 185.00 DAY (attached to BT-1; log id BT-1.sl"
    )
    assert "risk 6.00 USD · reward 10.00 USD · risk/reward 1 : 1.67" in lines[-1]


def test_risk_reward_uses_the_multiplier_and_a_market_entry_has_none() -> None:
    opts = TranslateOptions(account_id="DU1234567", futures_operator="desk")
    order = bracket_order(side="sell", quantity=1, entry_type="limit", entry_price=5900.0, take_profit=5880.0,
                          stop_loss=5910.0, client_order_id="BT-2")  # fmt: skip
    rr = risk_reward(translate_group(order, ES.to_host(), opts), ES.multiplier)
    assert (rr.risk, rr.reward) == (500.0, 1000.0) and rr.ratio == 2.0
    market = bracket_order(side="buy", quantity=1, entry_type="market", entry_price=None, take_profit=193.0,
                           stop_loss=185.0, client_order_id="BT-3")  # fmt: skip
    none = risk_reward(translate_group(market, AAPL.to_host(), opts))
    assert none.risk is None and none.ratio is None


def _script() -> None:
    from axion_broker_ibkr.dashboard import bracket_ticket
    from axion_broker_ibkr.dashboard.factory import get_session
    from axion_broker_ibkr.models import IBKRContract

    contract = IBKRContract(conid=265598, sec_type="STK", symbol="AAPL", exchange="SMART", currency="USD")
    bracket_ticket.render(get_session(), contract)


def _texts(at: AppTest) -> str:
    return "\n".join(
        str(el.value) for kind in ("error", "success", "markdown", "caption") for el in getattr(at, kind)
    )


@pytest.fixture
def bracket_page(dash_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The page on this module's simulator with an order log of this test's own: simulators number
    their orders alike, so rows left in a shared log would name other modules' orders."""
    from axion_broker_ibkr.dashboard.factory import reset_sessions

    _point_page_at(dash_sim, tmp_path / "bracket-orders.sqlite", monkeypatch, RATE_SCALE)
    yield dash_sim
    reset_sessions()


def test_the_ticket_places_a_bracket_as_one_group(bracket_page: Any) -> None:
    page = bracket_page
    from axion_broker_ibkr.store import open_store

    page.admin.set_price(265598, 190.0)  # frozen: every price stays inside IBKR's 3 % band
    before = len(page.admin.state()["orders"])
    at = AppTest.from_function(_script, default_timeout=APP_TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key="bracket_qty").set_value(2.0)
    at.number_input(key="bracket_entry").set_value(188.0)
    at.number_input(key="bracket_tp").set_value(193.0)
    at.number_input(key="bracket_sl").set_value(185.0)
    at.button(key="bracket_review").click().run()
    assert not at.error, [e.value for e in at.error]
    text = _texts(at)
    assert "Confirm Bracket: BUY 2 AAPL, 3 orders" in text and "risk/reward 1 : 1.67" in text
    assert len(page.admin.state()["orders"]) == before  # nothing sent by the review
    at.button(key="bracket_confirm").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "placed: open" in at.success[0].value
    legs = next(df.value for df in at.dataframe if "Leg" in df.value.columns)
    assert list(legs["Leg"]) == ["Entry", "Take-profit", "Stop-loss"]
    assert len(page.admin.state()["orders"]) == before + 3
    store = open_store()
    try:
        for log_id in legs["Log id"]:
            row = store.journal.get(str(log_id))
            assert row is not None and row.status == "open"
    finally:
        store.close()


def test_live_orders_show_each_group_together() -> None:
    from axion_broker_ibkr.dashboard.bracket_ticket import grouped_live_order_rows
    from axion_broker_ibkr.models import Order

    orders = [
        Order(order_id=10, client_order_id="B-1", side="BUY", status="Submitted"),
        Order(order_id=11, parent_id=10, side="SELL", status="PreSubmitted"),
        Order(order_id=12, parent_id=10, side="SELL", status="PreSubmitted"),
        Order(order_id=13, client_order_id="single", side="BUY", status="Submitted"),
        Order(order_id=14, client_order_id="O-1.o1", side="SELL", status="Submitted"),
        Order(order_id=15, client_order_id="O-1.o2", side="SELL", status="PreSubmitted"),
    ]
    rows = grouped_live_order_rows(orders)
    assert [(r["Order id"], r["Group"]) for r in rows] == [
        (15, "OCO O-1"), (14, "OCO O-1"), (13, ""),
        (10, "bracket 10"), (11, "bracket 10"), (12, "bracket 10"),
    ]  # fmt: skip


def test_a_bracket_from_the_trading_tab_is_logged_as_one_group_and_listed_together(
    bracket_page: Any,
) -> None:
    """The Trading tab shows the bracket ticket for the picked contract; a bracket sent from it
    leaves three legs in the order log under one group id, and live orders list them together."""
    from axion_broker_ibkr.store import open_store

    from .test_page import AAPL_CONID, _app, _frame, _no_errors

    page = bracket_page
    page.admin.set_price(AAPL_CONID, 190.0)  # frozen: every price stays inside IBKR's 3 % band
    at = _app("Trading")
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    at.button(key="trade_search").click().run()
    at.button(key="trade_use").click().run()
    _no_errors(at)
    assert any(e.label == "Bracket order (entry + take-profit + stop-loss)" for e in at.expander)
    at.number_input(key="bracket_qty").set_value(2.0)
    at.number_input(key="bracket_entry").set_value(188.0)
    at.number_input(key="bracket_tp").set_value(193.0)
    at.number_input(key="bracket_sl").set_value(185.0)
    at.button(key="bracket_review").click().run()
    _no_errors(at)
    assert "Confirm Bracket: BUY 2 AAPL, 3 orders" in _texts(at)
    at.button(key="bracket_confirm").click().run()
    _no_errors(at)
    legs = _frame(at, "Leg")
    assert list(legs["Leg"]) == ["Entry", "Take-profit", "Stop-loss"]
    ids = [str(i) for i in legs["Order id"]]

    store = open_store()
    try:
        rows = [store.journal.get(str(log_id)) for log_id in legs["Log id"]]
    finally:
        store.close()
    assert all(r is not None for r in rows)
    groups = {r.transcript[0]["group"]["id"] for r in rows if r is not None}
    assert len(groups) == 1
    assert [r.order_id for r in rows if r is not None] == ids

    live_rows = _frame(at, "Group")
    mine = live_rows[live_rows["Order id"].astype(str).isin(ids)]
    assert list(mine["Order id"].astype(str)) == ids  # parent, then its take-profit and stop-loss
    assert set(mine["Group"]) == {f"bracket {ids[0]}"}
    positions = [list(live_rows["Order id"].astype(str)).index(i) for i in ids]
    assert positions == list(range(positions[0], positions[0] + 3))  # side by side in the table
    # The open-order picker follows the table: the legs after their parent, each naming its group.
    picks = [o for o in at.selectbox(key="orders_pick").options if o.split(" · ")[0] in ids]
    assert [o.split(" · ")[0] for o in picks] == ids
    assert all(
        o.startswith(f"{i} · AAPL · ") and o.endswith(f" · bracket {ids[0]}")
        for i, o in zip(ids, picks, strict=True)
    )
    # Cancelling the parent from the page cancels the whole group (nothing left working).
    at.selectbox(key="orders_pick").set_value(int(ids[0])).run()
    at.button(key=f"orders_cancel_{ids[0]}").click().run()
    _no_errors(at)
    sim_orders = {str(o["orderId"]): o for o in page.admin.state()["orders"]}
    assert {sim_orders[i]["status"] for i in ids} == {"Cancelled"}


def test_a_held_group_question_is_answered_in_the_question_box(bracket_page: Any) -> None:
    """A bracket far from the market: IBKR asks o163 about the request; the page holds it (every leg
    ``awaiting_answer``, nothing at IBKR), the question box shows it for the group, and its Yes places
    the same three orders under the same ids."""
    from axion_broker_ibkr.store import open_store

    from .test_page import AAPL_CONID, _app, _frame, _no_errors

    page = bracket_page
    page.admin.set_price(AAPL_CONID, 190.0)
    before = len(page.admin.state()["orders"])
    at = _app("Trading")
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    at.button(key="trade_search").click().run()
    at.button(key="trade_use").click().run()
    at.number_input(key="bracket_qty").set_value(1.0)
    at.number_input(key="bracket_entry").set_value(170.0)  # 10 % under the market: o163
    at.number_input(key="bracket_tp").set_value(180.0)
    at.number_input(key="bracket_sl").set_value(165.0)
    at.button(key="bracket_review").click().run()
    _no_errors(at)
    at.button(key="bracket_confirm").click().run()
    _no_errors(at)
    box = "\n".join(str(w.value) for w in at.warning)
    assert "IBKR asks (o163) about this group:" in box and "Bracket: BUY 1 AAPL, 3 orders" in box
    caption = "\n".join(str(c.value) for c in at.caption)
    assert "Yes sends the 3 orders of group" in caption
    assert len(page.admin.state()["orders"]) == before  # nothing at IBKR while the question is open
    yes = next(b for b in at.button if b.key == "trade_question_yes")
    store = open_store()
    try:
        held = store.journal.entries(statuses=["awaiting_answer"])
        assert len(held) == 3 and len({r.transcript[0]["group"]["id"] for r in held}) == 1
        coids = sorted(r.client_order_id for r in held)
    finally:
        store.close()
    yes.click().run()
    _no_errors(at)
    assert len(page.admin.state()["orders"]) == before + 3
    legs = _frame(at, "Leg")
    assert sorted(str(x) for x in legs["Log id"]) == coids  # the same ids: one row each
    store = open_store()
    try:
        assert [getattr(store.journal.get(c), "status", None) for c in coids] == ["open"] * 3
    finally:
        store.close()


def test_a_new_entry_quantity_from_the_modify_panel_resizes_the_exits(bracket_page: Any) -> None:
    """The Trading tab's modify panel on a bracket's entry: the client modifies the entry and resizes
    its take-profit and stop-loss to the new quantity; the page says which legs it modified."""
    from .test_page import AAPL_CONID

    page = bracket_page
    page.admin.set_price(AAPL_CONID, 190.0)
    page.admin.config(children_follow_parent=False)  # the client resizes the exits itself
    try:
        _modify_the_entry(page)
    finally:
        page.admin.config(children_follow_parent=True)  # the simulator is shared by the module


def _modify_the_entry(page: Any) -> None:
    from .test_page import _app, _frame, _no_errors

    at = _app("Trading")
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    at.button(key="trade_search").click().run()
    at.button(key="trade_use").click().run()
    at.number_input(key="bracket_qty").set_value(2.0)
    at.number_input(key="bracket_entry").set_value(188.0)
    at.number_input(key="bracket_tp").set_value(193.0)
    at.number_input(key="bracket_sl").set_value(185.0)
    at.button(key="bracket_review").click().run()
    at.button(key="bracket_confirm").click().run()
    _no_errors(at)
    legs = _frame(at, "Leg")
    ids = [str(i) for i in legs["Order id"]]
    oid = int(ids[0])
    at.selectbox(key="orders_pick").set_value(oid).run()
    at.number_input(key=f"orders_qty_{oid}").set_value(3.0)
    at.button(key=f"orders_modify_{oid}").click().run()
    _no_errors(at)
    at.button(key="orders_modify_confirm").click().run()
    _no_errors(at)
    book = {str(o["orderId"]): o for o in page.admin.state()["orders"]}
    assert [float(book[i]["totalSize"]) for i in ids] == [3.0, 3.0, 3.0]
    toast = " ".join(str(t.value) for t in at.toast)
    assert "kept consistent" in toast and ".tp" in toast and ".sl" in toast
