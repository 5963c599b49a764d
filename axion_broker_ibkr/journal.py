"""Interfaces between the order path / resolver and whatever persists them.

The client and resolver depend on these protocols only; :mod:`axion_broker_ibkr.store` implements
them on SQLAlchemy, and the in-memory versions here serve tests and stores-less use.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from attrs import define, evolve, field

from .models import IBKRContract


@define(frozen=True, kw_only=True)
class JournalEntry:
    """One order as the write-ahead log sees it. ``client_order_id`` (cOID) is the key."""

    client_order_id: str
    account_id: str
    mode: str  # "gateway" | "sim" | "oauth"
    conid: int
    symbol: str
    sec_type: str
    side: str  # BUY | SELL
    order_type: str  # CPAPI orderType
    quantity: float
    price: float | None = None
    aux_price: float | None = None
    exchange: str | None = None
    currency: str | None = None
    tif: str | None = None
    payload: dict[str, Any] = field(factory=dict)
    parent_client_order_id: str | None = None
    # Settled afterwards:
    status: str = "pending_submit"
    order_id: str | None = None
    filled_quantity: float = 0.0
    avg_fill_price: float | None = None
    transcript: list[dict[str, Any]] = field(factory=list)
    message: str | None = None


class OrderJournal(Protocol):
    """Write-ahead order log. ``record_pending`` must be durable (committed) when it returns:
    the client calls it *before* the order POST leaves, and never sends an order whose entry
    could not be recorded."""

    def record_pending(self, entry: JournalEntry) -> None: ...

    def record_result(
        self,
        client_order_id: str,
        *,
        status: str,
        order_id: str | None = None,
        transcript: list[dict[str, Any]] | None = None,
        message: str | None = None,
        filled_quantity: float | None = None,
        avg_fill_price: float | None = None,
    ) -> None: ...

    def get(self, client_order_id: str) -> JournalEntry | None: ...

    def unsettled(self) -> list[JournalEntry]:
        """Entries still ``pending_submit`` / ``submitted_unconfirmed``, for reconciliation."""
        ...


class ContractCache(Protocol):
    """Resolver cache: ``key`` is built by the resolver from sec type, symbol and details."""

    def get(self, key: str) -> IBKRContract | None: ...

    def put(self, key: str, contract: IBKRContract, expires_at: dt.datetime | None = None) -> None: ...


class MemoryJournal:
    """An :class:`OrderJournal` in memory (tests, and scripts that want no database)."""

    def __init__(self) -> None:
        self._entries: dict[str, JournalEntry] = {}
        self._lock = threading.Lock()

    def record_pending(self, entry: JournalEntry) -> None:
        with self._lock:
            if entry.client_order_id in self._entries:
                raise ValueError(f"cOID {entry.client_order_id!r} is already in the order log")
            self._entries[entry.client_order_id] = entry

    def record_result(
        self,
        client_order_id: str,
        *,
        status: str,
        order_id: str | None = None,
        transcript: list[dict[str, Any]] | None = None,
        message: str | None = None,
        filled_quantity: float | None = None,
        avg_fill_price: float | None = None,
    ) -> None:
        with self._lock:
            old = self._entries[client_order_id]
            changes: dict[str, Any] = {"status": status}
            if order_id is not None:
                changes["order_id"] = order_id
            if transcript is not None:
                changes["transcript"] = list(transcript)
            if message is not None:
                changes["message"] = message
            if filled_quantity is not None:
                changes["filled_quantity"] = filled_quantity
            if avg_fill_price is not None:
                changes["avg_fill_price"] = avg_fill_price
            self._entries[client_order_id] = evolve(old, **changes)

    def get(self, client_order_id: str) -> JournalEntry | None:
        with self._lock:
            return self._entries.get(client_order_id)

    def unsettled(self) -> list[JournalEntry]:
        with self._lock:
            return [
                e for e in self._entries.values() if e.status in {"pending_submit", "submitted_unconfirmed"}
            ]

    def entries(
        self, *, statuses: Iterable[str] | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """Logged orders, newest first (optionally only some statuses), as
        :meth:`SqlOrderJournal.entries <axion_broker_ibkr.store.journal.SqlOrderJournal.entries>`
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
