"""The page's order log follows the adapter's rules and is kept current from the page's stream.

* A database that cannot be opened: the page says so, the send buttons are disabled, and the
  session's client refuses to send (nothing reaches the simulator).
* ``database_url="memory"``: the explicit opt-out; orders are sent and logged in memory.
* Fills seen on the page's stream update the logged order; rows a crash left pending are settled
  when the page's session opens.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.ops.journal import JournalEntry

from .conftest import APP_TIMEOUT, page_env

AAPL = IBKRContract(conid=265598, sec_type="STK", symbol="AAPL")
#: How long the stream gets to deliver a fill (a wait, not an assertion on speed).
STREAM_WAIT = 30.0


def _limit(price: float, qty: float, coid: str) -> dict[str, Any]:
    return {
        "symbol": "AAPL",
        "asset_type": "stock",
        "side": "buy",
        "qty": qty,
        "order_type": "limit",
        "limit_price": price,
        "time_in_force": "day",
        "client_order_id": coid,
    }


def _sim_order_ids(sim: Any) -> set[int]:
    return {int(o["orderId"]) for o in sim.admin.state()["orders"]}


@pytest.fixture
def unopenable_db(tmp_path: Path) -> str:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database directory should be", encoding="utf-8")
    return f"sqlite:///{blocker}/sub/orders.sqlite"


@pytest.fixture
def session_for(dash_sim: Any, tmp_path: Path) -> Iterator[Any]:
    """``open_session`` on the module's simulator with the given database URL (closed afterwards)."""
    from axion_broker_ibkr.dashboard.factory import open_session

    opened: list[Any] = []

    def make(database_url: str) -> Any:
        env = page_env(dash_sim, tmp_path / "unused.sqlite")
        env["AXION_IBKR_DATABASE_URL"] = database_url
        session = open_session(env)
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()


def test_unopenable_database_refuses_every_order(dash_sim: Any, session_for: Any, unopenable_db: str) -> None:
    from axion_broker_ibkr.adapter import StoreUnavailableError

    session = session_for(unopenable_db)
    log = session.order_log
    assert not log.can_send and log.store is None and not log.in_memory
    assert log.error is not None and "not-a-dir" in log.error and "no order is sent" in log.error
    dash_sim.admin.set_price(AAPL.conid, 190.0)
    before = _sim_order_ids(dash_sim)
    with pytest.raises(StoreUnavailableError):
        session.client.place_order(_limit(185.0, 1.0, "DASH-NO-DB"), AAPL)
    assert _sim_order_ids(dash_sim) == before


def test_memory_opt_out_sends_and_logs_in_memory(dash_sim: Any, session_for: Any) -> None:
    session = session_for("memory")
    log = session.order_log
    assert log.can_send and log.in_memory and log.error is None
    dash_sim.admin.set_price(AAPL.conid, 190.0)
    result = session.client.place_order(_limit(185.0, 1.0, "DASH-MEM-1"), AAPL)
    assert result.status == "open"
    logged = log.journal.get("DASH-MEM-1")
    assert logged is not None and logged.order_id == result.order_id
    assert log.entries(limit=50) == [logged]  # what the Trading tab lists
    session.client.cancel_order(result.order_id)


def test_fills_on_the_page_stream_update_the_order_log(
    dash_sim: Any, session_for: Any, tmp_path: Path
) -> None:
    session = session_for(f"sqlite:///{tmp_path / 'followed.sqlite'}")
    journal = session.order_log.store.journal
    dash_sim.admin.set_price(AAPL.conid, 190.0)  # frozen: the limit below rests until filled by hand
    result = session.client.place_order(_limit(185.0, 2.0, "DASH-FOLLOW-1"), AAPL)
    assert result.status == "open"
    assert session.streaming() is not None, session.streaming_error
    dash_sim.admin.fill(result.order_id)
    deadline = time.monotonic() + STREAM_WAIT
    entry = journal.get("DASH-FOLLOW-1")
    while entry is not None and entry.status != "filled" and time.monotonic() < deadline:
        time.sleep(0.1)
        entry = journal.get("DASH-FOLLOW-1")
    assert entry is not None
    assert (entry.status, entry.filled_quantity) == ("filled", 2.0)


def test_opening_the_page_settles_rows_a_crash_left_pending(session_for: Any, tmp_path: Path) -> None:
    from axion_broker_ibkr.store import open_store

    url = f"sqlite:///{tmp_path / 'crashed.sqlite'}"
    store = open_store(url)
    store.journal.record_pending(
        JournalEntry(client_order_id="DASH-NEVER-SENT", account_id="DU1234567", mode="sim", conid=AAPL.conid,
                     symbol="AAPL", sec_type="STK", side="BUY", order_type="LMT", quantity=1, price=185.0)
    )  # fmt: skip
    store.close()
    journal = session_for(url).order_log.store.journal
    settled = journal.get("DASH-NEVER-SENT")
    assert settled is not None and settled.status == "unknown_at_broker"
    assert journal.unsettled() == []


def _script() -> None:
    from axion_broker_ibkr.dashboard.page import render

    render()


def test_page_says_so_and_disables_sending_without_an_order_log(
    page: Any, unopenable_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from axion_broker_ibkr.dashboard.factory import reset_sessions

    monkeypatch.setenv("AXION_IBKR_DATABASE_URL", unopenable_db)
    at = AppTest.from_function(_script, default_timeout=APP_TIMEOUT)
    at.session_state["ibkr_tab"] = "Trading"
    try:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        (blocked,) = [e.value for e in at.error]
        assert blocked.startswith("Orders cannot be sent from this page") and "not-a-dir" in blocked
        at.text_input(key="trade_symbol").set_value("AAPL").run()
        at.button(key="trade_search").click().run()
        at.button(key="trade_use").click().run()
        review = at.button(key="trade_review")
        assert review.disabled
        with pytest.raises(Exception, match="disabled"):
            review.click()
        assert not at.button(key="trade_preview").disabled  # a what-if sends nothing
    finally:
        reset_sessions()


def test_trading_tab_lists_the_in_memory_order_log(page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from axion_broker_ibkr.dashboard.factory import get_session, reset_sessions

    monkeypatch.setenv("AXION_IBKR_DATABASE_URL", "memory")
    page.admin.set_price(AAPL.conid, 190.0)  # frozen: 185 stays inside IBKR's price band and rests
    at = AppTest.from_function(_script, default_timeout=APP_TIMEOUT)
    at.session_state["ibkr_tab"] = "Trading"
    try:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("kept in memory only" in i.value for i in at.info)
        assert "No orders logged yet." in [c.value for c in at.caption]
        at.text_input(key="trade_symbol").set_value("AAPL").run()
        at.button(key="trade_search").click().run()
        at.button(key="trade_use").click().run()
        at.number_input(key="trade_qty").set_value(2.0)
        at.selectbox(key="trade_type").set_value("limit").run()
        at.number_input(key="trade_limit").set_value(185.0)
        at.button(key="trade_review").click().run()
        at.button(key="trade_confirm").click().run()
        assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
        placed = at.success[0].value
        order_id = placed.split()[1]
        logs = [df.value for df in at.dataframe if "Mode" in df.value.columns]
        assert len(logs) == 1, "the in-memory log is listed like the database one"
        (row,) = logs[0].to_dict("records")
        assert (row["Symbol"], row["Side"], row["Quantity"], row["Price"]) == ("AAPL", "BUY", 2.0, 185.0)
        assert (row["Order id"], row["Status"], row["Mode"]) == (order_id, "Open", "sim")
        assert row["cOID"] in placed and row["Account"] == "DU***567"
        get_session().client.cancel_order(order_id)
    finally:
        reset_sessions()
