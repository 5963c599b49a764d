"""SqlOrderJournal: committed before the POST, never overwritten, kept current by events."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from axion_broker_ibkr.errors import IBKRError
from axion_broker_ibkr.ops.journal import Modification, ModificationRef
from axion_broker_ibkr.store import (
    DuplicateOrderError,
    ModificationMismatchError,
    SqlOrderJournal,
    Store,
    UnknownOrderError,
    make_engine,
)
from axion_broker_ibkr.store.models import IbkrOrderLog, IbkrOrderModification

from .helpers import entry, order, trade


def test_record_pending_is_committed_when_it_returns(store: Store, db_url: str) -> None:
    store.journal.record_pending(entry("c-1"))
    other = make_engine(db_url)  # another connection pool, as a second process would have
    try:
        with other.connect() as conn:
            row = conn.execute(
                text("SELECT status, client_order_id, log_id, quantity FROM ibkr_order_log")
            ).one()
    finally:
        other.dispose()
    assert row.status == "pending_submit"
    assert row.client_order_id == row.log_id == "c-1"
    assert float(row.quantity) == 10.0


def test_round_trip_of_every_field(store: Store) -> None:
    e = entry("c-1", aux_price=180.5, parent_client_order_id=None, transcript=[{"q": "o163"}])
    store.journal.record_pending(e)
    got = store.journal.get("c-1")
    assert got == e
    store.journal.record_pending(entry("whole", price=1.0, quantity=3.0))
    whole = store.journal.get("whole")
    assert whole is not None
    assert (type(whole.price), type(whole.quantity), type(whole.filled_quantity)) == (float, float, float)
    assert store.journal.get("nope") is None


def test_record_pending_refuses_an_existing_coid(store: Store) -> None:
    store.journal.record_pending(entry("c-1"))
    store.journal.record_result("c-1", status="open", order_id="1001")
    with pytest.raises(DuplicateOrderError, match="c-1") as info:
        store.journal.record_pending(entry("c-1", quantity=99.0))
    assert isinstance(info.value, ValueError)
    got = store.journal.get("c-1")
    assert got is not None
    assert (got.status, got.quantity, got.order_id) == ("open", 10.0, "1001")  # untouched


def test_concurrent_record_pending_lets_exactly_one_through(store: Store) -> None:
    results: list[str] = []
    barrier = threading.Barrier(4)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.journal.record_pending(entry("c-race", quantity=float(i + 1)))
            results.append("ok")
        except DuplicateOrderError:
            results.append("dup")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["dup", "dup", "dup", "ok"]


def test_record_result_settles_and_keeps_the_transcript(store: Store) -> None:
    store.journal.record_pending(entry("c-1"))
    transcript = [
        {"request": "place", "reply": [{"id": "q1", "message": ["price exceeds"], "messageIds": ["o163"]}]},
        {"request": "reply q1 confirmed=true", "reply": [{"order_id": "1001", "order_status": "Submitted"}]},
    ]
    store.journal.record_result("c-1", status="open", order_id="1001", transcript=transcript)
    got = store.journal.get("c-1")
    assert got is not None
    assert (got.status, got.order_id, got.transcript) == ("open", "1001", transcript)
    assert store.journal.unsettled() == []


def test_rejection_reason_is_kept(store: Store) -> None:
    store.journal.record_pending(entry("c-1"))
    store.journal.record_result("c-1", status="rejected", message="Order couldn't be submitted: margin")
    got = store.journal.get("c-1")
    assert got is not None
    assert (got.status, got.message) == ("rejected", "Order couldn't be submitted: margin")


def test_record_result_for_an_unknown_coid_raises(store: Store) -> None:
    with pytest.raises(UnknownOrderError, match="ghost"):
        store.journal.record_result("ghost", status="open")


def test_a_terminal_status_is_not_moved_back(store: Store) -> None:
    store.journal.record_pending(entry("c-1"))
    store.journal.record_result("c-1", status="filled", filled_quantity=10.0)
    store.journal.record_result("c-1", status="open", filled_quantity=4.0)  # a late, stale reply
    got = store.journal.get("c-1")
    assert got is not None
    assert (got.status, got.filled_quantity) == ("filled", 10.0)


def test_unsettled_lists_pending_and_unconfirmed_oldest_first(store: Store) -> None:
    for coid in ("a", "b", "c", "d"):
        store.journal.record_pending(entry(coid))
    store.journal.record_result("b", status="submitted_unconfirmed")
    store.journal.record_result("c", status="open", order_id="7")
    assert [e.client_order_id for e in store.journal.unsettled()] == ["a", "b", "d"]
    statuses = [e.status for e in store.journal.unsettled()]
    assert statuses == ["pending_submit", "submitted_unconfirmed", "pending_submit"]


def test_bracket_children_link_to_a_logged_parent(store: Store) -> None:
    store.journal.record_pending(entry("p-1"))
    store.journal.record_pending(entry("p-1-tp", side="SELL", price=200.0, parent_client_order_id="p-1"))
    child = store.journal.get("p-1-tp")
    assert child is not None
    assert child.parent_client_order_id == "p-1"
    with pytest.raises(IBKRError, match="parent"):
        store.journal.record_pending(entry("orphan", parent_client_order_id="never-logged"))
    assert store.journal.get("orphan") is None


def test_naive_timestamps_are_refused(store: Store) -> None:
    import datetime as dt

    with Session(store.engine) as session:
        row = session.scalar(select(IbkrOrderLog).limit(1))
        assert row is None
        session.add(
            IbkrOrderLog(
                log_id="x",
                client_order_id="x",
                account_id="DU1",
                mode="sim",
                conid=1,
                symbol="X",
                sec_type="STK",
                side="BUY",
                order_type="MKT",
                quantity=1.0,
                status="pending_submit",
                created_at=dt.datetime(2026, 1, 1),  # naive
            )
        )
        with pytest.raises(Exception, match="naive datetime"):
            session.flush()


def test_timestamps_come_back_timezone_aware(store: Store) -> None:
    store.journal.record_pending(entry("c-1"))
    with Session(store.engine) as session:
        row = session.scalars(select(IbkrOrderLog)).one()
        assert row.created_at.utcoffset() is not None
        assert row.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_stream_order_events_keep_the_row_current(store: Store) -> None:
    j = store.journal
    j.record_pending(entry("c-1"))
    j.record_result("c-1", status="open", order_id="1001")
    assert j.apply_order(order("c-1", "PreSubmitted"))
    got = j.get("c-1")
    assert got is not None
    assert got.status == "open"
    assert j.apply_order(order(None, "Submitted", filled_quantity=4.0, avg_price=187.2))  # by order id
    got = j.get("c-1")
    assert got is not None
    assert (got.status, got.filled_quantity, got.avg_fill_price) == ("partially_filled", 4.0, 187.2)
    assert j.apply_order(order("c-1", "Cancelled", filled_quantity=4.0))
    got = j.get("c-1")
    assert got is not None
    assert got.status == "canceled"
    assert not j.apply_order(order("someone-elses", "Submitted", order_id=555))


def test_trades_are_applied_once_per_execution(store: Store) -> None:
    j = store.journal
    j.record_pending(entry("c-1"))
    assert j.apply_trade(trade("c-1", "e1", 4.0, 187.0))
    assert not j.apply_trade(trade("c-1", "e1", 4.0, 187.0))  # REST back-fill of the same execution
    got = j.get("c-1")
    assert got is not None
    assert (got.status, got.filled_quantity, got.order_id) == ("partially_filled", 4.0, "1001")
    assert j.apply_trade(trade("c-1", "e2", 6.0, 188.0))
    got = j.get("c-1")
    assert got is not None
    assert got.status == "filled"
    assert got.filled_quantity == 10.0
    assert got.avg_fill_price == pytest.approx((4 * 187.0 + 6 * 188.0) / 10)
    assert [f.execution_id for f in j.fills("c-1")] == ["e1", "e2"]
    assert not j.apply_trade(trade("unknown", "e3", 1.0, 1.0, order_id=999))


def test_no_row_is_ever_deleted(store: Store) -> None:
    """Every public operation of the journal, then count: nothing disappeared."""
    j: SqlOrderJournal = store.journal
    for coid in ("a", "b", "c"):
        j.record_pending(entry(coid))
    j.record_result("a", status="rejected", message="no")
    j.settle("b", status="unknown_at_broker", evidence={"reason": "test"})
    j.apply_trade(trade("c", "e1", 10.0, 1.0))
    with pytest.raises(DuplicateOrderError):
        j.record_pending(entry("a"))
    with Session(store.engine) as session:
        assert session.scalar(select(func.count()).select_from(IbkrOrderLog)) == 3
    assert {e.client_order_id for e in j.entries()} == {"a", "b", "c"}


def test_concurrent_writers_from_two_engines_do_not_fail(store: Store, db_url: str) -> None:
    """Two processes (two engines here) settling rows at once: read-then-write transactions must
    wait for each other instead of failing with 'database is locked'."""
    other = make_engine(db_url)
    journals = [store.journal, SqlOrderJournal(other)]
    for i in range(40):
        store.journal.record_pending(entry(f"w-{i}"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(k: int) -> None:
        barrier.wait()
        try:
            for i in range(k, 40, 2):
                journals[k].record_result(f"w-{i}", status="open", order_id=str(i))
                journals[k].apply_trade(trade(f"w-{i}", f"x-{i}", 10.0, 1.0, order_id=i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.dispose()
    assert errors == []
    assert {e.status for e in store.journal.entries()} == {"filled"}


def _modification(**overrides: object) -> Modification:
    values: dict[str, object] = {
        "order_id": "9001", "client_order_id": None, "account_id": "DU1234567", "mode": "sim",
        "conid": 265598, "side": "BUY", "order_type": "LMT", "quantity": 12.0, "price": 188.0,
        "tif": "DAY", "payload": {"price": 188.0, "quantity": 12.0},
    }  # fmt: skip
    values.update(overrides)
    return Modification(**values)  # type: ignore[arg-type]


def test_modification_is_committed_then_settled_on_the_row(store: Store, db_url: str) -> None:
    store.journal.record_pending(entry("m-1"))
    store.journal.record_result("m-1", status="open", order_id="9001")
    ref = store.journal.record_modification(_modification())
    assert ref.client_order_id == "m-1"  # found by order id
    with Session(make_engine(db_url)) as other:  # committed: another connection sees it pending
        seen = other.scalar(select(IbkrOrderModification.status).where(IbkrOrderModification.id == ref.id))
    assert seen == "pending_submit"
    row = store.journal.get("m-1")
    assert row is not None and (row.quantity, row.price) == (10.0, 187.25)  # not before it is accepted
    store.journal.settle_modification(ref, status="accepted", ibkr_status="Submitted")
    row = store.journal.get("m-1")
    assert row is not None and (row.quantity, row.price, row.client_order_id) == (12.0, 188.0, "m-1")
    assert row.payload == {"price": 188.0, "quantity": 12.0, "cOID": "m-1"}


def test_modification_settlement_is_checked(store: Store) -> None:
    ref = store.journal.record_modification(_modification(order_id="9002"))
    assert ref.client_order_id is None
    with pytest.raises(ValueError, match="status"):
        store.journal.settle_modification(ref, status="pending_submit")
    with pytest.raises(KeyError, match="#999"):
        store.journal.settle_modification(ModificationRef(999, None), status="rejected")
    with pytest.raises(ValueError, match="exactly one"):
        store.journal.modifications()
    store.journal.settle_modification(ref, status="rejected", message="no such order")
    (mod,) = store.journal.modifications(order_id="9002")
    assert (mod.status, mod.message) == ("rejected", "no such order")


def test_modification_for_another_contract_is_refused(store: Store) -> None:
    store.journal.record_pending(entry("m-3"))
    with pytest.raises(ModificationMismatchError, match="contract 8314"):
        store.journal.record_modification(_modification(client_order_id="m-3", conid=8314))
    assert store.journal.modifications("m-3") == []
