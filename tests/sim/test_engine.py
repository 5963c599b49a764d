"""The state model without HTTP: universe contents, account bookkeeping, engine lifecycle."""

from __future__ import annotations

import datetime as dt

import pytest

from axion_broker_ibkr.sim.api.account_views import ledger
from axion_broker_ibkr.sim.api.state import SimState
from axion_broker_ibkr.sim.engine.clock import SimClock
from axion_broker_ibkr.sim.engine.paper_accounts import Account
from axion_broker_ibkr.sim.engine.paper_market import Market, fmt_size, fmt_volume
from axion_broker_ibkr.sim.engine.universe import Universe, stable_conid

TODAY = dt.date(2026, 11, 24)


@pytest.fixture(scope="module")
def universe() -> Universe:
    return Universe(TODAY)


def test_universe_covers_the_issue(universe: Universe) -> None:
    stocks = [i for i in universe.all() if i.sec_type == "STK"]
    us = [s for s in stocks if s.is_us]
    assert len(us) >= 30
    assert {"SPY", "QQQ"} <= {s.symbol for s in us if s.stock_type == "ETF"}
    assert (universe.stock("AAPL").conid, universe.stock("SPY").conid, universe.stock("IBM").conid) == (
        265598,
        756733,
        8314,
    )
    foreign = {(s.exchange, s.currency) for s in stocks if not s.is_us}
    assert len({e for e, _ in foreign}) >= 3
    assert all(c != "USD" for _, c in foreign)
    underlyings = {o.underlying_conid for o in universe.all() if o.sec_type == "OPT"}
    assert len(underlyings) >= 3
    for und in underlyings:
        assert len({o.expiry for o in universe.options_of(und or 0)}) >= 3
    pairs = universe.forex_pairs()
    assert len(pairs) >= 8
    assert universe.get(12087792) is not None
    assert universe.get(12087792).symbol == "EUR.USD"  # type: ignore[union-attr]
    for symbol in ("ES", "NQ", "CL", "GC", "6E"):
        listed = universe.futures_of(symbol, TODAY)
        assert len(listed) >= 3
        assert all(f.cutoff and f.last_trading_day and f.cutoff < f.last_trading_day for f in listed)
    bonds = [i for i in universe.all() if i.sec_type == "BOND"]
    assert len(bonds) >= 5
    assert any(b.extra["kind"] == "tbond" for b in bonds)
    assert any(b.extra["kind"] == "corporate" for b in bonds)


def test_generated_conids_are_stable() -> None:
    first = {(i.sec_type, i.local_symbol): i.conid for i in Universe(TODAY).all()}
    second = {(i.sec_type, i.local_symbol): i.conid for i in Universe(TODAY).all()}
    assert first == second
    assert stable_conid("OPT", "AAPL", "2026-12-18", 195.0, "C") == stable_conid(
        "OPT", "AAPL", "2026-12-18", 195.0, "C"
    )


def test_futures_listing_depends_on_the_date(universe: Universe) -> None:
    front = universe.futures_of("ES", TODAY)[0]
    assert front.last_trading_day is not None
    later = universe.futures_of("ES", front.last_trading_day + dt.timedelta(days=1))
    assert front.conid not in {f.conid for f in later}
    assert front.local_symbol == "ESZ6"


def test_seeded_market_is_reproducible() -> None:
    clock = SimClock()
    universe = Universe(TODAY)
    a, b = Market(universe, clock, seed=9), Market(universe, clock, seed=9)
    assert a.quote(265598).last == b.quote(265598).last
    a.step(60)
    b.step(60)
    assert a.quote(265598).last == b.quote(265598).last
    other = Market(universe, clock, seed=10)
    fresh = Market(universe, clock, seed=9)
    assert any(other.quote(c).last != fresh.quote(c).last for c in (265598, 8314, 756733, 12087792))


def test_formatting() -> None:
    assert fmt_size(1300) == "1,300"
    assert fmt_volume(1_234_567) == "1.23M"
    assert fmt_volume(45_300) == "45.3K"
    assert fmt_volume(900) == "900"


def test_account_fill_bookkeeping() -> None:
    universe = Universe(TODAY)
    aapl = universe.stock("AAPL")
    account = Account("DU1", cash={"USD": 10_000.0})
    assert account.apply_fill(aapl, "BUY", 10, 100.0, 1.0) == 0.0
    assert account.cash["USD"] == 10_000.0 - 1000.0 - 1.0
    realized = account.apply_fill(aapl, "SELL", 15, 110.0, 1.0)
    assert realized == 100.0  # 10 closed at +10
    pos = account.positions[aapl.conid]
    assert (pos.quantity, pos.avg_price) == (-5, 110.0)  # flipped short at the fill price
    es = universe.futures_of("ES", TODAY)[0]
    account.apply_fill(es, "BUY", 1, 5000.0, 2.25)
    assert account.cash["USD"] == 10_000.0 - 1000.0 - 1.0 + 1650.0 - 1.0 - 2.25  # no notional for futures


def test_engine_lifecycle_without_http() -> None:
    state = SimState(seed=1)
    events: list[str] = []
    state.subscribe(lambda kind, obj: events.append(kind))
    state.session.accounts_called = True
    state.session.suppressed = {"o163", "o354", "o10151"}
    aapl = 265598
    state.market.set_price(aapl, 200.0, freeze=True)
    answer = state.engine.place(
        "DU1234567",
        {"orders": [{"conid": aapl, "side": "BUY", "orderType": "LMT", "price": 199.0, "quantity": 5}]},
    )
    order_id = int(answer.body[0]["order_id"])
    assert state.engine.orders[order_id].status == "Submitted"
    state.market.set_price(aapl, 198.0, freeze=True)
    state.tick(0.25)
    assert state.engine.orders[order_id].status == "Filled"
    assert {"order", "trade", "market"} <= set(events)
    base = ledger(state.accounts["DU1234567"], state.market, 0)["BASE"]
    assert base["stockmarketvalue"] > 0
