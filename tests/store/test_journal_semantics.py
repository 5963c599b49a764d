"""``MemoryJournal`` and ``SqlOrderJournal`` settle orders by the same rule (``journal.next_status``):
a fill or a cancel is not undone by a late event, and a filled quantity never goes down."""

from __future__ import annotations

import pytest

from axion_broker_ibkr.ops.journal import next_status
from axion_broker_ibkr.store import SqlOrderJournal
from axion_broker_ibkr.store.memory import MemoryJournal

from .helpers import entry

Journal = MemoryJournal | SqlOrderJournal


def test_a_fill_is_final(any_journal: Journal) -> None:
    any_journal.record_pending(entry("s-1"))
    any_journal.record_result("s-1", status="filled", order_id="77", filled_quantity=10.0)
    any_journal.record_result("s-1", status="canceled")  # a late cancel acknowledgement
    any_journal.record_result("s-1", status="open")  # a stale working status
    logged = any_journal.get("s-1")
    assert logged is not None
    assert logged.status == "filled"
    assert logged.filled_quantity == 10.0


def test_filled_quantity_never_decreases(any_journal: Journal) -> None:
    any_journal.record_pending(entry("s-2"))
    any_journal.record_result("s-2", status="partially_filled", filled_quantity=6.0)
    any_journal.record_result("s-2", status="partially_filled", filled_quantity=4.0)  # out of order
    logged = any_journal.get("s-2")
    assert logged is not None
    assert logged.filled_quantity == 6.0


def test_unsettled_rows_are_listed_until_settled(any_journal: Journal) -> None:
    any_journal.record_pending(entry("s-3"))
    assert [e.client_order_id for e in any_journal.unsettled()] == ["s-3"]
    any_journal.record_result("s-3", status="open", order_id="78")
    assert any_journal.unsettled() == []


@pytest.mark.parametrize(
    ("current", "proposed", "expected"),
    [
        ("pending_submit", "open", "open"), ("open", "filled", "filled"), ("open", "canceled", "canceled"),
        ("canceled", "open", "canceled"), ("rejected", "pending", "rejected"),
        ("filled", "canceled", "filled"), ("canceled", "filled", "filled"),
        ("expired", "partially_filled", "expired"),
    ],
)  # fmt: skip
def test_next_status(current: str, proposed: str, expected: str) -> None:
    assert next_status(current, proposed) == expected
