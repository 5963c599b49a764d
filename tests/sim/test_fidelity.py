"""Issue 16 items 4-6: the simulator's answers follow IBKR's documentation and captured responses,
and the client reads them as IBKR means them (tested through the real client over loopback)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from axion_broker_ibkr import convert
from axion_broker_ibkr.sim import SimServer
from axion_broker_ibkr.streaming.state import QuoteBook
from tests.client.conftest import SIM_SCALE, call, kind, sim_client
from tests.sim.conftest import AAPL, EURUSD, client_for

__all__ = ["kind"]  # the client tests' fixture: each client test runs with both clients

SIZE_FIELDS = "31,84,85,86,88,82,83,6070,7221"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(port=0, seed=9, rate_scale=SIM_SCALE) as server:
        yield server


@pytest.fixture
def api(sim: SimServer) -> Iterator[httpx.Client]:
    with client_for(sim) as c:
        base = c.base_url
        c.base_url = httpx.URL(str(base).rstrip("/") + "/")
        c.get("iserver/accounts")
        yield c


def _snapshot(api: httpx.Client, conid: int, fields: str = SIZE_FIELDS) -> dict[str, Any]:
    params = {"conids": str(conid), "fields": fields}
    api.get("iserver/marketdata/snapshot", params=params)
    row: dict[str, Any] = api.get("iserver/marketdata/snapshot", params=params).json()[0]
    return row


# -- item 4: sizes and change fields -----------------------------------------------------------


def test_us_stock_sizes_are_shown_in_lots_of_100(sim: SimServer, api: httpx.Client) -> None:
    sim.admin.pause_market()
    try:
        row = _snapshot(api, AAPL)
        book = sim.state.market.quotes[AAPL]
        assert float(row["88"].replace(",", "")) == book.bid_size / 100
        assert float(row["85"].replace(",", "")) == book.ask_size / 100
        fx = _snapshot(api, EURUSD)
        assert float(fx["88"].replace(",", "")) == sim.state.market.quotes[EURUSD].bid_size  # not a stock
    finally:
        sim.admin.pause_market(False)


def test_change_fields_take_the_captured_forms(sim: SimServer, api: httpx.Client) -> None:
    sim.admin.set_price(AAPL, 200.0)
    row = _snapshot(api, AAPL)
    assert re.fullmatch(r"[+-]?\d+\.\d+", row["82"]) and row["82"][0] in "+-0"
    assert re.fullmatch(r"[+-]?\d+\.\d\d%", row["83"])


async def test_the_clients_quote_carries_shares(kind: str, sim: SimServer) -> None:
    sim.admin.pause_market()
    client = sim_client(kind, sim)
    try:
        quote = None
        for _ in range(5):
            quote = (await call(client.snapshot([AAPL])))[0]
            if quote.bid_size is not None:
                break
        assert quote is not None and quote.size_lot == 100.0
        book = sim.state.market.quotes[AAPL]
        assert (quote.bid_size, quote.ask_size) == (book.bid_size, book.ask_size)
        assert float(quote.fields["88"].replace(",", "")) == book.bid_size / 100  # IBKR's text kept
    finally:
        await call(client.close())
        sim.admin.pause_market(False)


@pytest.mark.parametrize(
    ("row", "bid", "ask", "lot"),
    [
        ({"6070": "STK", "7221": "NASDAQ", "88": "13", "85": "1,300"}, 1300.0, 130000.0, 100.0),
        ({"6070": "STK", "7221": "NASDAQ.NMS", "88": "2.5"}, 250.0, None, 100.0),
        ({"6070": "STK", "7221": "LSE", "88": "13"}, 13.0, None, 1.0),
        ({"6070": "CASH", "88": "1,000,000"}, 1e6, None, 1.0),
        ({"88": "13"}, 13.0, None, None),  # not known to be a US stock: IBKR's number, said so
        ({"6070": "STK", "88": "13"}, 13.0, None, None),
    ],
)
def test_quote_sizes_in_shares(row: dict[str, str], bid: float, ask: float | None, lot: float | None) -> None:
    quote = convert.quote_from_wire({"conid": 1, **row})
    assert (quote.bid_size, quote.ask_size, quote.size_lot) == (bid, ask, lot)


def test_stream_deltas_keep_sizes_in_shares() -> None:
    book = QuoteBook()
    book.apply(1, {"88": "3", "85": "4"})
    first, _ = book.apply(1, {"6070": "STK", "7221": "NYSE"})
    assert (first.bid_size, first.ask_size, first.size_lot) == (300.0, 400.0, 100.0)
    later, _ = book.apply(1, {"88": "7"})
    assert (later.bid_size, later.ask_size) == (700.0, 400.0)
    assert later == convert.quote_from_wire({"conid": 1, "88": "7", "85": "4", "6070": "STK", "7221": "NYSE"})


@pytest.mark.parametrize(
    ("text", "value"),
    [("+1.25", 1.25), ("-0.40", -0.4), ("C1.42", 1.42), ("0.68%", 0.68), ("+0.84%", 0.84), ("-0.19%", -0.19)],
)
def test_change_forms_are_read_tolerantly(text: str, value: float) -> None:
    quote = convert.quote_from_wire({"conid": 1, "82": text, "83": text})
    assert quote.change == value and quote.change_pct == value
