"""The ``postgres`` pacing store (``ibkr_pacing``, migration ibkr_0006) on each database backend:
pacers on separate engines (as separate machines would have) book one budget and share a 429."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from sqlalchemy import Engine

from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import SAFETY, Pacer
from axion_broker_ibkr.drivers.pacing_stores import SqlPacingStore, gateway_key, open_pacing_store
from axion_broker_ibkr.errors import RateLimitedError
from axion_broker_ibkr.store import make_engine, open_store


@pytest.fixture
def migrated(db_url: str) -> str:
    open_store(db_url).close()
    return db_url


def test_pacers_on_two_engines_share_one_budget_and_one_back_off(migrated: str) -> None:
    engines: list[Engine] = [make_engine(migrated), make_engine(migrated)]
    try:
        key = gateway_key("localhost", 5000)
        seen = threading.local()

        def clock() -> float:  # wall time (the SQL store's), remembered per thread
            seen.now = time.time()
            return float(seen.now)

        pacers = [Pacer(600, store=SqlPacingStore(e, key), clock=clock) for e in engines]
        booked: list[float] = []
        lock = threading.Lock()

        def book(pacer: Pacer) -> None:
            for _ in range(15):
                delay = pacer.reserve("GET", "/iserver/accounts")
                with lock:
                    booked.append(seen.now + delay)  # the slot booked

        threads = [threading.Thread(target=book, args=(p,)) for p in pacers for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # 60 bookings from two "machines": every two slots one global interval (10/s) apart
        assert len(booked) == 60
        gaps = [b - a for a, b in itertools.pairwise(sorted(booked))]
        assert min(gaps) == pytest.approx(SAFETY / 10)
        assert max(booked) - min(booked) > 59 * SAFETY / 10 - 0.5
        pacers[0].penalize(retry_after=20)
        with pytest.raises(RateLimitedError):
            pacers[1].reserve("GET", "/iserver/accounts")
    finally:
        for e in engines:
            e.dispose()


def test_the_postgres_setting_uses_the_order_logs_database(migrated: str) -> None:
    config = IBKRConfig(pacing_store="postgres", database_url=migrated)
    if not migrated.startswith("postgresql"):
        with pytest.raises(ValueError, match="postgresql"):
            open_pacing_store(config, "localhost", 5000)
        return
    store = open_pacing_store(config, "localhost", 5000)
    try:
        assert store.name == "postgres"
        pacer = Pacer(600, store=store)
        assert pacer.reserve("GET", "/iserver/accounts") == 0.0
    finally:
        store.close()
