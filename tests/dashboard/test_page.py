"""The page, tab by tab, under ``streamlit.testing.v1.AppTest`` against a live simulator.

Each test drives the page the way a trader does (widgets by ``key``) and checks what the page
shows: banner, figures, the order it placed in live orders, option chains, forex and futures
quotes, and the Gateway tab after the session was dropped through the simulator's admin path.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from .conftest import APP_TIMEOUT


def _script() -> None:
    from axion_broker_ibkr.dashboard.page import render

    render()


def _app(tab: str | None = None) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=APP_TIMEOUT)
    if tab is not None:
        at.session_state["ibkr_tab"] = tab
    return at.run()


def _texts(at: AppTest) -> str:
    parts: list[str] = []
    for kind in ("error", "warning", "info", "success", "markdown", "caption"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    return "\n".join(parts)


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _frame(at: AppTest, column: str) -> Any:
    """The first table showing ``column`` (each table of the page has a column of its own)."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(
        f"no table with column {column!r}; have {[list(d.value.columns) for d in at.dataframe]}"
    )


def _order_store() -> Any:
    """The page's order log (the database the page environment names); the caller closes it."""
    from axion_broker_ibkr.store import open_store

    return open_store()


def test_account_tab_shows_banner_figures_cash_and_positions(page: Any) -> None:
    at = _app()
    _no_errors(at)
    banner = at.warning[0].value
    assert "SIMULATOR" in banner
    assert "DU***567" in banner
    assert "DU1234567" not in _texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Net liquidation"].endswith("USD")
    assert metrics["Buying power"] != "—"
    cash = _frame(at, "Rate to base")
    assert {"USD", "EUR", "Total (base)"} <= set(cash["Currency"])
    eur = cash[cash["Currency"] == "EUR"].iloc[0]
    assert eur["Rate to base"] > 0
    assert eur["Cash in base"] == pytest.approx(eur["Cash"] * eur["Rate to base"])
    positions = _frame(at, "Avg cost")
    assert {"TSLA", "META"} <= set(positions["Symbol"])
    assert (positions["Unrealized P&L"] != "—").all()  # a missing value would be shown as a dash


AAPL_CONID = 265598


def _aapl_ticket(limit: float, qty: float = 3.0) -> AppTest:
    """Trading tab with AAPL picked and a limit ticket filled in (not sent)."""
    at = _app("Trading")
    _no_errors(at)
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    at.button(key="trade_search").click().run()
    _no_errors(at)
    assert any("AAPL" in o for o in at.selectbox(key="trade_candidate").options)
    at.button(key="trade_use").click().run()
    assert f"AAPL (STK, conid {AAPL_CONID})" in _texts(at)
    at.number_input(key="trade_qty").set_value(qty)
    at.selectbox(key="trade_type").set_value("limit").run()
    at.number_input(key="trade_limit").set_value(limit)
    return at


def test_trading_tab_places_lists_and_cancels_an_order(page: Any) -> None:
    page.admin.set_price(AAPL_CONID, 190.0)  # frozen: 185 stays inside IBKR's 3 % price band
    at = _aapl_ticket(185.0)
    at.button(key="trade_preview").click().run()
    _no_errors(at)
    assert {m.label for m in at.metric} >= {"Amount", "Commission", "Total"}
    # Nothing is sent until the trader confirms.
    at.button(key="trade_review").click().run()
    _no_errors(at)
    assert "Confirm order:" in _texts(at)
    assert "BUY 3 shares AAPL LIMIT 185.00 DAY" in _texts(at)
    at.button(key="trade_confirm").click().run()
    _no_errors(at)
    placed = at.success[0].value
    assert "open" in placed
    orders = _frame(at, "Remaining")
    row = orders[orders["Symbol"] == "AAPL"].iloc[0]
    assert row["Quantity"] == 3
    assert row["Status"] in {"Submitted", "PreSubmitted"}
    oid = int(row["Order id"])
    at.selectbox(key="orders_pick").set_value(oid).run()
    at.number_input(key=f"orders_qty_{oid}").set_value(4.0)
    at.number_input(key=f"orders_price_{oid}").set_value(186.0)
    at.button(key=f"orders_modify_{oid}").click().run()
    _no_errors(at)
    assert "Quantity: 4 shares" in _texts(at)  # confirmed like a new order
    assert "Limit price: 186.00" in _texts(at)
    at.button(key="orders_modify_confirm").click().run()
    _no_errors(at)
    orders = _frame(at, "Remaining")
    modified = orders[orders["Order id"] == oid].iloc[0]
    assert (modified["Quantity"], modified["Price"]) == (4, 186.0)
    at.button(key=f"orders_cancel_{oid}").click().run()
    _no_errors(at)
    # No refresh button: the table follows the order stream, the cancel says how far it got,
    # and the green banner of the placed order is gone.
    assert "orders_refresh" not in [b.key for b in at.button]
    notice = next(t for t in _texts(at).splitlines() if t.startswith(f"Cancel of order {oid}"))
    assert "PendingCancel" in notice or "Cancelled" in notice
    assert not any("Submitted" in s.value for s in at.success)
    deadline = time.monotonic() + 10
    while "Cancelled" not in notice and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
        notice = next(t for t in _texts(at).splitlines() if t.startswith(f"Cancel of order {oid}"))
    orders = _frame(at, "Remaining")
    assert orders[orders["Order id"] == oid].iloc[0]["Status"] == "Cancelled"
    assert "Cancelled" in notice


# IBKR's questions on the Trading tab (held, answered for the same order): test_question_box.py


def test_futures_ticket_without_operator_is_refused_on_the_page(page: Any) -> None:
    at = _app("Trading")
    at.selectbox(key="trade_sectype").set_value("Future")
    at.text_input(key="trade_symbol").set_value("ES").run()
    at.button(key="trade_search").click().run()
    _no_errors(at)
    candidates = at.selectbox(key="trade_candidate").options
    assert candidates
    assert all(c.startswith("ES ") for c in candidates)
    at.button(key="trade_use").click().run()
    assert "(FUT, conid" in _texts(at)
    at.selectbox(key="trade_type").set_value("market").run()
    at.button(key="trade_review").click().run()
    assert any("futures_operator" in e.value for e in at.error)
    assert "Confirm order:" not in _texts(at)


def test_trading_tab_searches_an_option_chain(page: Any) -> None:
    at = _app("Trading")
    at.selectbox(key="trade_sectype").set_value("Option")
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    _no_errors(at)
    months = at.selectbox(key="trade_opt_month").options
    assert months
    at.radio(key="trade_opt_right").set_value("P").run()
    strikes = at.selectbox(key="trade_opt_strike").options
    assert len(strikes) > 3
    at.selectbox(key="trade_opt_strike").set_value(strikes[len(strikes) // 2]).run()
    _no_errors(at)
    contracts = at.selectbox(key="trade_opt_contract").options
    assert contracts
    assert all("Put" in c for c in contracts)
    at.button(key="trade_opt_use").click().run()
    _no_errors(at)
    assert "(OPT, conid" in _texts(at)


def test_market_tab_shows_forex_and_futures_quotes_and_candles(page: Any) -> None:
    at = _app("Market Data")
    _no_errors(at)
    quotes = _frame(at, "Spread")
    by_name = {row["Instrument"]: row for _, row in quotes.iterrows()}
    # Each entry named in full once resolved: the front-month future by its month and local symbol.
    (es,) = [name for name in by_name if name.startswith("ES ")]
    assert re.fullmatch(r"ES [A-Z][a-z]{2} \d{4} \(ES[FGHJKMNQUVXZ]\d\)", es), es
    assert set(by_name) == {"AAPL", "MSFT", "EUR.USD", es}
    assert 0.5 < by_name["EUR.USD"]["Last"] < 2.0
    assert by_name[es]["Last"] > 1000
    at.selectbox(key="md_hist_symbol").set_value(es)
    at.selectbox(key="md_period").set_value("1m").run()
    at.button(key="md_hist_load").click().run()
    _no_errors(at)
    assert "bars" in _texts(at)


def test_gateway_tab_says_when_the_session_is_dropped(page_on_fresh_sim: Any) -> None:
    at = _app("Gateway")
    _no_errors(at)
    assert "Connected and authenticated." in [s.value for s in at.success]
    rows = _frame(at, "Value")
    last_tickle = rows[rows[""] == "Last tickle"].iloc[0]["Value"]
    assert last_tickle != "never" and "ago" in last_tickle  # the start-up sequence tickled once
    page_on_fresh_sim.admin.drop_brokerage()
    at.button(key="gw_check").click().run()
    assert "brokerage session is not open" in _texts(at)
    at.button(key="gw_reauth").click().run()
    assert "Connected and authenticated." in [s.value for s in at.success]
    page_on_fresh_sim.admin.logout()
    at.button(key="gw_check").click().run()
    text = _texts(at)
    assert "Not logged in" in text
    assert "Log in again" in text


def test_gateway_tab_takes_over_a_competing_session(page_on_fresh_sim: Any) -> None:
    at = _app("Gateway")
    page_on_fresh_sim.admin.competing(True)
    at.button(key="gw_check").click().run()
    assert any("Another platform" in e.value for e in at.error)
    at.button(key="gw_takeover").click().run()
    _no_errors(at)
    assert "Connected and authenticated." in [s.value for s in at.success]


def test_market_tab_says_when_it_falls_back_to_snapshots(
    page_on_fresh_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from axion_broker_ibkr.streaming import SyncStreaming

    def refuse(self: Any, connect_timeout: float | None = 30.0) -> Any:
        raise ConnectionError("websocket refused")

    monkeypatch.setattr(SyncStreaming, "start", refuse)
    at = _app("Market Data")
    _no_errors(at)
    assert "REST snapshots: streaming is not available (ConnectionError: websocket refused)" in _texts(at)
    quotes = _frame(at, "Spread")
    assert (quotes["Last"] != "—").all()  # a missing value would be shown as a dash


async def test_trading_tab_modifies_an_option_order(page: Any) -> None:
    """Issue 10 item 5: the page's modify builds the ticket from the order's own contract (strike,
    right, expiry from IBKR's definition of its conid), so an option order is modified."""
    from axion_broker_ibkr.resolver import AsyncContractResolver
    from tests.client.conftest import sim_client

    client: Any = sim_client("async", page)
    try:
        found = await client.search("AAPL")
        section = next(s for x in found if x.conid == AAPL_CONID for s in x.sections if s.sec_type == "OPT")
        month = (section.months or "").split(";")[0]
        strikes = await client.strikes(AAPL_CONID, month)
        strike = strikes.call[len(strikes.call) // 2]
        infos = await client.secdef_info(AAPL_CONID, "OPT", month=month, strike=strike, right="C")
        details = {"expiry": infos[0].maturity_date, "strike": strike, "right": "C"}
        option = await AsyncContractResolver(client).resolve("AAPL", "options", details)
        quote = (await client.snapshot([option.conid]))[0]
        price = round(float(quote.bid or quote.last) * 0.995, 2)
        order = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit", "limit_price": price,
                 "time_in_force": "day", "asset_type": "options"}  # fmt: skip
        placed = await client.place_order(order, option)
        assert placed.status == "open", placed
    finally:
        await client.close()
    oid = int(placed.order_id or 0)
    at = _app("Trading")
    _no_errors(at)
    at.selectbox(key="orders_pick").set_value(oid).run()
    new_price = round(price - 0.01, 2)  # one tick: inside IBKR's 3 % band
    at.number_input(key=f"orders_price_{oid}").set_value(new_price)
    at.button(key=f"orders_modify_{oid}").click().run()
    _no_errors(at)
    at.button(key="orders_modify_confirm").click().run()
    _no_errors(at)
    at.run()  # the tables follow the stream: a rerun shows what it said
    orders = _frame(at, "Remaining")
    modified = orders[orders["Order id"] == oid].iloc[0]
    assert modified["Price"] == new_price
    at.button(key=f"orders_cancel_{oid}").click().run()
    _no_errors(at)


def _place_direct(
    sim: Any, conid: int, symbol: str, sec_type: str, asset: str, qty: float, limit: float
) -> int:
    """An order placed outside the page (another client on the same account), as a trader's
    other platform would; the page lists it among the live orders."""
    from axion_broker_ibkr.models import IBKRContract

    from .seed import _client

    contract = IBKRContract(conid=conid, sec_type=sec_type, symbol=symbol, exchange="SMART", currency="USD")
    order = {
        "symbol": symbol,
        "asset_type": asset,
        "side": "buy",
        "qty": qty,
        "order_type": "limit",
        "limit_price": limit,
        "time_in_force": "day",
    }
    with _client(sim.root_url, sim.cert_fingerprint) as client:
        result = client.place_order(order, contract)
    assert result.order_id is not None
    return int(result.order_id)


def test_modify_panel_takes_every_field_from_the_order_now_picked(page: Any) -> None:
    from .seed import multi_asset_conids

    conids = multi_asset_conids(page.root_url, page.cert_fingerprint)
    page.admin.set_price(conids["forex"], 1.08)
    page.admin.set_price(conids["bond"], 98.0)
    fx_id = _place_direct(page, conids["forex"], "EUR.USD", "CASH", "forex", 25_000, 1.079)
    bond_id = _place_direct(page, conids["bond"], "IBM", "BOND", "bond", 10_000, 97.5)
    at = _app("Trading")
    _no_errors(at)
    at.selectbox(key="orders_pick").set_value(fx_id).run()
    _no_errors(at)
    assert at.number_input(key=f"orders_qty_{fx_id}").value == 25_000
    assert at.number_input(key=f"orders_price_{fx_id}").value == pytest.approx(1.079)
    assert "25,000 EUR" in _texts(at)
    at.selectbox(key="orders_pick").set_value(bond_id).run()
    _no_errors(at)
    # The bond's own terms, not the EUR.USD order's 25,000 and 1.079.
    assert at.number_input(key=f"orders_qty_{bond_id}").value == 10_000
    assert at.number_input(key=f"orders_price_{bond_id}").value == pytest.approx(97.5)
    assert "10,000 face value" in _texts(at)
    at.number_input(key=f"orders_price_{bond_id}").set_value(97.6)  # only the price changes
    at.button(key=f"orders_modify_{bond_id}").click().run()
    _no_errors(at)
    text = _texts(at)
    assert "Quantity: 10,000 face value" in text and "Limit price: 97.60" in text
    assert "IBM" in text and "25,000" not in text.split("Confirm modify")[-1]
    at.button(key="orders_modify_confirm").click().run()
    _no_errors(at)
    at.run()  # the tables follow the stream: a rerun shows what it said
    orders = _frame(at, "Remaining")
    bond = orders[orders["Order id"] == bond_id].iloc[0]
    assert (bond["Quantity"], bond["Price"]) == (10_000, pytest.approx(97.6))
    fx = orders[orders["Order id"] == fx_id].iloc[0]
    assert (fx["Quantity"], fx["Price"]) == (25_000, pytest.approx(1.079))  # untouched
    for oid in (fx_id, bond_id):
        at.selectbox(key="orders_pick").set_value(oid).run()
        at.button(key=f"orders_cancel_{oid}").click().run()
        _no_errors(at)


def test_confirm_box_shows_the_exact_payload(page: Any) -> None:
    page.admin.set_price(AAPL_CONID, 190.0)
    at = _aapl_ticket(185.12)
    at.button(key="trade_review").click().run()
    _no_errors(at)
    text = _texts(at)
    assert "BUY 3 shares AAPL LIMIT 185.12 DAY" in text  # not cut to 4 digits (185.1)
    for line in (
        "Side: BUY",
        "Quantity: 3 shares",
        f"Contract: AAPL (STK, conid {AAPL_CONID})",
        "Order type: LIMIT (LMT)",
        "Limit price: 185.12",
        "Time in force: DAY",
        "Outside regular hours: no",
        "Account: DU***567",
    ):
        assert line in text, line
    assert "tick rounding" not in text
    assert "DU1234567" not in text
    at.button(key="trade_abort").click().run()
    _no_errors(at)
    assert "Confirm order:" not in _texts(at)


def test_confirm_box_shows_the_tick_rounded_futures_price(page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from .seed import multi_asset_conids

    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "trader-7")
    es = multi_asset_conids(page.root_url, page.cert_fingerprint)["future"]
    page.admin.set_price(es, 5850.0)
    at = _app("Trading")
    at.selectbox(key="trade_sectype").set_value("Future")
    at.text_input(key="trade_symbol").set_value("ES").run()
    at.button(key="trade_search").click().run()
    _no_errors(at)
    at.button(key="trade_use").click().run()
    at.selectbox(key="trade_type").set_value("limit").run()
    at.number_input(key="trade_limit").set_value(5850.30)
    at.button(key="trade_review").click().run()
    _no_errors(at)
    text = _texts(at)
    assert "Limit price: 5,850.25 (tick rounding: 5850.30 -> 5850.25)" in text
    assert "Quantity: 1 contract" in text
    assert "ES " in text and "(ES" in text  # ES Mon YYYY (ESxN), named in full
    at.button(key="trade_abort").click().run()


def test_account_tab_names_positions_in_full_with_a_description(page_on_fresh_sim: Any) -> None:
    from .seed import seed_portfolio

    sim = page_on_fresh_sim
    seed_portfolio(sim.admin, sim.root_url, sim.cert_fingerprint)
    time.sleep(2.0)  # the seeding's lookups used this simulator's unscaled 10 requests/s
    at = _app()
    _no_errors(at)
    positions = _frame(at, "Avg cost")
    by_asset = {row["Asset"]: (row["Symbol"], row["Description"]) for _, row in positions.iterrows()}
    names = {symbol for symbol, _ in by_asset.values()}
    assert any(n.startswith("ES ") and n[3:6] in {"Mar", "Jun", "Sep", "Dec"} for n in names), names
    assert any(n.startswith("AAPL 20") and n.endswith(" C") for n in names), names  # AAPL yyyy-mm-dd K C
    assert "IBM 3.3% 2029-05-15 (459200JZ5)" in names  # the CUSIP from IBKR's contract info
    for symbol, description in by_asset.values():
        assert description != symbol  # a description, not the symbol twice


def test_account_tab_works_after_an_sso_relogin_without_any_user_action(page_on_fresh_sim: Any) -> None:
    # Issue 12 item 2: the page's client runs IBKR's start-up sequence again by itself; the trader
    # never sees "Please query /portfolio/accounts first" and never has to press Re-authenticate.
    first = _app()
    _no_errors(first)
    assert {m.label for m in first.metric} >= {"Net liquidation", "Buying power"}
    page_on_fresh_sim.admin.logout()
    page_on_fresh_sim.admin.login()
    at = _app()  # the same page session (its client and stream), a fresh view of the tab
    _no_errors(at)
    text = _texts(at)
    assert "query" not in text.lower(), text
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Net liquidation"].endswith("USD")
