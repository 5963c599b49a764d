"""Modifying a live order is journaled like a new order (both clients, over the mock): the
modification is committed before its POST, settled after it, and nothing is sent when it cannot
be recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.client import AsyncIBKRClient, IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.errors import (
    GatewayUnavailableError,
    JournalProtocolError,
    NotSentError,
    OrderRejectedError,
)
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.ops.journal import JournalEntry, Modification, ModificationRef, OrderJournal
from axion_broker_ibkr.store import Store, open_store
from axion_broker_ibkr.store.memory import MemoryJournal
from axion_broker_ibkr.store.models import IbkrOrderModification
from tests.client.conftest import Router, call, fast_pacer, no_wait_retry
from tests.conftest import load_fixture

AAPL = IBKRContract(conid=265598, sec_type="STK", symbol="AAPL", exchange="SMART", currency="USD")
OID = "1234567890"
MODIFY = f"/iserver/account/DU1234567/order/{OID}"
ACK = [{"order_id": OID, "order_status": "Submitted", "encrypt_message": "1"}]


def order(**extra: Any) -> dict[str, Any]:
    return {"symbol": "AAPL", "side": "buy", "qty": 10, "order_type": "limit", "limit_price": 165.0,
            "time_in_force": "day", "asset_type": "stock", **extra}  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'mod.sqlite3'}")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def paper(router: Router) -> Router:
    router.routes[("GET", "/v1/api/iserver/accounts")] = [
        {**load_fixture("iserver_accounts"), "accounts": ["DU1234567"], "selectedAccount": "DU1234567"}
    ]
    return router


def logged(journal: OrderJournal, coid: str = "AX-1") -> None:
    """An open order in the log: 10 AAPL at 165, IBKR order id OID."""
    journal.record_pending(
        JournalEntry(client_order_id=coid, account_id="DU1234567", mode="gateway", conid=265598,
                     symbol="AAPL", sec_type="STK", side="BUY", order_type="LMT", quantity=10.0,
                     price=165.0, tif="DAY", payload={"cOID": coid, "price": 165.0, "quantity": 10})
    )  # fmt: skip
    journal.record_result(coid, status="open", order_id=OID)


def client_with(kind: str, router: Router, journal: Any) -> IBKRClient | AsyncIBKRClient:
    cls = IBKRClient if kind == "sync" else AsyncIBKRClient
    return cls(IBKRConfig(mode="gateway"), transport=httpx.MockTransport(router), pacer=fast_pacer(),
               retry=no_wait_retry(), journal=journal)  # fmt: skip


def _mods(store: Store) -> list[IbkrOrderModification]:
    return store.journal.modifications(order_id=OID)


async def test_written_ahead_then_settled(kind: str, paper: Router, store: Store) -> None:
    logged(store.journal)
    seen_at_post: list[tuple[str, float | None]] = []

    def at_post(request: httpx.Request) -> Any:
        seen_at_post.extend((m.status, m.price) for m in _mods(store))  # what the log held as it left
        return ACK

    paper.on("POST", MODIFY, at_post)
    client = client_with(kind, paper, store.journal)
    result = await call(client.modify_order(OID, order(limit_price=166.5, qty=12), AAPL))
    assert seen_at_post == [("pending_submit", 166.5)]
    assert (result.order_id, result.client_order_id, result.status) == (OID, "AX-1", "open")
    (mod,) = _mods(store)
    assert (mod.status, mod.client_order_id, mod.ibkr_status) == ("accepted", "AX-1", "Submitted")
    assert mod.payload == json.loads(paper.calls[-1].content)  # the body exactly as sent
    row = store.journal.get("AX-1")
    assert row is not None and (row.quantity, row.price, row.payload["cOID"]) == (12.0, 166.5, "AX-1")


async def test_nothing_is_sent_when_the_modification_cannot_be_logged(kind: str, paper: Router) -> None:
    class Broken(MemoryJournal):
        def record_modification(self, modification: Modification) -> ModificationRef:
            raise OSError("disk full")

        def settle_modification(self, ref: ModificationRef, **kwargs: Any) -> None:
            raise AssertionError("nothing to settle")

    paper.on("POST", MODIFY, ACK)
    client = client_with(kind, paper, Broken())
    with pytest.raises(OSError, match="disk full"):
        await call(client.modify_order(OID, order(limit_price=166.0), AAPL))
    assert paper.count("POST", MODIFY) == 0


async def test_the_memory_journal_logs_modifications_too(kind: str, paper: Router) -> None:
    paper.on("POST", MODIFY, ACK)
    journal = MemoryJournal()
    logged(journal)
    client = client_with(kind, paper, journal)
    result = await call(client.modify_order(OID, order(limit_price=166.0), AAPL))
    assert (result.order_id, result.client_order_id) == (OID, "AX-1")
    (mod,) = journal.modifications("AX-1")
    assert (mod.status, mod.ibkr_status, mod.price) == ("accepted", "Submitted", 166.0)
    assert mod.payload == json.loads(paper.calls[-1].content)
    row = journal.get("AX-1")
    assert row is not None and (row.price, row.payload["cOID"]) == (166.0, "AX-1")


class _PlaceOnlyJournal:
    """A third-party journal written before modifications were journaled."""

    def __init__(self) -> None:
        self.inner = MemoryJournal()

    def record_pending(self, entry: JournalEntry) -> None:
        self.inner.record_pending(entry)

    def record_result(self, client_order_id: str, **kwargs: Any) -> None:
        self.inner.record_result(client_order_id, **kwargs)

    def get(self, client_order_id: str) -> JournalEntry | None:
        return self.inner.get(client_order_id)

    def unsettled(self) -> list[JournalEntry]:
        return self.inner.unsettled()


async def test_a_journal_without_modification_methods_is_refused(kind: str, paper: Router) -> None:
    with pytest.raises(JournalProtocolError, match="record_modification, settle_modification"):
        client_with(kind, paper, _PlaceOnlyJournal())
    client = client_with(kind, paper, MemoryJournal())
    with pytest.raises(JournalProtocolError, match="_PlaceOnlyJournal"):
        client.journal = _PlaceOnlyJournal()  # type: ignore[assignment]
    assert isinstance(client.journal, MemoryJournal)  # the refused one was not taken
    assert paper.calls == []


async def test_an_order_missing_from_the_log_is_still_recorded(
    kind: str, paper: Router, store: Store
) -> None:
    paper.on("POST", MODIFY, ACK)
    client = client_with(kind, paper, store.journal)
    result = await call(client.modify_order(OID, order(limit_price=166.0), AAPL))
    assert result.client_order_id == ""  # no cOID known for an order placed elsewhere
    (mod,) = _mods(store)
    assert (mod.status, mod.client_order_id, mod.previous, mod.price) == ("accepted", None, None, 166.0)


@pytest.mark.parametrize(
    ("answer", "error", "status", "why"),
    [
        (
            {"error": "Order 1234567890 cannot be modified: it is Filled"},
            OrderRejectedError,
            "rejected",
            "Filled",
        ),
        (httpx.ConnectError("refused"), NotSentError, "not_sent", "refused"),
        (httpx.ReadTimeout("late"), GatewayUnavailableError, "unknown_at_broker", "NOT re-sent"),
    ],
    ids=["rejected", "not-sent", "lost"],
)
async def test_a_failed_modification_keeps_the_row_terms(
    kind: str, paper: Router, store: Store, answer: Any, error: type[Exception], status: str, why: str
) -> None:
    logged(store.journal)
    paper.on("POST", MODIFY, answer)
    client = client_with(kind, paper, store.journal)
    with pytest.raises(error):
        await call(client.modify_order(OID, order(limit_price=170.0, client_order_id="AX-1"), AAPL))
    assert paper.count("POST", MODIFY) == 1  # a modification is never re-sent blindly
    (mod,) = _mods(store)
    assert mod.status == status and why in (mod.message or "") and mod.price == 170.0
    row = store.journal.get("AX-1")
    assert row is not None and (row.quantity, row.price, row.payload["price"]) == (10.0, 165.0, 165.0)
