"""SqlContractCache: survives restarts, expires futures and options at their expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.store import SqlContractCache, Store, open_store
from axion_broker_ibkr.store.cache import contract_expiry, effective_expiry

AAPL = IBKRContract(
    conid=265598, sec_type="STK", symbol="AAPL", description="APPLE INC", listing_exchange="NASDAQ"
)
NOW = dt.datetime.now(dt.UTC)


def _option(expiry: dt.date) -> IBKRContract:
    return IBKRContract(
        conid=4_294_967_312,  # above 2**32: conids are BIGINT
        sec_type="OPT",
        symbol="AAPL",
        exchange="SMART",
        multiplier=100.0,
        expiry=expiry.strftime("%Y%m%d"),
        strike=190.0,
        right="C",
        underlying_conid=265598,
        trading_class="AAPL",
        local_symbol="AAPL  261218C00190000",
        tick_size=0.01,
    )


def test_put_get_round_trip(store: Store) -> None:
    store.cache.put("STK|AAPL|SMART|USD", AAPL)
    assert store.cache.get("STK|AAPL|SMART|USD") == AAPL
    assert store.cache.get("STK|AAPL|NYSE|USD") is None


def test_warm_entry_survives_a_restart(db_url: str) -> None:
    first = open_store(db_url)
    first.cache.put("STK|AAPL", AAPL)
    first.close()
    second = open_store(db_url)  # a new process would do exactly this
    try:
        assert second.cache.get("STK|AAPL") == AAPL
    finally:
        second.close()


def test_option_fields_and_big_conids_round_trip(store: Store) -> None:
    opt = _option((NOW + dt.timedelta(days=30)).date())
    store.cache.put("OPT|AAPL|C|190", opt)
    assert store.cache.get("OPT|AAPL|C|190") == opt


def test_put_replaces_the_entry(store: Store) -> None:
    store.cache.put("k", AAPL)
    moved = IBKRContract(conid=1, sec_type="STK", symbol="AAPL", exchange="NYSE")
    store.cache.put("k", moved)
    assert store.cache.get("k") == moved
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ibkr_contract_cache")).scalar_one() == 1


def test_caller_expiry_is_honoured(store: Store) -> None:
    store.cache.put("fresh", AAPL, expires_at=NOW + dt.timedelta(hours=1))
    store.cache.put("stale", AAPL, expires_at=NOW - dt.timedelta(seconds=1))
    assert store.cache.get("fresh") == AAPL
    assert store.cache.get("stale") is None


def test_options_and_futures_expire_at_their_expiry(store: Store) -> None:
    expired = _option((NOW - dt.timedelta(days=1)).date())
    today = _option(NOW.date())
    later = _option((NOW + dt.timedelta(days=3)).date())
    fut = IBKRContract(conid=495512557, sec_type="FUT", symbol="ES", exchange="CME", expiry=expired.expiry)
    far = NOW + dt.timedelta(days=365)
    for key, c in (("expired", expired), ("today", today), ("later", later), ("fut", fut)):
        store.cache.put(key, c, expires_at=far)  # the caller's long expiry does not win
    assert store.cache.get("expired") is None
    assert store.cache.get("fut") is None
    assert store.cache.get("today") == today  # served on its last day (0DTE), not after it
    assert store.cache.get("later") == later
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT cache_key, expires_at FROM ibkr_contract_cache")).all()
    stored: dict[str, object] = {row[0]: row[1] for row in rows}
    assert str(stored["later"])[:10] == (NOW + dt.timedelta(days=4)).date().isoformat()


def test_expired_rows_are_purged_on_put(store: Store) -> None:
    store.cache.put("old", AAPL, expires_at=NOW - dt.timedelta(days=1))
    store.cache.put("new", AAPL)
    with store.engine.connect() as conn:
        keys = conn.execute(text("SELECT cache_key FROM ibkr_contract_cache")).scalars().all()
    assert keys == ["new"]


@pytest.mark.parametrize(
    ("expiry", "expected"),
    [
        ("20261218", dt.datetime(2026, 12, 19, tzinfo=dt.UTC)),
        ("202612", dt.datetime(2026, 12, 2, tzinfo=dt.UTC)),
        (None, None),
        ("soon", None),
    ],
)
def test_contract_expiry(expiry: str | None, expected: dt.datetime | None) -> None:
    c = IBKRContract(conid=1, sec_type="FUT", symbol="ES", expiry=expiry)
    assert contract_expiry(c) == expected


def test_effective_expiry_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        effective_expiry(AAPL, dt.datetime(2030, 1, 1))


def test_the_sql_cache_is_a_contract_cache(store: Store) -> None:
    from axion_broker_ibkr.ops.journal import ContractCache

    cache: ContractCache = store.cache  # checked by mypy; exercised below
    cache.put("k", AAPL, None)
    assert isinstance(store.cache, SqlContractCache)
    assert cache.get("k") == AAPL


def test_contract_rules_survive_the_database_round_trip(db_url: str) -> None:
    """Issue 10 item 1: the rules cached with a contract come back from the table unchanged,
    in a new process (grid bands of both sides, size increment, order types, TIFs, source)."""
    es = IBKRContract(
        conid=495512563, sec_type="FUT", symbol="ES", exchange="CME", multiplier=50.0,
        expiry=(NOW + dt.timedelta(days=60)).strftime("%Y%m%d"), tick_size=0.25,
        increment_rules=[{"lowerEdge": 0.0, "increment": 0.25}],
        sell_increment_rules=[{"lower_edge": 0.0, "increment": 0.25},
                              {"lower_edge": 10000.0, "increment": 0.5}],
        size_increment=1.0, default_size=1.0, order_types="limit,market,stop", order_types_outside="limit",
        tif_types="DAY/LIMIT,MARKET,GTC/LIMIT", rules_source="ibkr",
    )  # fmt: skip
    assert es.increment_rules and es.order_types  # the converters read IBKR's shapes
    first = open_store(db_url)
    first.cache.put("FUT|ES|CME", es)
    first.close()
    second = open_store(db_url)
    try:
        back = second.cache.get("FUT|ES|CME")
        assert back == es
        assert back is not None and back.sell_increment_rules[1].increment == 0.5
        assert back.rules_source == "ibkr" and back.tif_types == es.tif_types
    finally:
        second.close()
