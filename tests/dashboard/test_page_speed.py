"""Issue 11, items 2, 3 and 7 on the page: background refreshes leave the request budget to the
trader; a future and a bond named in full (CUSIP) wherever they appear; the Gateway tab's headline
in OAuth mode; a bracket's banner belongs to its contract; IBKR's Midprice order on the ticket."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr import models as m
from axion_broker_ibkr.dashboard import live, vm_gateway, vm_market, vm_trading
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.naming import describe_contract

from .conftest import RATE_SCALE, _point_page_at
from .test_page import AAPL_CONID, _aapl_ticket, _app, _no_errors, _texts


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Session:
    """What :func:`live.spare` reads of a page session: its client's pacer."""

    def __init__(self, pacer: Pacer) -> None:
        self.client = type("Client", (), {"pacer": pacer})()


def test_background_refreshes_leave_the_budgets_burst_to_the_trader() -> None:
    clock = _Clock()
    pacer = Pacer(50, clock=clock)  # a burst of 8
    session: Any = _Session(pacer)
    assert live.spare(session)
    for _ in range(8 - live.TRADER_RESERVE):
        pacer.reserve("GET", "/portfolio/DU1/positions/0")
    # Four requests of burst left: a background refresh waits; a trader's preview goes at once.
    assert pacer.headroom() == live.TRADER_RESERVE
    assert not live.spare(session)
    assert [pacer.reserve("POST", "/iserver/account/DU1/orders/whatif") for _ in range(3)] == [0.0] * 3
    clock.now += 60 / 50 * 1.02 * 4  # the budget refilled: background refreshes may run again
    assert live.spare(session)


def test_with_a_burst_of_one_a_background_refresh_needs_the_free_slot() -> None:
    clock = _Clock()
    pacer = Pacer(600, clock=clock)  # 10/s: no burst at all
    session: Any = _Session(pacer)
    assert live.spare(session)
    pacer.reserve("GET", "/iserver/accounts")
    assert not live.spare(session)
    clock.now += 0.2
    assert live.spare(session)


def _refresh_script() -> None:
    import streamlit as st

    from axion_broker_ibkr.dashboard import live
    from axion_broker_ibkr.drivers.pacing import Pacer

    clock = st.session_state.setdefault("clock", [1000.0])
    pacer = st.session_state.setdefault("pacer", Pacer(50, clock=lambda: clock[0]))
    session = type("S", (), {"client": type("C", (), {"pacer": pacer})()})()
    calls = st.session_state.setdefault("calls", [])

    def load() -> int:
        pacer.reserve("GET", "/portfolio/DU1/positions/0")
        calls.append(clock[0])
        return len(calls)

    # ttl 0: every run finds the value stale (the page cache runs on the real clock).
    patience = st.session_state.get("patience", 30.0)
    st.write(f"value {live.refresh(session, 'acct:positions', load, 0.0, patience=patience)}")
    if st.session_state.pop("drain", False):
        for _ in range(6):
            pacer.reserve("POST", "/iserver/account/DU1/orders/whatif")


def test_a_background_refresh_keeps_its_last_value_while_the_budget_is_short() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_refresh_script).run()
    assert at.markdown[0].value == "value 1"  # the first read always happens
    at.session_state["drain"] = True
    at.run()  # a refresh with the burst free, then the trader's actions take most of it
    assert at.markdown[0].value == "value 2"
    at.run()
    assert at.markdown[0].value == "value 2"  # kept: no request queued behind the trader's
    at.session_state["clock"][0] += 8.0  # refilled enough
    at.run()
    assert at.markdown[0].value == "value 3"
    at.session_state["drain"] = True
    at.run()
    at.session_state["patience"] = 0.0  # beyond its patience the value is read anyway
    at.run()
    assert at.markdown[0].value == "value 5"


def test_a_resolved_future_is_named_in_full_in_the_watchlist() -> None:
    (item,) = vm_market.parse_watchlist("ES:FUT")
    assert item.label == "ES (FUT)"  # before it is resolved
    fut = m.IBKRContract(conid=7, sec_type="FUT", symbol="ES", expiry="20261218", local_symbol="ESZ6")
    assert vm_market.watch_label(item, fut) == "ES Dec 2026 (ESZ6)"
    (pair,) = vm_market.parse_watchlist("EUR.USD")
    cash = m.IBKRContract(conid=8, sec_type="CASH", symbol="EUR.USD", currency="USD", local_symbol="EUR.USD")
    assert vm_market.watch_label(pair, cash) == "EUR.USD"


def test_a_bond_is_named_by_its_ticker_with_the_cusip_when_known() -> None:
    resolved = m.IBKRContract(  # as the resolver builds it: IBKR's description as the local symbol
        conid=9, sec_type="BOND", symbol="IBM", issuer="International Business Machines Corp",
        coupon=3.3, maturity="20290515", local_symbol="IBM 3.3 05/15/29", cusip="459200JZ5",
    )  # fmt: skip
    assert describe_contract(resolved) == "IBM 3.3% 2029-05-15 (459200JZ5)"
    unknown = m.IBKRContract(
        conid=9,
        sec_type="BOND",
        symbol="IBM",
        coupon=3.3,
        maturity="20290515",
        local_symbol="IBM 3.3 05/15/29",
    )
    assert describe_contract(unknown) == "IBM 3.3% 2029-05-15"  # the description is no CUSIP
    by_id = {"sec_type": "BOND", "coupon": 3.3, "maturity": "20290515", "issuer": "e1400789"}
    assert describe_contract(by_id) == "3.3% 2029-05-15"  # IBKR's issuer id is no name


def _oauth(**changes: Any) -> m.GatewayStatus:
    base: dict[str, Any] = {"mode": "oauth", "url": "https://api.ibkr.com/v1/api", "reachable": True}
    base.update(changes)
    return m.GatewayStatus(**base)


def test_the_oauth_headline_says_what_is_wrong_with_the_session_not_to_log_in_in_a_browser() -> None:
    level, text = vm_gateway.health_state(
        _oauth(message="IBKR refused the live session token: invalid consumer")
    )
    assert level == "error"
    assert "browser" not in text.replace("no browser login", "")
    assert text.startswith("The OAuth session is not open")
    assert "invalid consumer" in text and "consumer key" in text
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).timestamp()
    level, text = vm_gateway.health_state(_oauth(oauth_token_expires_at=past))
    assert level == "error" and "live session token expired at" in text
    level, text = vm_gateway.health_state(_oauth(reachable=False, message="connection refused"))
    assert text.startswith(
        "IBKR's Web API at https://api.ibkr.com/v1/api does not answer: connection refused"
    )
    assert "axion-ibkr sim" not in text
    ok = _oauth(sso_session=True, connected=True, authenticated=True)
    assert vm_gateway.health_state(ok) == ("success", "Connected and authenticated.")
    # The gateway's own wording is unchanged.
    level, text = vm_gateway.health_state(
        m.GatewayStatus(mode="gateway", url="https://localhost:5000", reachable=True)
    )
    assert "Log in through the browser" in text


def test_midprice_is_offered_where_the_contracts_rules_list_it() -> None:
    ibkr = ["limit", "market", "stop", "stop_limit", "midprice", "trailing_stop"]
    assert vm_trading.order_types_for("STK", ibkr) == ["limit", "market", "stop", "stop_limit", "midprice"]
    assert "midprice" not in vm_trading.order_types_for("STK", ["limit", "market"])
    assert "midprice" in vm_trading.order_types_for("STK")  # no rules read: the plugin's table
    assert "midprice" not in vm_trading.order_types_for("FUT", ibkr)  # an equity order type
    assert vm_trading.order_types_for("BOND") == ["limit", "market"]
    assert vm_trading.price_label("midprice") == "Price cap (midprice)"


def test_a_midprice_order_previews_and_sends_through_the_same_confirm(page: Any) -> None:
    page.admin.set_price(AAPL_CONID, 190.0)
    at = _aapl_ticket(189.0, qty=2.0)
    assert "midprice" in at.selectbox(key="trade_type").options  # the simulator's rules list it for a stock
    at.selectbox(key="trade_type").set_value("midprice").run()
    assert at.number_input(key="trade_limit").label == "Price cap (midprice)"
    at.number_input(key="trade_limit").set_value(189.0)
    at.button(key="trade_preview").click().run()
    _no_errors(at)
    assert {m.label for m in at.metric} >= {"Amount", "Commission", "Total"}
    at.button(key="trade_review").click().run()
    _no_errors(at)
    texts = _texts(at)
    assert "Confirm order:" in texts and "MIDPRICE" in texts.upper()
    at.button(key="trade_confirm").click().run()
    _no_errors(at)
    placed = [s.value for s in at.success if str(s.value).startswith("Order ")]
    assert placed, _texts(at)
    oid = str(placed[0]).split()[1]
    from .seed import _client

    with _client(page.root_url, page.cert_fingerprint) as client:
        order = next(o for o in client.live_orders(force=True) if str(o.order_id) == oid)
        assert (order.order_type or "").upper() == "MIDPRICE"
        client.cancel_order(oid)


@pytest.fixture
def own_log_page(dash_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from axion_broker_ibkr.dashboard.factory import reset_sessions

    _point_page_at(dash_sim, tmp_path / "speed-orders.sqlite", monkeypatch, RATE_SCALE)
    yield dash_sim
    reset_sessions()


def _pick(at: Any, symbol: str) -> Any:
    """Search ``symbol`` on the Trading tab and use its first candidate."""
    at.text_input(key="trade_symbol").set_value(symbol).run()
    at.button(key="trade_search").click().run()
    return at.button(key="trade_use").click().run()


def test_a_brackets_banner_goes_when_another_contract_is_picked(own_log_page: Any) -> None:
    page = own_log_page
    page.admin.set_price(AAPL_CONID, 190.0)
    at = _pick(_app("Trading"), "AAPL")
    legs = {"bracket_qty": 1.0, "bracket_entry": 188.0, "bracket_tp": 193.0, "bracket_sl": 185.0}
    for key, value in legs.items():
        at.number_input(key=key).set_value(value)
    for button in ("bracket_review", "bracket_confirm"):
        at.button(key=button).click().run()
    _no_errors(at)
    banner = [s.value for s in at.success if "placed" in str(s.value)]
    assert banner and str(banner[0]).startswith("Bracket ")
    _pick(at, "MSFT")
    _no_errors(at)
    assert "MSFT (STK" in _texts(at)
    assert not [s.value for s in at.success if "placed" in str(s.value)]  # AAPL's bracket is not MSFT's
    _pick(at, "AAPL")  # and it does not come back
    assert not [s.value for s in at.success if "placed" in str(s.value)]
    from .seed import _client

    with _client(page.root_url, page.cert_fingerprint) as client:
        for order in client.live_orders(force=True):
            if order.order_id is not None and vm_trading.is_cancellable(order):
                client.cancel_order(order.order_id)
