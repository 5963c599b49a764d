"""The order log on the user's path (the adapter through the reference host, against the simulator):
cancels settle the row, ``ibkr_status`` is written on placement, futures cancels carry their fields,
a bond order is modified with the symbol it was placed with, and start-up reconciliation moves on
rows still ``open`` that IBKR cancelled meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from axion_broker_ibkr.models import Order, Trade
from axion_broker_ibkr.orders.status import status_info
from axion_broker_ibkr.store import open_store
from axion_broker_ibkr.store.reconcile import reconcile_with_client
from tests.host.multi_broker import MultiBroker


def _config(sim: Any, db: Path, **extra: Any) -> dict[str, Any]:
    return {
        "mode": "sim",
        "sim_url": sim.root_url,
        "ssl_verify": sim.cert_fingerprint,
        "max_requests_per_minute": 600,
        "database_url": f"sqlite:///{db}",
        **extra,
    }


def _row(db: Path, coid: str) -> Any:
    store = open_store(f"sqlite:///{db}")
    try:
        entry = store.journal.get(coid)
    finally:
        store.close()
    assert entry is not None
    return entry


async def test_cancel_settles_row_and_placing_writes_ibkr_status(fresh_sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite"
    host = MultiBroker()
    adapter = host.adapter("ibkr", _config(fresh_sim, db))
    try:
        assert await adapter.connect()
        quote = await adapter.get_quote("AAPL")
        order = {"symbol": "AAPL", "side": "buy", "qty": 2, "order_type": "limit",
                 "limit_price": round(quote["bid"] * 0.99, 2), "asset_type": "stock"}  # fmt: skip
        placed = await host.place("ibkr", order)
        assert placed["status"] == "open", placed
        row = _row(db, placed["client_order_id"])
        assert row.status == "open"
        assert row.ibkr_status == status_info(placed.get("ibkr_status") or "Submitted").ibkr
        assert row.ibkr_status in ("Submitted", "PreSubmitted")

        assert await adapter.cancel_order(placed["order_id"]) is True
        live = {str(o.order_id): o for o in await adapter.client.live_orders()}
        assert status_info(live[placed["order_id"]].status).ibkr == "Cancelled"
        row = _row(db, placed["client_order_id"])
        assert row.status == status_info("Cancelled").log
        assert row.ibkr_status == "Cancelled"
    finally:
        await adapter.disconnect()


async def _place_resting_es(adapter: Any, host: MultiBroker) -> dict[str, Any]:
    """An ES buy limit 1% under the last price, on the contract's 0.25 grid (it rests, unfilled)."""
    es = await adapter.resolve("ES", "futures", {})
    last = (await adapter.client.snapshot([es.conid]))[0].last
    assert last
    order = {"symbol": "ES", "side": "buy", "qty": 1, "order_type": "limit",
             "limit_price": round(last * 0.99 * 4) / 4, "asset_type": "futures"}  # fmt: skip
    placed: dict[str, Any] = await host.place("ibkr", order)
    return placed


async def test_futures_order_cancels_through_the_host(fresh_sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "fut.sqlite"
    host = MultiBroker()
    adapter = host.adapter("ibkr", _config(fresh_sim, db, futures_operator="desk-1"))
    try:
        assert await adapter.connect()
        placed = await _place_resting_es(adapter, host)
        assert placed["status"] == "open", placed
        assert await adapter.cancel_order(placed["order_id"]) is True
        assert _row(db, placed["client_order_id"]).status == "canceled"
    finally:
        await adapter.disconnect()


async def test_futures_cancel_without_a_log_row_reads_the_sec_type(fresh_sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "fut2.sqlite"
    host = MultiBroker()
    adapter = host.adapter("ibkr", _config(fresh_sim, db, futures_operator="desk-1"))
    try:
        assert await adapter.connect()
        placed = await _place_resting_es(adapter, host)
        journal = adapter.client.journal
        adapter.client.journal = None  # as a process whose log does not know the order
        try:
            ack = await adapter.client.cancel_order(placed["order_id"])
        finally:
            adapter.client.journal = journal
        assert ack.msg or ack.order_id is not None
    finally:
        await adapter.disconnect()


async def test_bond_order_modified_with_the_symbol_it_was_placed_with(fresh_sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "bond.sqlite"
    host = MultiBroker()
    adapter = host.adapter("ibkr", _config(fresh_sim, db))
    try:
        assert await adapter.connect()
        order = {"symbol": "US-T 4.25 11/15/34", "side": "buy", "qty": 1000, "order_type": "limit",
                 "limit_price": 97.0, "asset_type": "bond"}  # fmt: skip
        placed = await host.place("ibkr", order)
        assert placed["status"] == "open", placed["message"]
        modified = await adapter.client.modify_order(placed["order_id"], {**order, "limit_price": 96.5})
        assert modified.status == "open", modified
        live = {str(o.order_id): o for o in await adapter.client.live_orders()}
        assert float(live[placed["order_id"]].price or 0) == 96.5
        journal = adapter.client.journal
        adapter.client.journal = None  # a process whose log does not know it: IBKR's own name form
        try:
            again = await adapter.client.modify_order(
                placed["order_id"], {**order, "symbol": "T 4.25 11/15/34", "limit_price": 96.75}
            )
        finally:
            adapter.client.journal = journal
        assert again.status == "open", again
    finally:
        await adapter.disconnect()


class _Source:
    mode = "sim"

    def __init__(self, orders: list[Order]) -> None:
        self.orders = orders

    def live_orders(self, account_id: str | None = None) -> list[Order]:
        return self.orders

    def trades(self, days: int | None = None, account_id: str | None = None) -> list[Trade]:
        return []


async def test_reconnect_settles_open_rows_ibkr_cancelled(fresh_sim: Any, tmp_path: Path) -> None:
    """A row left ``open`` (the cancel happened while no process of ours watched) is settled by the
    next start-up from IBKR's live orders; a row IBKR still works stays ``open``."""
    db = tmp_path / "recon.sqlite"
    host = MultiBroker()
    adapter = host.adapter("ibkr", _config(fresh_sim, db))
    try:
        assert await adapter.connect()
        quote = await adapter.get_quote("AAPL")
        order = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
                 "limit_price": round(quote["bid"] * 0.99, 2), "asset_type": "stock"}  # fmt: skip
        gone = await host.place("ibkr", order)
        kept = await host.place("ibkr", order)
        journal = adapter.client.journal
        adapter.client.journal = None  # cancelled behind the log's back (another tool, a crash)
        try:
            await adapter.client.cancel_order(gone["order_id"])
        finally:
            adapter.client.journal = journal
    finally:
        await adapter.disconnect()
    assert _row(db, gone["client_order_id"]).status == "open"

    await asyncio.sleep(5.2)  # /portfolio/accounts: 1 request per 5 s
    again = host.adapter("ibkr", _config(fresh_sim, db))
    try:
        assert await again.connect()  # start-up reconciliation
    finally:
        await again.disconnect()
    assert _row(db, gone["client_order_id"]).status == "canceled"
    assert _row(db, gone["client_order_id"]).ibkr_status == "Cancelled"
    assert _row(db, kept["client_order_id"]).status == "open"


def test_reconcile_moves_working_rows_on_only_with_evidence(fresh_sim: Any, tmp_path: Path) -> None:
    from axion_broker_ibkr.ops.journal import JournalEntry

    store = open_store(f"sqlite:///{tmp_path / 'unit.sqlite'}")
    try:
        journal = store.journal
        for coid, oid in (("c-1", "101"), ("c-2", "102"), ("c-3", "103")):
            journal.record_pending(
                JournalEntry(
                    client_order_id=coid,
                    account_id="DU1",
                    mode="sim",
                    conid=265598,
                    symbol="AAPL",
                    sec_type="STK",
                    side="BUY",
                    order_type="LMT",
                    quantity=10,
                    price=1.0,
                )
            )
            journal.record_result(coid, status="open", order_id=oid, ibkr_status="Submitted")
        live = [
            Order(order_id=101, client_order_id="c-1", status="Cancelled", filled_quantity=0.0, total_size=1),
            Order(order_id=102, client_order_id="c-2", status="Submitted", filled_quantity=4.0, total_size=9),
        ]
        decisions = reconcile_with_client(journal, _Source(live))
        settled = {d.client_order_id: d.status for d in decisions}
        assert settled == {"c-1": "canceled", "c-2": "partially_filled"}
        assert journal.get("c-1").status == "canceled"  # type: ignore[union-attr]
        assert journal.get("c-2").status == "partially_filled"  # type: ignore[union-attr]
        assert journal.get("c-3").status == "open"  # type: ignore[union-attr]  (no evidence: left)
    finally:
        store.close()
