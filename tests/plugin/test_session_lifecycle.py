"""The one session lifecycle (axion_broker_ibkr.lifecycle) on the user's paths: the adapter through
the reference host follows the order stream after ``connect()`` (a fill the venue confirms later
reaches the order log without a reconciliation); the log's refusal is the same rule for the
adapter and the page; the page and the CLI open their sessions through it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.errors import StoreUnavailableError
from axion_broker_ibkr.lifecycle import MEMORY_DATABASE, open_order_log, open_sync_session
from axion_broker_ibkr.ops.journal import JournalEntry
from axion_broker_ibkr.store.memory import MemoryJournal
from tests.host.multi_broker import MultiBroker

pytestmark = pytest.mark.timeout(120)


def _config(sim: Any, db: Path) -> dict[str, Any]:
    return {"mode": "sim", "sim_url": sim.root_url, "ssl_verify": sim.cert_fingerprint,
            "max_requests_per_minute": 600, "database_url": f"sqlite:///{db}"}  # fmt: skip


def _entry(coid: str) -> JournalEntry:
    """A one-share AAPL buy limit as the write-ahead log holds it before the POST."""
    return JournalEntry(client_order_id=coid, account_id="DU1234567", conid=265598, symbol="AAPL",
                        sec_type="STK", side="BUY", quantity=1.0, order_type="LMT", mode="sim")  # fmt: skip


async def _until(check: Any, what: str, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {what}")


async def test_the_adapter_follows_the_order_stream_after_connect(fresh_sim: Any, tmp_path: Path) -> None:
    host = MultiBroker()
    adapter = host.adapter("ibkr", _config(fresh_sim, tmp_path / "log.sqlite"))
    try:
        assert await adapter.connect()
        stream = adapter.order_stream
        assert stream is not None and stream.connected
        quote = await adapter.get_quote("AAPL")
        order = {"symbol": "AAPL", "side": "buy", "qty": 2, "order_type": "limit", "asset_type": "stock",
                 "limit_price": round(quote["bid"] * 0.99, 2), "time_in_force": "day",
                 "client_order_id": "LC-FOLLOW-1"}  # fmt: skip
        placed = await host.place("ibkr", order)
        assert placed["status"] == "open", placed  # resting: only the stream can tell the log
        assert adapter.store is not None
        await asyncio.to_thread(fresh_sim.admin.fill, placed["order_id"])
        journal = adapter.store.journal
        await _until(lambda: getattr(journal.get("LC-FOLLOW-1"), "status", None) == "filled", "row filled")
        row = journal.get("LC-FOLLOW-1")
        assert row is not None and row.filled_quantity == 2 and row.ibkr_status == "Filled"
    finally:
        await adapter.disconnect()
    assert adapter.order_stream is None  # disconnect stops it


async def test_without_a_stream_the_adapter_connects_as_before(fresh_sim: Any, tmp_path: Path) -> None:
    from axion_broker_ibkr.adapter import IBKRAdapter

    adapter = IBKRAdapter(IBKRConfig.from_mapping(_config(fresh_sim, tmp_path / "log.sqlite")),
                          follow_stream=False)  # fmt: skip
    try:
        assert await adapter.connect()
        assert adapter.order_stream is None and adapter.store is not None
    finally:
        await adapter.disconnect()


def test_an_unopenable_order_log_refuses_every_order(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database directory should be", encoding="utf-8")
    config = IBKRConfig(mode="sim", database_url=f"sqlite:///{blocker}/sub/orders.sqlite")
    log = open_order_log(config)
    assert not log.can_send and log.store is None and not log.in_memory
    assert isinstance(log.failure, StoreUnavailableError)
    assert log.error is not None and "not-a-dir" in log.error and "no order is sent" in log.error
    entry = _entry("LC-NO-DB")
    with pytest.raises(StoreUnavailableError):
        log.journal.record_pending(entry)
    assert log.journal.unsettled() == [] and log.entries(limit=10) == []


async def test_the_adapter_raises_the_same_refusal_from_connect(fresh_sim: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    config = {
        **_config(fresh_sim, tmp_path / "unused.sqlite"),
        "database_url": f"sqlite:///{blocker}/a.sqlite",
    }
    adapter = MultiBroker().adapter("ibkr", config)
    try:
        with pytest.raises(StoreUnavailableError, match="not-a-dir"):
            await adapter.connect()
        entry = _entry("LC-NO-DB-2")
        with pytest.raises(StoreUnavailableError):  # the client refuses on every path, not only place_order
            adapter.client.journal.record_pending(entry)
    finally:
        await adapter.disconnect()


def test_memory_and_injected_logs(tmp_path: Path) -> None:
    memory = open_order_log(IBKRConfig(mode="sim", database_url=MEMORY_DATABASE))
    assert memory.can_send and memory.in_memory and isinstance(memory.journal, MemoryJournal)
    mine = MemoryJournal()
    injected = open_order_log(IBKRConfig(mode="sim"), journal=mine)
    assert injected.journal is mine and injected.store is None


def test_the_sync_face_starts_a_session_and_settles_pending_rows(fresh_sim: Any, tmp_path: Path) -> None:
    """A row a crash left ``pending_submit`` (never sent) is settled when a session opens."""
    from axion_broker_ibkr.store import open_store

    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    store = open_store(url)
    try:
        store.journal.record_pending(_entry("LC-CRASH-1"))
    finally:
        store.close()
    config = IBKRConfig.from_mapping({**_config(fresh_sim, tmp_path / "log.sqlite"), "database_url": url})
    with open_sync_session(config, keepalive=False) as session:
        assert session.started is not None and session.started.status.healthy
        assert session.client.journal is session.order_log.journal  # type: ignore[union-attr]
        decisions = {d.client_order_id: d.status for d in session.started.decisions}
        assert decisions == {"LC-CRASH-1": "unknown_at_broker"}


def test_the_cli_session_is_read_only_and_one_shot(fresh_sim: Any) -> None:
    config = IBKRConfig(mode="sim", sim_url=fresh_sim.root_url, ssl_verify=fresh_sim.cert_fingerprint)
    with open_sync_session(config, log_orders=False, start=False) as session:
        assert session.order_log is None and session.started is None and session.client.journal is None
        contract = session.resolver.resolve("AAPL", "stock", rules=False)
        assert contract.conid == 265598
