"""Issue 11: what a person reads on the page — the table display (money with currency, %, grouped
volume, every digit of a price, empty cells instead of None/nan), singular/plural units, local fill
times, the pacing wait said in words, the watchlist's contract forms and the option chain rows."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from axion_broker_ibkr import models as m
from axion_broker_ibkr.dashboard import tables, vm_market, vm_trading


def _display(frame: pd.DataFrame) -> list[list[str]]:
    """The display text of every cell, as the page's Styler renders them."""
    rendered = tables.styled(frame)._translate(False, False)  # what Streamlit reads for display
    return [[cell["display_value"] for cell in row[1:]] for row in rendered["body"]]


def test_tables_show_money_with_currency_percent_volume_and_no_none_cells() -> None:
    frame = pd.DataFrame(
        [
            {"Symbol": "AAPL", "Market value": 1234567.891, "Unrealized P&L": -12.5, "Currency": "USD",
             "Change %": 1.234, "Volume": 12345678.0, "Price": 185.12, "Quantity": 25000.0},
            {"Symbol": "SAP", "Market value": None, "Unrealized P&L": 3.0, "Currency": "EUR",
             "Change %": None, "Volume": None, "Price": 5850.25, "Quantity": 1.0},
        ]
    )  # fmt: skip
    cells = _display(frame)
    assert cells[0] == [
        "AAPL",
        "1,234,567.89 USD",
        "-12.50 USD",
        "USD",
        "+1.23%",
        "12,345,678",
        "185.12",
        "25,000",
    ]
    assert cells[1] == ["SAP", "—", "3.00 EUR", "EUR", "—", "—", "5,850.25", "1"]
    assert not any(c in {"None", "nan", "NaN"} for row in cells for c in row)
    styles = tables.styled(frame)._compute().ctx
    pnl = list(frame.columns).index("Unrealized P&L")
    assert ("color", "#d62728") in styles[(0, pnl)] and ("color", "#06982d") in styles[(1, pnl)]


def test_price_text_keeps_every_digit() -> None:
    assert tables.price_text(185.12) == "185.12"
    assert tables.price_text(5850.3) == "5,850.30"
    assert tables.price_text(1.08525) == "1.08525"
    assert tables.price_text(float("nan")) == "—" and tables.price_text(None) == "—"
    assert tables.grouped_text(0.5) == "0.5"


def test_units_are_singular_and_plural() -> None:
    rows = vm_trading.live_order_rows(
        [m.Order(order_id=1, sec_type="STK", ticker="AAPL", total_size=1.0),
         m.Order(order_id=2, sec_type="STK", ticker="AAPL", total_size=3.0),
         m.Order(order_id=3, sec_type="CASH", ticker="EUR.USD", total_size=25000.0),
         m.Order(order_id=4, sec_type="FUT", ticker="ES", total_size=1.0)]
    )  # fmt: skip
    assert {r["Order id"]: r["Unit"] for r in rows} == {1: "share", 2: "shares", 3: "EUR", 4: "contract"}


def test_fill_time_is_a_local_date_time() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1), "CET")
    ms = int(dt.datetime(2026, 12, 3, 13, 5, 7, tzinfo=dt.UTC).timestamp() * 1000)
    assert vm_trading.fill_time(m.Trade(trade_time_r=ms), berlin) == "2026-12-03 14:05:07 CET"
    assert vm_trading.fill_time(m.Trade(trade_time="20261203-13:05:07"), berlin) == "2026-12-03 14:05:07 CET"
    assert vm_trading.fill_time(m.Trade(trade_time=None)) == ""
    row = vm_trading.fill_rows([m.Trade(trade_time_r=ms, symbol="AAPL", sec_type="STK", size=1.0)])[0]
    assert row["Time"].startswith("2026-12-03") and row["Unit"] == "share"


def test_pacing_wait_in_words() -> None:
    assert (
        vm_trading.pacing_text("live-orders", 5.0, 2.3)
        == "IBKR allows one live-orders request per 5 s; 3 s left"
    )
    assert vm_trading.pacing_text("trades", 5.0, 0.2).endswith("1 s left")


def test_ticket_quote_cells() -> None:
    q = m.Quote(conid=1, bid=185.12, ask=185.14, last=185.13, fields={"31": "185.13"})
    cells = vm_trading.ticket_quote(q)
    assert (cells["bid"], cells["ask"], cells["last"], cells["spread"]) == (
        "185.12",
        "185.14",
        "185.13",
        "0.02",
    )
    assert vm_trading.ticket_quote(None)["bid"] == "—"
    assert (
        "previous close"
        in vm_trading.ticket_quote(m.Quote(conid=1, last=1.0, last_is_close=True, fields={"31": "C1"}))[
            "note"
        ]
    )


def test_watchlist_takes_options_futures_and_bonds_by_their_terms() -> None:
    items = vm_market.parse_watchlist(
        "AAPL, aapl 2027-01-15 185 p, ES Dec 2026, ES 202703, IBM 3.3% 2029-05-15, IBM 3.3 05/15/29, ES:FUT"
    )
    got = [(i.label, i.sec_type, i.symbol, dict(i.details)) for i in items]
    assert got == [
        ("AAPL", "STK", "AAPL", {}),
        ("AAPL 2027-01-15 185 P", "OPT", "AAPL", {"expiry": "20270115", "right": "P", "strike": 185.0}),
        ("ES Dec 2026", "FUT", "ES", {"expiry": "202612"}),
        ("ES Mar 2027", "FUT", "ES", {"expiry": "202703"}),
        ("IBM 3.3% 2029-05-15", "BOND", "IBM", {"coupon": 3.3, "maturity": "20290515"}),
        ("IBM 3.3 05/15/29", "BOND", "IBM 3.3 05/15/29", {}),
        ("ES (FUT)", "FUT", "ES", {}),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [("AAPL 2027-02-30 185 P", "not a date"), ("AAPL:OPT", "needs its terms"), ("ES 202613", "month 13")],
)
def test_watchlist_refuses_impossible_entries(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        vm_market.parse_watchlist(text)


def test_chain_rows_put_calls_and_puts_of_one_expiry_around_the_strike() -> None:
    infos = [
        m.SecdefInfo(conid=100 + i * 2 + (r == "P"), strike=float(s), right=r, maturity_date=exp)
        for i, s in enumerate(range(170, 200, 5))
        for r in ("C", "P")
        for exp in ("20270115",)
    ] + [m.SecdefInfo(conid=999, strike=185.0, right="C", maturity_date="20270122")]
    quotes = {100 + 3 * 2: m.Quote(conid=106, bid=1.5, ask=1.6, last=1.55, fields={"7633": "23.4%"})}
    rows = vm_trading.chain_rows(infos, quotes, "20270115", center=185.0, width=1)
    assert [r["Strike"] for r in rows] == [180.0, 185.0, 190.0]
    mid = rows[1]
    assert (mid["Call bid"], mid["Call ask"], mid["Call last"], mid["Call IV %"]) == (1.5, 1.6, 1.55, 23.4)
    assert mid["Put bid"] is None and math.isclose(mid["Strike"], 185.0)
    assert 999 not in vm_trading.chain_conids(infos, rows, "20270115")
    assert sorted(vm_trading.chain_conids(infos, rows, "20270115")) == [104, 105, 106, 107, 108, 109]
    cells = _display(pd.DataFrame(rows))
    assert cells[1][:4] == ["1.50", "1.60", "1.55", "23.40%"] and cells[1][5] == "—"


def test_contracts_named_in_full_in_live_orders() -> None:
    orders = [
        m.Order(order_id=1, sec_type="OPT", ticker="AAPL", description2="JAN 15 '27 185 Put"),
        m.Order(order_id=2, sec_type="FUT", ticker="ES", description2="DEC 18 '26"),
        m.Order(order_id=3, sec_type="BOND", ticker="IBM", description2="IBM 3.3 05/15/29"),
    ]
    names = [vm_trading.order_name(o) for o in orders]
    assert names == ["AAPL 2027-01-15 185 P", "ES Dec 2026", "IBM 3.3% 2029-05-15"]


def test_cash_rows_label_rows_and_base_columns_carry_no_row_currency() -> None:
    frame = pd.DataFrame(
        [
            {"Currency": "EUR", "Cash": 25000.0, "Cash in base": 27293.75, "Avg cost": 306.6909091},
            {"Currency": "Total (base)", "Cash": 1027293.75, "Cash in base": 1027293.75, "Avg cost": 1.0},
        ]
    )
    cells = _display(frame)
    assert cells[0] == ["EUR", "25,000.00 EUR", "27,293.75", "306.6909"]
    assert cells[1] == ["Total (base)", "1,027,293.75", "1,027,293.75", "1.00"]


def _paced_script() -> None:
    import time as _time

    import streamlit as st

    from axion_broker_ibkr.dashboard import live
    from axion_broker_ibkr.drivers.pacing import Pacer

    class Client:
        pacer = Pacer()

    class Session:
        client = Client()

    said: list[str] = []
    real = st.spinner  # live.py's st is this module

    def spinner(text: str = "", **kwargs: object) -> object:
        said.append(text)
        return real(text)

    setattr(st, "spinner", spinner)  # noqa: B010
    try:
        calls = []
        for _ in range(2):  # the second call comes 0 s after the first: IBKR's 5 s rule holds it back
            live.paced(Session(), "orders:live", lambda: calls.append(_time.monotonic()) or [], 0.0, 1.2)  # type: ignore[arg-type, func-returns-value]
    finally:
        setattr(st, "spinner", real)  # noqa: B010
    st.write("said: " + " | ".join(said))
    st.write(f"gap {calls[1] - calls[0]:.2f}")


def test_a_paced_request_runs_under_a_spinner_that_names_the_wait() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_paced_script, default_timeout=30).run()
    assert not at.exception, at.exception
    texts = [str(m.value) for m in at.markdown]
    assert any("IBKR allows one live-orders request per 5 s; 2 s left" in t for t in texts), texts
    gap = float(next(t for t in texts if t.startswith("gap")).split()[1])
    assert gap >= 1.1  # the page waited its margin over the rule before the second request


def test_names_from_the_contract_definition_win_over_ibkrs_text() -> None:
    order = m.Order(order_id=7, conid=42, sec_type="FUT", ticker="ES", description2="DEC 18 '26")
    assert vm_trading.order_name(order) == "ES Dec 2026"
    assert vm_trading.order_name(order, {42: "ES Dec 2026 (ESZ6)"}) == "ES Dec 2026 (ESZ6)"
    assert (
        vm_trading.live_order_rows([order], {42: "ES Dec 2026 (ESZ6)"})[0]["Symbol"] == "ES Dec 2026 (ESZ6)"
    )
    fill = m.Trade(conid=42, sec_type="FUT", symbol="ES", size=1.0)
    assert vm_trading.fill_rows([fill], {42: "ES Dec 2026 (ESZ6)"})[0]["Symbol"] == "ES Dec 2026 (ESZ6)"


def test_pending_cancel_is_live_but_not_open() -> None:
    pending = m.Order(order_id=1, status="PendingCancel")
    assert vm_trading.is_live(pending) and not vm_trading.is_open(pending)
    assert not vm_trading.is_live(m.Order(order_id=1, status="Cancelled"))
