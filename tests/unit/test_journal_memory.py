"""``MemoryJournal.entries``: the in-memory order log lists its orders as the database log does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.ops.journal import JournalEntry
from axion_broker_ibkr.store.memory import MemoryJournal
from tests.store.helpers import entry


def _fill(journal: Any) -> None:
    """Four orders, logged in order c-1 .. c-4, then settled out of that order."""
    for n in range(1, 5):
        journal.record_pending(entry(f"c-{n}", price=180.0 + n))
    journal.record_result("c-3", status="open", order_id="1003", transcript=[{"answer": True}])
    journal.record_result("c-1", status="filled", order_id="1001", filled_quantity=10.0, avg_fill_price=181.0)
    journal.record_result("c-2", status="rejected", message="price out of band")


def _coids(entries: list[JournalEntry]) -> list[str]:
    return [e.client_order_id for e in entries]


@pytest.fixture
def journal() -> MemoryJournal:
    j = MemoryJournal()
    _fill(j)
    return j


def test_entries_are_newest_first_with_their_settled_state(journal: MemoryJournal) -> None:
    entries = journal.entries()
    # Settling an order does not move it: the order is when it was logged.
    assert _coids(entries) == ["c-4", "c-3", "c-2", "c-1"]
    by_coid = {e.client_order_id: e for e in entries}
    assert (by_coid["c-4"].status, by_coid["c-4"].order_id) == ("pending_submit", None)
    assert (by_coid["c-3"].status, by_coid["c-3"].transcript) == ("open", [{"answer": True}])
    assert (by_coid["c-2"].status, by_coid["c-2"].message) == ("rejected", "price out of band")
    assert (by_coid["c-1"].filled_quantity, by_coid["c-1"].avg_fill_price) == (10.0, 181.0)


def test_entries_filter_by_status_and_limit(journal: MemoryJournal) -> None:
    assert _coids(journal.entries(statuses=["filled", "pending_submit"])) == ["c-4", "c-1"]
    assert _coids(journal.entries(statuses=iter(["open"]))) == ["c-3"]  # any iterable, read once
    assert journal.entries(statuses=[]) == []
    assert _coids(journal.entries(limit=2)) == ["c-4", "c-3"]
    assert _coids(journal.entries(statuses={"filled", "rejected", "open"}, limit=2)) == ["c-3", "c-2"]
    assert journal.entries(limit=0) == []
    assert MemoryJournal().entries() == []


def test_entries_refuse_a_negative_limit(journal: MemoryJournal) -> None:
    with pytest.raises(ValueError, match="limit must be >= 0 or None, got -1"):
        journal.entries(limit=-1)


def test_entries_are_a_copy(journal: MemoryJournal) -> None:
    listed = journal.entries()
    listed.clear()
    first = journal.entries()[1]
    first.payload["orders"][0]["price"] = 1.0
    first.transcript.append({"answer": False})
    again = journal.get("c-3")
    assert again is not None
    assert again.payload["orders"][0]["price"] == 187.25 and again.transcript == [{"answer": True}]
    assert len(journal.entries()) == 4


@pytest.fixture
def sql_journal(tmp_path: Path) -> Iterator[Any]:
    from axion_broker_ibkr.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'parity.sqlite3'}")
    yield store.journal
    store.close()


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"limit": 3}, {"statuses": ["rejected", "pending_submit"]}, {"statuses": ["open"], "limit": 1}],
)
def test_entries_match_the_database_journal(journal: MemoryJournal, sql_journal: Any, kwargs: Any) -> None:
    _fill(sql_journal)
    assert journal.entries(**kwargs) == sql_journal.entries(**kwargs)
