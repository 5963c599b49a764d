"""Issue 11 on the page (AppTest against the module's simulator): the ticket's quote, the option
chain's quotes per strike, a watchlist of an option, a future and a bond, a modify previewed with a
what-if, contracts named in full in live orders, and the Account tab following the P&L stream."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from .conftest import RATE_SCALE, _point_page_at
from .test_page import AAPL_CONID, _aapl_ticket, _app, _frame, _no_errors, _place_direct, _texts


@pytest.fixture
def page(dash_sim: Any, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """This module's own order log: the module's simulator numbers its orders from 1800000001
    again, so a log shared with another module's simulator would hold two rows per order id."""
    _point_page_at(
        dash_sim, tmp_path_factory.getbasetemp() / "dashboard-live.sqlite", monkeypatch, RATE_SCALE
    )
    return dash_sim


def test_ticket_shows_bid_ask_last_of_the_picked_contract(page: Any) -> None:
    page.admin.set_price(AAPL_CONID, 190.0)
    at = _aapl_ticket(185.0)
    _no_errors(at)
    metrics = {mt.label: mt.value for mt in at.metric}
    assert {"Bid", "Ask", "Last", "Spread"} <= set(metrics)
    assert float(metrics["Last"].replace(",", "")) == pytest.approx(190.0, rel=0.05)
    assert float(metrics["Bid"].replace(",", "")) <= float(metrics["Ask"].replace(",", ""))


def test_option_chain_shows_quotes_per_strike_of_the_picked_expiry(page: Any) -> None:
    at = _app("Trading")
    at.selectbox(key="trade_sectype").set_value("Option")
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    strikes = at.selectbox(key="trade_opt_strike").options
    at.selectbox(key="trade_opt_strike").set_value(strikes[len(strikes) // 2]).run()
    _no_errors(at)
    chain = _frame(at, "Call bid")
    assert {"Call bid", "Call ask", "Call last", "Call IV %", "Strike", "Put bid", "Put last"} <= set(
        chain.columns
    )
    assert len(chain) >= 3
    assert chain["Strike"].is_monotonic_increasing
    assert (chain["Call last"] != "—").any() and (chain["Put bid"] != "—").any()  # "—": IBKR sent none
    assert "Option chain · expiry" in _texts(at)


def _terms(page: Any) -> tuple[str, str, str]:
    """Watchlist entries for the simulator's AAPL option, ES front month and IBM bond."""
    from .seed import _client, multi_asset_conids

    conids = multi_asset_conids(page.root_url, page.cert_fingerprint)
    with _client(page.root_url, page.cert_fingerprint) as client:
        opt = client.order_contract(conids["option"])
        fut = client.order_contract(conids["future"])
    e = str(opt.expiry)
    option = f"AAPL {e[:4]}-{e[4:6]}-{e[6:8]} {opt.strike:g} {opt.right}"
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    f = str(fut.expiry)
    future = f"ES {months[int(f[4:6]) - 1]} {f[:4]}"
    return option, future, "IBM 3.3% 2029-05-15"


def test_watchlist_quotes_an_option_a_future_and_a_bond(page: Any) -> None:
    option, future, bond = _terms(page)
    at = _app("Market Data")
    at.text_input(key="md_watchlist").set_value(f"AAPL, {option}, {future}, {bond}").run()
    _no_errors(at)
    assert not [w.value for w in at.warning if "SIMULATOR" not in w.value]  # each entry resolved
    quotes = _frame(at, "Spread")
    # Named in full once resolved: the future with its local symbol, the bond with its CUSIP.
    names = list(quotes["Instrument"])
    assert names[:2] == ["AAPL", option]
    assert re.fullmatch(re.escape(future) + r" \(ES[FGHJKMNQUVXZ]\d\)", names[2]), names[2]
    assert names[3] == f"{bond} (459200JZ5)"
    deadline = time.monotonic() + 10
    while (quotes["Last"] == "—").any() and time.monotonic() < deadline:  # "—": no data yet
        time.sleep(0.5)
        at.run()
        quotes = _frame(at, "Spread")
    assert (quotes["Last"] != "—").all()
    assert quotes["Last"].map(lambda v: isinstance(v, float)).all()


def test_modify_previews_a_whatif_and_live_orders_name_contracts_in_full(page: Any) -> None:
    from .seed import multi_asset_conids

    conids = multi_asset_conids(page.root_url, page.cert_fingerprint)
    page.admin.set_price(conids["bond"], 98.0)
    bond_id = _place_direct(page, conids["bond"], "IBM", "BOND", "bond", 10_000, 97.5)
    at = _app("Trading")
    _no_errors(at)
    orders = _frame(at, "Remaining")
    assert "IBM 3.3% 2029-05-15 (459200JZ5)" in set(orders["Symbol"])  # with the bond's CUSIP
    at.selectbox(key="orders_pick").set_value(bond_id).run()
    at.number_input(key=f"orders_price_{bond_id}").set_value(97.4)
    at.button(key=f"orders_modify_{bond_id}").click().run()
    _no_errors(at)
    assert f"Confirm modify of order {bond_id}:" in _texts(at)
    assert {"Amount", "Commission", "Total"} <= {mt.label for mt in at.metric}  # the what-if
    at.button(key="orders_modify_abort").click().run()
    at.button(key=f"orders_cancel_{bond_id}").click().run()
    _no_errors(at)


def test_account_tab_follows_the_pnl_stream(page: Any) -> None:
    at = _app()
    _no_errors(at)
    deadline = time.monotonic() + 10
    while "Live from IBKR's P&L stream." not in _texts(at) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert "Live from IBKR's P&L stream." in _texts(at)
    assert _frame(at, "Daily P&L")["Account"].str.contains(r"\*\*\*").all()


def test_without_a_stream_the_tabs_fall_back_to_paced_rest(
    page_on_fresh_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from axion_broker_ibkr.streaming import SyncStreaming

    def refuse(self: Any, connect_timeout: float | None = 30.0) -> Any:
        raise ConnectionError("websocket refused")

    monkeypatch.setattr(SyncStreaming, "start", refuse)
    at = _app("Trading")
    _no_errors(at)
    assert "REST snapshot: streaming is not available (ConnectionError: websocket refused)" in _texts(at)
    assert "orders_refresh" in [b.key for b in at.button]  # without the stream the trader refreshes
    at.button(key="orders_refresh").click().run()
    _no_errors(at)
    at = _app()
    _no_errors(at)
    assert "REST snapshot." in _texts(at)  # the P&L table, from REST
    assert _frame(at, "Daily P&L")["Account"].str.contains(r"\*\*\*").all()


def test_order_log_names_an_option_in_full(page: Any) -> None:
    at = _app("Trading")
    at.selectbox(key="trade_sectype").set_value("Option")
    at.text_input(key="trade_symbol").set_value("AAPL").run()
    strikes = at.selectbox(key="trade_opt_strike").options
    at.selectbox(key="trade_opt_strike").set_value(strikes[len(strikes) // 2]).run()
    at.button(key="trade_opt_use").click().run()
    _no_errors(at)
    bid = float(next(mt.value for mt in at.metric if mt.label == "Bid").replace(",", ""))
    at.selectbox(key="trade_type").set_value("limit").run()
    at.number_input(key="trade_limit").set_value(round(bid * 0.99, 2))
    at.button(key="trade_review").click().run()
    at.button(key="trade_confirm").click().run()
    _no_errors(at)
    placed = at.success[0].value
    oid = int(placed.split()[1])
    log = _frame(at, "Mode")
    name = log.iloc[0]["Symbol"]
    assert name.startswith("AAPL 20") and name[-1] in "CP" and len(name.split()) == 4, name
    orders = _frame(at, "Remaining")
    assert orders[orders["Order id"] == oid].iloc[0]["Symbol"] == name  # the same name in both tables
    at.selectbox(key="orders_pick").set_value(oid).run()
    at.button(key=f"orders_cancel_{oid}").click().run()
    _no_errors(at)
