"""The database-backed write-ahead order log (:class:`SqlOrderJournal`).

``record_pending`` commits the row before it returns, and refuses a cOID that is already logged
(:class:`DuplicateOrderError`): that refusal is what stops an order from being sent twice.
Nothing here deletes a row. Streaming order and trade events (``apply_order`` / ``apply_trade``)
keep rows current; fills are stored once per execution id.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any, Unpack

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import DuplicateOrderError as DuplicateOrderError  # re-exported
from ..errors import IBKRError
from ..errors import ModificationMismatchError as ModificationMismatchError  # re-exported
from ..errors import UnknownOrderError as UnknownOrderError  # re-exported
from ..masking import mask_account
from ..models import Order, Trade
from ..ops.journal import (
    MODIFICATION_ACCEPTED,
    JournalEntry,
    Modification,
    ModificationRef,
    ModificationSettleFields,
    OrderStatusFields,
    ReconcileFields,
    SettleFields,
    Settlement,
    accepted_terms,
    modification_fields,
    next_status,
    settled_fields,
    settled_modification_fields,
)
from . import row_status as st
from .models import IbkrOrderFill, IbkrOrderLog, IbkrOrderModification, utcnow

log = logging.getLogger(__name__)


# DuplicateOrderError and UnknownOrderError live in errors.py (imported above; re-exported here).


def entry_from_row(row: IbkrOrderLog) -> JournalEntry:
    """The protocol's view of a row."""
    return JournalEntry(
        client_order_id=row.client_order_id,
        account_id=row.account_id,
        mode=row.mode,
        conid=int(row.conid),
        symbol=row.symbol,
        sec_type=row.sec_type,
        side=row.side,
        order_type=row.order_type,
        quantity=float(row.quantity),
        price=row.price,
        aux_price=row.aux_price,
        exchange=row.exchange,
        currency=row.currency,
        tif=row.tif,
        payload=dict(row.payload or {}),
        parent_client_order_id=row.parent_client_order_id,
        linked_client_order_id=row.linked_client_order_id,
        status=row.status,
        order_id=row.order_id,
        filled_quantity=float(row.filled_quantity or 0.0),
        avg_fill_price=row.avg_fill_price,
        transcript=list(row.transcript or []),
        message=row.rejection_reason,
        ibkr_status=row.ibkr_status,
    )


class SqlOrderJournal:
    """An :class:`~axion_broker_ibkr.ops.journal.OrderJournal` on SQLAlchemy (SQLite or PostgreSQL).

    Every method runs in its own short transaction, so it is safe from several threads and
    processes (uniqueness is enforced by the database, not by a lock in this process).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- OrderJournal -------------------------------------------------------------------------

    def record_pending(self, entry: JournalEntry) -> None:
        """Insert and commit the row (``pending_submit``) before the order POST leaves."""
        row = IbkrOrderLog(
            log_id=entry.client_order_id,
            client_order_id=entry.client_order_id,
            parent_client_order_id=entry.parent_client_order_id,
            linked_client_order_id=entry.linked_client_order_id,
            account_id=entry.account_id,
            mode=entry.mode,
            order_id=entry.order_id,
            conid=entry.conid,
            symbol=entry.symbol,
            sec_type=entry.sec_type,
            side=entry.side,
            order_type=entry.order_type,
            quantity=entry.quantity,
            filled_quantity=entry.filled_quantity,
            price=entry.price,
            aux_price=entry.aux_price,
            avg_fill_price=entry.avg_fill_price,
            tif=entry.tif,
            status=entry.status,
            exchange=entry.exchange,
            currency=entry.currency,
            payload=dict(entry.payload),
            transcript=list(entry.transcript),
            rejection_reason=entry.message,
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            if self._exists(entry.client_order_id):
                raise DuplicateOrderError(entry.client_order_id) from None
            raise IBKRError(
                f"order log refused cOID {entry.client_order_id!r} "
                f"(parent {entry.parent_client_order_id!r} must be logged first): {exc.orig}"
            ) from exc
        log.info(
            "order log: %s pending_submit (%s %s %s x %s, account %s, %s)",
            entry.client_order_id,
            entry.side,
            entry.symbol,
            entry.order_type,
            entry.quantity,
            mask_account(entry.account_id),
            entry.mode,
        )

    def record_result(self, client_order_id: str, **fields: Unpack[SettleFields]) -> None:
        """Settle the row after the reply (or an ambiguous failure). The transcript replaces the
        stored one; a filled quantity never decreases; a terminal status is not moved back;
        ``ibkr_status`` (IBKR's word in the answer) is kept in its canonical spelling."""
        with self._sessions.begin() as session:
            row = self._row(session, client_order_id, for_update=True)
            _apply(row, Settlement(**fields))
        log.info(
            "order log: %s -> %s (order id %s)", client_order_id, fields["status"], fields.get("order_id")
        )

    def get(self, client_order_id: str) -> JournalEntry | None:
        with self._sessions() as session:
            row = session.scalar(select(IbkrOrderLog).where(IbkrOrderLog.client_order_id == client_order_id))
            return None if row is None else entry_from_row(row)

    def find_order(self, order_id: str) -> JournalEntry | None:
        """The newest row with IBKR order id ``order_id``."""
        with self._sessions() as session:
            row = session.scalar(
                select(IbkrOrderLog)
                .where(IbkrOrderLog.order_id == str(order_id))
                .order_by(IbkrOrderLog.id.desc())
                .limit(1)
            )
            return None if row is None else entry_from_row(row)

    def record_order_status(
        self, order_id: str, ibkr_status: str, **fields: Unpack[OrderStatusFields]
    ) -> bool:
        """Apply IBKR's status of order ``order_id`` (a status read after a cancel) as a live-order
        row would be (:meth:`apply_order`); whether a logged order was updated."""
        order = Order(
            order_id=int(order_id),
            status=ibkr_status,
            filled_quantity=fields.get("filled_quantity"),
            total_size=fields.get("total_size"),
            avg_price=fields.get("avg_fill_price"),
        )
        return self.apply_order(order)

    def unsettled(self, *, include_unknown: bool = False) -> list[JournalEntry]:
        """Rows still ``pending_submit`` / ``submitted_unconfirmed``, oldest first; with
        ``include_unknown`` also ``unknown_at_broker`` rows (to look for them again)."""
        statuses = set(st.UNSETTLED) | ({st.UNKNOWN_AT_BROKER} if include_unknown else set())
        stmt = (
            select(IbkrOrderLog)
            .where(IbkrOrderLog.status.in_(sorted(statuses)))
            .order_by(IbkrOrderLog.created_at, IbkrOrderLog.id)
        )
        with self._sessions() as session:
            return [entry_from_row(r) for r in session.scalars(stmt)]

    def working(self) -> list[JournalEntry]:
        """Rows still working at the broker (``open``, ``pending``, ``partially_filled``), oldest
        first (start-up reconciliation checks them against IBKR's live orders and executions)."""
        stmt = (
            select(IbkrOrderLog)
            .where(IbkrOrderLog.status.in_(sorted(st.WORKING)))
            .order_by(IbkrOrderLog.created_at, IbkrOrderLog.id)
        )
        with self._sessions() as session:
            return [entry_from_row(r) for r in session.scalars(stmt)]

    def record_modification(self, modification: Modification) -> ModificationRef:
        """Commit a ``pending_submit`` modification before its POST leaves (write-ahead).

        The order's row is found by the cOID the caller named, else by IBKR order id; a row whose
        order id, contract or side differs from the modification raises
        :class:`ModificationMismatchError` (nothing is sent). An order that is not in the log is
        still recorded (``client_order_id`` ``NULL``), by order id."""
        mod = modification
        with self._sessions.begin() as session:
            row = self._match(session, mod.client_order_id, mod.order_id)
            logged = None if row is None else entry_from_row(row)
            record = IbkrOrderModification(**modification_fields(mod, logged))
            session.add(record)
            session.flush()
            ref = ModificationRef(record.id, record.client_order_id)
        log.info(
            "order log: modification #%d of order %s (cOID %s) pending_submit (%s x %s @ %s, account %s)",
            ref.id, mod.order_id, ref.client_order_id or "not logged", mod.order_type, mod.quantity,
            mod.price, mask_account(mod.account_id),
        )  # fmt: skip
        return ref

    def settle_modification(self, ref: ModificationRef, **fields: Unpack[ModificationSettleFields]) -> None:
        """Settle a recorded modification. ``accepted`` gives the order's row the new terms (its
        cOID, side and contract stay); any other status leaves the row's terms as they were."""
        changes = settled_modification_fields(fields)
        with self._sessions.begin() as session:
            record = session.get(IbkrOrderModification, ref.id, with_for_update=True)
            if record is None:
                raise KeyError(f"modification #{ref.id} is not in the order log")
            for name, value in changes.items():
                setattr(record, name, value)
            record.settled_at = utcnow()
            if record.status == MODIFICATION_ACCEPTED and record.client_order_id is not None:
                row = self._row(session, record.client_order_id, for_update=True)
                for name, value in accepted_terms(record, row).items():
                    setattr(row, name, value)
                if "ibkr_status" in changes:
                    row.ibkr_status = changes["ibkr_status"]
            status = record.status
        log.info("order log: modification #%d of order %s -> %s", ref.id, record.order_id, status)

    # -- Beyond the protocol --------------------------------------------------------------------

    def modifications(
        self, client_order_id: str | None = None, *, order_id: str | None = None
    ) -> list[IbkrOrderModification]:
        """The modifications of one order (by cOID, or by IBKR order id), oldest first."""
        if (client_order_id is None) == (order_id is None):
            raise ValueError("modifications: give exactly one of client_order_id and order_id")
        stmt = select(IbkrOrderModification).order_by(IbkrOrderModification.id)
        if client_order_id is not None:
            stmt = stmt.where(IbkrOrderModification.client_order_id == client_order_id)
        else:
            stmt = stmt.where(IbkrOrderModification.order_id == str(order_id))
        with self._sessions() as session:
            return list(session.scalars(stmt))

    def entries(
        self, *, statuses: Iterable[str] | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """Logged orders, newest first (optionally only some statuses)."""
        stmt = select(IbkrOrderLog).order_by(IbkrOrderLog.created_at.desc(), IbkrOrderLog.id.desc())
        if statuses is not None:
            stmt = stmt.where(IbkrOrderLog.status.in_(list(statuses)))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._sessions() as session:
            return [entry_from_row(r) for r in session.scalars(stmt)]

    def evidence(self, client_order_id: str) -> dict[str, Any] | None:
        """What reconciliation saw when it settled this order (``None`` if it never did)."""
        with self._sessions() as session:
            return self._row(session, client_order_id).evidence

    def settle(self, client_order_id: str, **fields: Unpack[ReconcileFields]) -> None:
        """Record a reconciliation decision with its evidence (only if the row is still unsettled
        or working, so a stream event that settled it meanwhile is not overwritten)."""
        settlement = Settlement(
            status=fields["status"], order_id=fields.get("order_id"), ibkr_status=fields.get("ibkr_status"),
            filled_quantity=fields.get("filled_quantity"), avg_fill_price=fields.get("avg_fill_price"),
        )  # fmt: skip
        with self._sessions.begin() as session:
            row = self._row(session, client_order_id, for_update=True)
            if row.status not in st.WORKING | st.UNSETTLED | {st.UNKNOWN_AT_BROKER}:
                log.info("order log: %s already %s; reconciliation leaves it", client_order_id, row.status)
                return
            # A working row moves on (never back out of a terminal status a stream event wrote);
            # an unsettled one takes the decision's status.
            _apply(row, settlement)
            row.evidence = fields["evidence"]
            row.reconciled_at = utcnow()
            status = row.status
        log.info("order log: %s reconciled -> %s", client_order_id, status)

    def apply_order(self, order: Order) -> bool:
        """Apply a live-order row or a merged ws ``sor`` state. Matched by cOID (``order_ref``),
        else by IBKR order id. The status is the host's word for IBKR's (``orders.host_order_status``).
        Returns whether a logged order was updated."""
        from ..orders import host_order_status

        with self._sessions.begin() as session:
            row = self._match(session, order.client_order_id, order.order_id)
            if row is None:
                return False
            if order.order_id is not None:
                row.order_id = str(order.order_id)
            if order.filled_quantity is not None:
                row.filled_quantity = max(float(row.filled_quantity or 0.0), order.filled_quantity)
            if order.avg_price is not None and order.avg_price > 0:
                row.avg_fill_price = order.avg_price
            if order.total_size and _group_leg(row) and float(order.total_size) != float(row.quantity):
                # A leg of an order group is resized by IBKR: an OCA sibling's fill reduces the others,
                # a partial fill of the entry may size its exits ([unconfirmed] which: the exits keep
                # the entry's size and cover its fills, or take the filled size); the row follows
                # IBKR's size either way (its status stays IBKR's word, never inferred from sizes).
                row.quantity = float(order.total_size)
            if order.status:
                row.ibkr_status = st.ibkr_word(order.status)
                total = order.total_size or float(row.quantity)
                proposed = host_order_status(order.status, float(row.filled_quantity or 0.0), total)
                row.status = next_status(row.status, proposed)
            return True

    def apply_trade(self, trade: Trade) -> bool:
        """Apply one execution (REST ``trades`` row or ws ``str`` item), once per execution id.
        Returns whether it was new and belonged to a logged order."""
        if not trade.execution_id or trade.size is None or trade.price is None:
            return False
        with self._sessions.begin() as session:
            row = self._match(session, trade.client_order_id, trade.order_id)
            if row is None:
                return False
            seen = session.scalar(
                select(IbkrOrderFill.id).where(IbkrOrderFill.execution_id == trade.execution_id)
            )
            if seen is not None:
                return False
            session.add(
                IbkrOrderFill(
                    execution_id=trade.execution_id,
                    client_order_id=row.client_order_id,
                    order_id=None if trade.order_id is None else str(trade.order_id),
                    size=abs(trade.size),
                    price=trade.price,
                    commission=trade.commission,
                    exchange=trade.exchange,
                    trade_time=_trade_time(trade),
                )
            )
            session.flush()
            size_sum, notional = session.execute(
                select(
                    func.sum(IbkrOrderFill.size), func.sum(IbkrOrderFill.size * IbkrOrderFill.price)
                ).where(IbkrOrderFill.client_order_id == row.client_order_id)
            ).one()
            total = float(size_sum or 0.0)
            if total > float(row.filled_quantity or 0.0):
                row.filled_quantity = total
                row.avg_fill_price = float(notional) / total if total else None
            if trade.order_id is not None and row.order_id is None:
                row.order_id = str(trade.order_id)
            if float(row.filled_quantity) >= float(row.quantity) - 1e-9:
                row.status = next_status(row.status, st.FILLED)
            elif row.status in st.UNSETTLED | st.WORKING | {st.UNKNOWN_AT_BROKER}:
                row.status = st.PARTIALLY_FILLED  # a fill also proves the broker has it
            return True

    def fills(self, client_order_id: str) -> list[IbkrOrderFill]:
        with self._sessions() as session:
            stmt = (
                select(IbkrOrderFill)
                .where(IbkrOrderFill.client_order_id == client_order_id)
                .order_by(IbkrOrderFill.id)
            )
            return list(session.scalars(stmt))

    # -- helpers ----------------------------------------------------------------------------------

    def _exists(self, client_order_id: str) -> bool:
        with self._sessions() as session:
            found = session.scalar(
                select(IbkrOrderLog.id).where(IbkrOrderLog.client_order_id == client_order_id)
            )
            return found is not None

    @staticmethod
    def _row(session: Session, client_order_id: str, *, for_update: bool = False) -> IbkrOrderLog:
        stmt = select(IbkrOrderLog).where(IbkrOrderLog.client_order_id == client_order_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = session.scalar(stmt)
        if row is None:
            raise UnknownOrderError(client_order_id)
        return row

    @staticmethod
    def _match(
        session: Session, client_order_id: str | None, order_id: int | str | None
    ) -> IbkrOrderLog | None:
        if client_order_id:
            row = session.scalar(
                select(IbkrOrderLog).where(IbkrOrderLog.client_order_id == client_order_id).with_for_update()
            )
            if row is not None:
                return row
        if order_id is not None:
            return session.scalar(
                select(IbkrOrderLog)
                .where(IbkrOrderLog.order_id == str(order_id))
                .order_by(IbkrOrderLog.id.desc())
                .limit(1)
                .with_for_update()
            )
        return None


#: The row's column for a :class:`JournalEntry` field where the two names differ.
_COLUMNS: dict[str, str] = {"message": "rejection_reason"}


def _apply(row: IbkrOrderLog, settlement: Settlement) -> None:
    """Settle ``row`` as every journal does (:func:`~axion_broker_ibkr.ops.journal.settled_fields`)."""
    changes = settled_fields(row.status, float(row.filled_quantity or 0.0), settlement)
    for name, value in changes.items():
        setattr(row, _COLUMNS.get(name, name), value)


def _group_leg(row: IbkrOrderLog) -> bool:
    """Whether a logged order is a leg of an order group (its transcript's group record)."""
    if row.parent_client_order_id:
        return True
    records = row.transcript or []
    return any(isinstance(r, dict) and isinstance(r.get("group"), dict) for r in records)


def _trade_time(trade: Trade) -> dt.datetime | None:
    if trade.trade_time_r:
        return dt.datetime.fromtimestamp(trade.trade_time_r / 1000, tz=dt.UTC)
    if trade.trade_time:
        try:  # "YYYYMMDD-HH:mm:ss", UTC (REFERENCE §4.8)
            return dt.datetime.strptime(trade.trade_time, "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.UTC)
        except ValueError:
            return None
    return None
