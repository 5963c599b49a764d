"""Snapshot field meanings as IBKR's field list states them (issue 16.4)."""

from __future__ import annotations

import datetime as dt

from axion_broker_ibkr.sim.api.snapshot_fields import FIELDS
from axion_broker_ibkr.sim.engine.paper_market import Quote
from axion_broker_ibkr.sim.engine.universe import Instrument, Universe


def _quote(last: float, bid: float, ask: float) -> Quote:
    return Quote(last, bid, ask, 1.0, 1.0, 1.0, 100.0, last, last, last, last, 0)


def _inst() -> Instrument:
    universe = Universe(dt.date(2026, 12, 1))
    return next(i for i in universe.by_conid.values() if i.sec_type == "STK")


def test_mark_follows_ibkr_rule() -> None:
    mark = FIELDS["7635"]
    inst = _inst()
    assert mark(inst, _quote(last=10.0, bid=9.9, ask=9.95)) == "9.95"  # ask below last -> ask
    assert mark(inst, _quote(last=10.0, bid=10.05, ask=10.1)) == "10.05"  # bid above last -> bid
    assert mark(inst, _quote(last=10.0, bid=9.9, ask=10.1)) == "10.00"  # otherwise last


def test_todays_close_is_not_the_last_price() -> None:
    assert FIELDS["7296"](_inst(), _quote(10.0, 9.9, 10.1)) is None
