"""The adapter's order log through the reference host: the database is opened by default (HOST_CONTRACT
§5/§6), orders are logged before they leave, ``connect()`` settles rows a crash left pending and records
the connection; a database that cannot be opened stops orders instead of logging them in memory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.ops.journal import JournalEntry
from tests.host.multi_broker import MultiBroker

from .test_adapter_via_host import host_config


def _limit_order(price: float, **extra: Any) -> dict[str, Any]:
    return {"symbol": "AAPL", "side": "buy", "qty": 2, "order_type": "limit", "limit_price": price,
            "time_in_force": "day", "asset_type": "stock", **extra}  # fmt: skip


async def _resting_price(adapter: Any) -> float:
    quote = await adapter.get_quote("AAPL")
    return float(round(quote["bid"] * 0.99, 2))


async def test_default_database_is_created_and_holds_orders_and_connections(
    fresh_sim: Any, default_database: Path
) -> None:
    from axion_broker_ibkr.store import open_store

    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim))  # no database_url: the user-data SQLite
    assert not _exists(default_database)
    try:
        assert await adapter.connect() is True
        assert _exists(default_database)
        assert adapter.gateway.status.last_tickle is not None  # start-up ends with the first tickle
        result = await host.place("ibkr", _limit_order(await _resting_price(adapter)))
        assert result["status"] == "open"
    finally:
        await adapter.disconnect()

    store = open_store(f"sqlite:///{default_database}")
    try:
        row = store.journal.get(result["client_order_id"])
        assert row is not None
        assert (row.status, row.order_id, row.mode, row.symbol) == ("open", result["order_id"], "sim", "AAPL")
        (conn,) = _connections(store)
        assert conn.mode == "sim" and conn.account_id == "DU1234567" and conn.account_type == "paper"
        assert conn.status == "disconnected" and conn.net_liquidation and conn.net_liquidation > 0
        assert conn.position_count is not None and conn.base_currency == "USD"
        events = [e.event for e in store.connections(mode="sim", connection_id=conn.connection_id).events()]
        assert events == ["connect", "account_sync", "disconnect"]
    finally:
        store.close()


async def test_keepalive_status_changes_are_recorded(fresh_sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "status.sqlite"
    adapter = MultiBroker().adapter("ibkr", host_config(fresh_sim, database_url=f"sqlite:///{db}"))
    try:
        assert await adapter.connect()
        await asyncio.to_thread(fresh_sim.admin.competing, True)
        status = await adapter.gateway.tick()  # one keep-alive round (competing_policy "wait")
        assert status.competing
        assert adapter.store is not None
        (conn,) = _connections(adapter.store)
        assert conn.status == "competing"
        recorder = adapter.store.connections(mode="sim", connection_id=conn.connection_id)
        assert [(e.event, e.status) for e in recorder.events()][-1] == ("status", "competing")
    finally:
        await adapter.disconnect()


async def test_environment_url_wins_over_the_host_config(
    fresh_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_database: Path
) -> None:
    from axion_broker_ibkr.store import open_store

    env_db, cfg_db = tmp_path / "env.sqlite", tmp_path / "cfg.sqlite"
    monkeypatch.setenv("AXION_IBKR_DATABASE_URL", f"sqlite:///{env_db}")
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url=f"sqlite:///{cfg_db}"))
    try:
        assert await adapter.connect()
        result = await host.place("ibkr", _limit_order(await _resting_price(adapter)))
    finally:
        await adapter.disconnect()
    assert _exists(env_db) and not _exists(cfg_db) and not _exists(default_database)
    store = open_store(f"sqlite:///{env_db}")
    try:
        assert store.journal.get(result["client_order_id"]) is not None
    finally:
        store.close()


async def test_connect_settles_rows_a_crash_left_pending(fresh_sim: Any, tmp_path: Path) -> None:
    """A row committed before the POST (the process died before the reply was logged) is settled
    from what the gateway reports at the next ``connect()``; a row the broker never saw ends
    ``unknown_at_broker``. Nothing is re-sent."""
    from axion_broker_ibkr.client import AsyncIBKRClient, IBKRConfig
    from axion_broker_ibkr.resolver import AsyncContractResolver
    from axion_broker_ibkr.store import open_store

    db = tmp_path / "crash.sqlite"
    store = open_store(f"sqlite:///{db}")
    cfg = IBKRConfig(mode="sim", sim_url=fresh_sim.root_url, ssl_verify=fresh_sim.cert_fingerprint,
                     max_requests_per_minute=600)  # fmt: skip
    async with AsyncIBKRClient(cfg) as plain:  # no journal: stands for the crashed process's POST
        contract = await AsyncContractResolver(plain).resolve("AAPL", "stock")
        (quote,) = await plain.snapshot([contract.conid])
        assert quote.bid is not None
        price = round(quote.bid * 0.99, 2)
        sent = await plain.place_order(_limit_order(price, client_order_id="AX-CRASH-1"), contract)
    for coid in ("AX-CRASH-1", "AX-NEVER-SENT"):
        store.journal.record_pending(
            JournalEntry(client_order_id=coid, account_id="DU1234567", mode="sim", conid=contract.conid,
                         symbol="AAPL", sec_type="STK", side="BUY", order_type="LMT", quantity=2, price=price)
        )  # fmt: skip
    assert {e.client_order_id for e in store.journal.unsettled()} == {"AX-CRASH-1", "AX-NEVER-SENT"}
    store.close()

    adapter = MultiBroker().adapter("ibkr", host_config(fresh_sim, database_url=f"sqlite:///{db}"))
    try:
        assert await adapter.connect()
    finally:
        await adapter.disconnect()
    store = open_store(f"sqlite:///{db}")
    try:
        crashed = store.journal.get("AX-CRASH-1")
        assert crashed is not None and crashed.status == "open" and crashed.order_id == sent.order_id
        never = store.journal.get("AX-NEVER-SENT")
        assert never is not None and never.status == "unknown_at_broker" and never.order_id is None
        assert store.journal.unsettled() == []
        refs = [o.get("order_ref") for o in fresh_sim.admin.state()["orders"]]
        assert refs.count("AX-CRASH-1") == 1  # reconciliation never re-sends
        evidence = store.journal.evidence("AX-CRASH-1")
        assert evidence is not None and evidence["matched_by"] == "client_order_id"
    finally:
        store.close()


async def test_unopenable_database_fails_connect_and_sends_nothing(fresh_sim: Any, tmp_path: Path) -> None:
    from axion_broker_ibkr.adapter import StoreUnavailableError

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database directory should be", encoding="utf-8")
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url=f"sqlite:///{blocker}/sub/x.sqlite"))
    try:
        with pytest.raises(StoreUnavailableError, match="order log") as info:
            await adapter.connect()
        assert "not-a-dir" in str(info.value)
        assert adapter.is_connected is False
        result = await host.place("ibkr", _limit_order(100.0, client_order_id="AX-NO-DB"))
        assert result["status"] == "rejected" and "not sent" in result["message"]
        assert result["order_id"] is None
    finally:
        await adapter.disconnect()
    assert fresh_sim.admin.state()["orders"] == []


async def test_memory_opt_out_keeps_no_database(fresh_sim: Any, default_database: Path) -> None:
    host = MultiBroker()
    adapter = host.adapter("ibkr", host_config(fresh_sim, database_url="memory"))
    try:
        assert await adapter.connect()
        assert adapter.store is None
        result = await host.place("ibkr", _limit_order(await _resting_price(adapter)))
        assert result["status"] == "open"
        logged = adapter.client.journal.get(result["client_order_id"])
        assert logged is not None and logged.order_id == result["order_id"]
    finally:
        await adapter.disconnect()
    assert not _exists(default_database)


def _exists(path: Path) -> bool:
    return path.is_file()


def _connections(store: Any) -> list[Any]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from axion_broker_ibkr.store.models import IbkrConnection

    with Session(store.engine) as session:
        return list(session.scalars(select(IbkrConnection)))
