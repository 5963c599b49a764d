"""Modifications of live orders in the order log: ``MemoryJournal`` and ``SqlOrderJournal`` (every
test runs on both, and on each database backend) keep the same write-ahead semantics."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr import errors, store
from axion_broker_ibkr.ops.journal import Modification, ModificationRef, OrderJournal
from axion_broker_ibkr.store import SqlOrderJournal
from axion_broker_ibkr.store.memory import MemoryJournal

from .helpers import entry

Journal = MemoryJournal | SqlOrderJournal
#: The terms of ``entry("m-1")``, as the modification record keeps them (``previous``).
OLD_TERMS = {
    "quantity": 10.0, "price": 187.25, "aux_price": None, "order_type": "LMT", "tif": "DAY",
    "payload": entry("m-1").payload,
}  # fmt: skip


def mod(**overrides: Any) -> Modification:
    values: dict[str, Any] = {
        "order_id": "9001", "client_order_id": None, "account_id": "DU1234567", "mode": "sim",
        "conid": 265598, "side": "BUY", "order_type": "LMT", "quantity": 12.0, "price": 188.0,
        "tif": "DAY", "payload": {"price": 188.0, "quantity": 12.0},
    }  # fmt: skip
    values.update(overrides)
    return Modification(**values)


def open_order(journal: OrderJournal, coid: str = "m-1", order_id: str | None = "9001") -> None:
    journal.record_pending(entry(coid))
    journal.record_result(coid, status="open", order_id=order_id)


def terms(journal: OrderJournal, coid: str = "m-1") -> tuple[Any, ...]:
    logged = journal.get(coid)
    assert logged is not None
    return (logged.quantity, logged.price, logged.order_type, logged.tif, logged.payload, logged.status)


def test_accepted_gives_the_order_the_new_terms(any_journal: Journal) -> None:
    open_order(any_journal)
    before = terms(any_journal)
    ref = any_journal.record_modification(mod(order_type="", tif=None))  # found by order id
    assert ref.client_order_id == "m-1"
    (record,) = any_journal.modifications("m-1")
    assert (record.id, record.status, record.order_id, record.previous) == (
        ref.id,
        "pending_submit",
        "9001",
        OLD_TERMS,
    )
    assert terms(any_journal) == before  # not before it is accepted
    any_journal.settle_modification(ref, status="accepted", ibkr_status="Submitted", transcript=[{"a": 1}])
    # New quantity and price; an empty order type / tif keeps the order's; the cOID stays.
    assert terms(any_journal) == (
        12.0, 188.0, "LMT", "DAY", {"price": 188.0, "quantity": 12.0, "cOID": "m-1"}, "open"
    )  # fmt: skip
    (record,) = any_journal.modifications(order_id="9001")
    assert (record.status, record.ibkr_status, record.transcript) == ("accepted", "Submitted", [{"a": 1}])
    assert record.settled_at is not None


@pytest.mark.parametrize("status", ["rejected", "refused", "not_sent", "unknown_at_broker"])
def test_other_outcomes_leave_the_terms(any_journal: Journal, status: str) -> None:
    open_order(any_journal)
    before = terms(any_journal)
    ref = any_journal.record_modification(mod(client_order_id="m-1"))
    any_journal.settle_modification(ref, status=status, message="why", ibkr_status="x" * 40)
    assert terms(any_journal) == before
    (record,) = any_journal.modifications("m-1")
    assert (record.status, record.message, record.ibkr_status) == (status, "why", "x" * 32)
    assert (record.quantity, record.price) == (12.0, 188.0)  # the record keeps what was asked


def test_the_named_cOID_wins_else_the_newest_order_with_the_order_id(any_journal: Journal) -> None:
    any_journal.record_pending(entry("m-1"))  # no order id yet: only its cOID finds it
    assert any_journal.record_modification(mod(client_order_id="m-1")).client_order_id == "m-1"
    open_order(any_journal, "m-2", "9002")
    open_order(any_journal, "m-3", "9002")  # same IBKR order id logged twice: the newest is taken
    assert any_journal.record_modification(mod(order_id="9002")).client_order_id == "m-3"
    # A cOID the log does not hold falls back to the order id.
    ref = any_journal.record_modification(mod(order_id="9002", client_order_id="elsewhere"))
    assert ref.client_order_id == "m-3"
    assert [r.id for r in any_journal.modifications("m-3")] == [2, 3]


def test_an_order_missing_from_the_log_is_recorded_without_a_cOID(any_journal: Journal) -> None:
    open_order(any_journal)
    before = terms(any_journal)
    ref = any_journal.record_modification(mod(order_id="7777"))
    assert ref.client_order_id is None
    any_journal.settle_modification(ref, status="accepted")
    (record,) = any_journal.modifications(order_id="7777")
    assert (record.status, record.client_order_id, record.previous) == ("accepted", None, None)
    assert terms(any_journal) == before  # no logged order to change


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"client_order_id": "m-1", "order_id": "9999"},
            "the log has order id 9001, the modification targets 9999",
        ),
        ({"conid": 8314}, "contract 8314 is not the order's 265598"),
        ({"side": "SELL"}, "side SELL is not the order's BUY"),
    ],
)
def test_a_modification_of_another_order_is_refused(
    any_journal: Journal, changes: dict[str, Any], problem: str
) -> None:
    open_order(any_journal)
    before = terms(any_journal)
    with pytest.raises(errors.ModificationMismatchError, match="cOID 'm-1' refused, nothing sent") as caught:
        any_journal.record_modification(mod(**changes))
    assert problem in str(caught.value)
    assert any_journal.modifications("m-1") == [] and terms(any_journal) == before
    assert store.ModificationMismatchError is errors.ModificationMismatchError  # still exported there


def test_settlement_is_checked(any_journal: Journal) -> None:
    ref = any_journal.record_modification(mod())
    for bad in ("pending_submit", "filled", ""):
        with pytest.raises(ValueError, match="status: not a settled modification status"):
            any_journal.settle_modification(ref, status=bad)
    with pytest.raises(KeyError, match="#999"):
        any_journal.settle_modification(ModificationRef(999, None), status="rejected")
    for kwargs in ({}, {"client_order_id": "m-1", "order_id": "9001"}):
        with pytest.raises(ValueError, match="exactly one"):
            any_journal.modifications(**kwargs)
    (record,) = any_journal.modifications(order_id="9001")
    assert record.status == "pending_submit"  # the refused settlements changed nothing
