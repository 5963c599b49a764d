"""Order-log rows of held IBKR questions: the ``linked_client_order_id`` column (migration
ibkr_0005 on SQLite, and the SQL journal round trip), and start-up reconciliation of
``awaiting_answer`` rows (declined once the reply window is over, kept inside it, settled from the
broker when a yes had placed the order before a crash)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from axion_broker_ibkr.models import Order
from axion_broker_ibkr.ops.journal import UNSETTLED, JournalEntry
from axion_broker_ibkr.store import migrate
from axion_broker_ibkr.store import row_status as st
from axion_broker_ibkr.store.reconcile import NOT_ANSWERED, question_expires_at, reconcile
from axion_broker_ibkr.store.sql_journal import SqlOrderJournal


def _entry(coid: str, *, status: str = st.AWAITING_ANSWER, expires_at: float | None = 1000.0,
           linked: str | None = None) -> JournalEntry:  # fmt: skip
    transcript: list[dict[str, Any]] = []
    if expires_at is not None:
        transcript.append({"id": "r1", "message_ids": ["o163"], "messages": ["Price ..."], "answer": None,
                           "held": True, "asked_at": expires_at - 60, "expires_at": expires_at})  # fmt: skip
    return JournalEntry(
        client_order_id=coid, account_id="DU1234567", mode="sim", conid=265598, symbol="AAPL",
        sec_type="STK", side="BUY", order_type="LMT", quantity=1.0, price=150.0, status=status,
        transcript=transcript, linked_client_order_id=linked,
    )  # fmt: skip


def test_awaiting_answer_is_unsettled() -> None:
    assert st.AWAITING_ANSWER == "awaiting_answer" and st.AWAITING_ANSWER in UNSETTLED


def test_an_unanswered_question_past_its_window_is_declined() -> None:
    (decision,) = reconcile([_entry("q1", expires_at=1000.0)], [], [], now=1001.0)
    assert decision.status == st.DECLINED
    assert decision.evidence["reason"] == NOT_ANSWERED
    assert decision.evidence["question_expires_at"] == 1000.0


def test_a_question_inside_its_window_is_left_for_its_asker() -> None:
    assert reconcile([_entry("q1", expires_at=1000.0)], [], [], now=990.0) == []


def test_a_row_without_its_window_is_declined() -> None:
    entry = _entry("q1", expires_at=None)
    assert question_expires_at(entry) is None
    (decision,) = reconcile([entry], [], [], now=0.0)
    assert decision.status == st.DECLINED


def test_a_held_order_ibkr_has_is_settled_from_ibkr() -> None:
    """A yes placed it, then the process died before the row was settled: IBKR's word wins."""
    live = Order(order_id=77, client_order_id="q1", status="Submitted", total_size=1.0, filled_quantity=0.0)
    (decision,) = reconcile([_entry("q1", expires_at=1000.0)], [live], [], now=990.0)
    assert (decision.status, decision.order_id) == (st.OPEN, "77")


def test_the_sql_journal_keeps_the_link_and_reconciliation_settles_the_row(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'log.sqlite'}")
    migrate.upgrade(engine)
    journal = SqlOrderJournal(engine)
    journal.record_pending(_entry("first", status="pending_submit"))
    journal.record_result("first", status=st.AWAITING_ANSWER, transcript=_entry("first").transcript)
    journal.record_pending(_entry("second", status="pending_submit", linked="first"))
    assert journal.get("second").linked_client_order_id == "first"  # type: ignore[union-attr]
    assert journal.get("first").linked_client_order_id is None  # type: ignore[union-attr]
    pending = journal.unsettled()
    assert {e.client_order_id for e in pending} == {"first", "second"}
    first = next(e for e in pending if e.client_order_id == "first")
    (decision,) = reconcile([first], [], [], now=1001.0)
    journal.settle(decision.client_order_id, status=decision.status, evidence=decision.evidence)
    assert journal.get("first").status == st.DECLINED  # type: ignore[union-attr]
    assert journal.evidence("first")["reason"] == NOT_ANSWERED  # type: ignore[index]
    engine.dispose()


def test_migration_0005_adds_and_removes_the_link_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mig.sqlite'}"
    engine = sa.create_engine(url)
    migrate.upgrade(engine)

    def columns() -> set[str]:
        return {c["name"] for c in sa.inspect(engine).get_columns("ibkr_order_log")}

    def indexes() -> set[str]:
        return {i["name"] or "" for i in sa.inspect(engine).get_indexes("ibkr_order_log")}

    assert "linked_client_order_id" in columns()
    assert "ix_ibkr_order_log_linked_client_order_id" in indexes()
    migrate.downgrade(engine, "ibkr_0004")
    assert "linked_client_order_id" not in columns()
    migrate.upgrade(engine, "ibkr_0005")
    assert "linked_client_order_id" in columns()
    engine.dispose()


def test_the_ibkr_status_column_keeps_ibkrs_canonical_spelling() -> None:
    assert st.ibkr_word("Canceled") == st.ibkr_word("cancelled") == "Cancelled"
    assert st.ibkr_word("Pre Submitted") == "PreSubmitted"
    assert st.ibkr_word("SomethingNew") == "SomethingNew"
    assert len(st.ibkr_word("x" * 40)) == 32


def test_a_stream_update_stores_ibkrs_canonical_word(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'log.sqlite'}")
    migrate.upgrade(engine)
    journal = SqlOrderJournal(engine)
    journal.record_pending(_entry("c1", status="pending_submit"))
    assert journal.apply_order(Order(client_order_id="c1", order_id=5, status="Canceled", total_size=1.0))
    with engine.connect() as conn:
        row = conn.execute(sa.text("select status, ibkr_status from ibkr_order_log")).one()
    assert tuple(row) == ("canceled", "Cancelled")
    engine.dispose()
