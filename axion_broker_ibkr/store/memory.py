"""The in-memory order log and contract cache (the ``memory`` order log, tests, no database).

They follow the same protocols and rules as the SQL versions (:mod:`axion_broker_ibkr.ops.journal`).
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Iterable
from typing import Any, Unpack

from attrs import evolve

from ..models import IBKRContract
from ..ops.journal import (
    MODIFICATION_ACCEPTED,
    UNSETTLED,
    JournalEntry,
    Modification,
    ModificationRecord,
    ModificationRef,
    ModificationSettleFields,
    OrderStatusFields,
    SettleFields,
    Settlement,
    accepted_terms,
    canonical_ibkr_status,
    log_status_for,
    modification_fields,
    next_status,
    settled_fields,
    settled_modification_fields,
)


class MemoryJournal:
    """An :class:`OrderJournal` in memory (tests, and scripts that want no database)."""

    def __init__(self) -> None:
        self._entries: dict[str, JournalEntry] = {}
        self._modifications: dict[int, ModificationRecord] = {}
        self._lock = threading.Lock()

    def record_pending(self, entry: JournalEntry) -> None:
        with self._lock:
            if entry.client_order_id in self._entries:
                raise ValueError(f"cOID {entry.client_order_id!r} is already in the order log")
            self._entries[entry.client_order_id] = entry

    def record_result(self, client_order_id: str, **fields: Unpack[SettleFields]) -> None:
        with self._lock:
            old = self._entries[client_order_id]
            changes = settled_fields(old.status, old.filled_quantity, Settlement(**fields))
            self._entries[client_order_id] = evolve(old, **changes)

    def get(self, client_order_id: str) -> JournalEntry | None:
        with self._lock:
            return self._entries.get(client_order_id)

    def find_order(self, order_id: str) -> JournalEntry | None:
        """The newest entry with IBKR order id ``order_id``."""
        with self._lock:
            return self._match(None, str(order_id))

    def record_order_status(
        self, order_id: str, ibkr_status: str, **fields: Unpack[OrderStatusFields]
    ) -> bool:
        """Apply IBKR's status of order ``order_id`` to its entry; whether one was found."""
        with self._lock:
            old = self._match(None, str(order_id))
            if old is None:
                return False
            filled_quantity = fields.get("filled_quantity")
            avg_fill_price = fields.get("avg_fill_price")
            filled = max(old.filled_quantity, filled_quantity or 0.0)
            proposed = log_status_for(ibkr_status, filled, fields.get("total_size") or old.quantity)
            changes: dict[str, Any] = {
                "status": next_status(old.status, proposed),
                "ibkr_status": canonical_ibkr_status(ibkr_status),
                "filled_quantity": filled,
            }
            if avg_fill_price is not None and avg_fill_price > 0:
                changes["avg_fill_price"] = avg_fill_price
            self._entries[old.client_order_id] = evolve(old, **changes)
            return True

    def unsettled(self) -> list[JournalEntry]:
        with self._lock:
            return [e for e in self._entries.values() if e.status in UNSETTLED]

    def entries(
        self, *, statuses: Iterable[str] | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """Logged orders, newest first (optionally only some statuses), as
        :meth:`~axion_broker_ibkr.store.sql_journal.SqlOrderJournal.entries`
        gives them. A copy: changing what it returns (payloads and transcripts included) leaves the
        log as it is."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {limit!r}")
        wanted = None if statuses is None else set(statuses)
        with self._lock:
            # Insertion order is record_pending order, and record_result keeps each key's place.
            newest_first = reversed(self._entries.values())
            picked = [e for e in newest_first if wanted is None or e.status in wanted][:limit]
        return copy.deepcopy(picked)

    def record_modification(self, modification: Modification) -> ModificationRef:
        """As :meth:`OrderJournal.record_modification` (and the SQL journal) do."""
        mod = modification
        with self._lock:
            logged = self._match(mod.client_order_id, mod.order_id)
            fields = modification_fields(mod, logged)
            record = ModificationRecord(
                id=len(self._modifications) + 1, created_at=dt.datetime.now(dt.UTC), **fields
            )
            self._modifications[record.id] = record
        return ModificationRef(record.id, record.client_order_id)

    def settle_modification(self, ref: ModificationRef, **fields: Unpack[ModificationSettleFields]) -> None:
        """As :meth:`OrderJournal.settle_modification` (and the SQL journal) do."""
        changes = settled_modification_fields(fields)
        with self._lock:
            record = self._modifications.get(ref.id)
            if record is None:
                raise KeyError(f"modification #{ref.id} is not in the order log")
            record = self._modifications[ref.id] = evolve(
                record, settled_at=dt.datetime.now(dt.UTC), **changes
            )
            coid = record.client_order_id
            if record.status == MODIFICATION_ACCEPTED and coid is not None:
                old = self._entries[coid]
                self._entries[coid] = evolve(old, **accepted_terms(record, old))

    def modifications(
        self, client_order_id: str | None = None, *, order_id: str | None = None
    ) -> list[ModificationRecord]:
        """The modifications of one order (by cOID, or by IBKR order id), oldest first, as
        :meth:`~axion_broker_ibkr.store.sql_journal.SqlOrderJournal.modifications`
        lists them."""
        if (client_order_id is None) == (order_id is None):
            raise ValueError("modifications: give exactly one of client_order_id and order_id")
        with self._lock:
            records = list(self._modifications.values())
        if client_order_id is not None:
            return [r for r in records if r.client_order_id == client_order_id]
        return [r for r in records if r.order_id == str(order_id)]

    def _match(self, client_order_id: str | None, order_id: str | None) -> JournalEntry | None:
        """The logged order a modification is for: by cOID, else the newest with that order id."""
        if client_order_id and client_order_id in self._entries:
            return self._entries[client_order_id]
        if order_id is not None:
            for logged in reversed(self._entries.values()):
                if logged.order_id == str(order_id):
                    return logged
        return None


class MemoryContractCache:
    """A :class:`ContractCache` in memory; entries expire at ``expires_at`` (UTC)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[IBKRContract, dt.datetime | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> IBKRContract | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            contract, expires_at = item
            if expires_at is not None and expires_at <= dt.datetime.now(dt.UTC):
                del self._items[key]
                return None
            return contract

    def put(self, key: str, contract: IBKRContract, expires_at: dt.datetime | None = None) -> None:
        with self._lock:
            self._items[key] = (contract, expires_at)
