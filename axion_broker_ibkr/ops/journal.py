"""Interfaces between the order path / resolver and whatever persists them.

The client and resolver depend on these protocols and values only; :mod:`axion_broker_ibkr.store`
implements them: on SQLAlchemy (:mod:`~axion_broker_ibkr.store.sql_journal`,
:mod:`~axion_broker_ibkr.store.cache`) and in memory (:mod:`~axion_broker_ibkr.store.memory`, for tests
and the ``memory`` order log).
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Protocol, Required, TypedDict, Unpack

from attrs import define, field

from ..errors import JournalProtocolError, ModificationMismatchError
from ..models import IBKRContract
from ..orders.status import LOG_AWAITING_ANSWER, LOG_TERMINAL, host_order_status, status_info
from ..wire.convert import with_client_order_id

#: Order-log statuses of a row whose order may not have reached the broker (reconciliation settles
#: them). ``awaiting_answer``: a question held for the caller; reconciliation declines it once its
#: reply window is over (see :func:`axion_broker_ibkr.store.reconcile.reconcile`).
UNSETTLED: frozenset[str] = frozenset({"pending_submit", "submitted_unconfirmed", LOG_AWAITING_ANSWER})
#: Statuses no later event may move an order out of (a fill or a cancel is not undone): the status
#: vocabulary's non-live order-log statuses (filled, canceled, rejected, expired) and declined.
TERMINAL: frozenset[str] = LOG_TERMINAL


def canonical_ibkr_status(ibkr_status: str) -> str:
    """IBKR's status word as the log keeps it: the vocabulary's canonical spelling
    (``Canceled`` -> ``Cancelled``), the text as given when unknown; at most 32 characters."""
    info = status_info(ibkr_status)
    return (info.ibkr if info.known else ibkr_status.strip())[:32]


def log_status_for(ibkr_status: str, filled: float, total: float) -> str:
    """The order-log status IBKR's status word gives an order with ``filled`` of ``total`` done."""
    return host_order_status(ibkr_status, filled, total)


def next_status(current: str, proposed: str) -> str:
    """The status a row takes when ``proposed`` arrives: a terminal status is never moved back to a
    working one, and a fill is final (a late ``canceled`` cannot undo it). Every journal uses this."""
    if current in TERMINAL and proposed not in TERMINAL:
        return current
    if current == "filled" and proposed != "filled":
        return current
    return proposed


#: Modification statuses (``ibkr_order_modifications.status``): ``pending_submit`` until settled;
#: ``awaiting_answer`` while IBKR's question about it is held for the caller (settled again later).
MODIFICATION_PENDING = "pending_submit"
MODIFICATION_ACCEPTED = "accepted"
MODIFICATION_AWAITING = LOG_AWAITING_ANSWER
MODIFICATION_STATUSES: frozenset[str] = frozenset(
    {
        MODIFICATION_PENDING, MODIFICATION_ACCEPTED, MODIFICATION_AWAITING, "rejected", "refused",
        "not_sent", "unknown_at_broker",
    }
)  # fmt: skip


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
    #: The first order of a question that expired before it was answered yes: this order is the
    #: same ticket placed again under a new cOID (``answer_question`` after the reply window).
    linked_client_order_id: str | None = None
    # Settled afterwards:
    status: str = "pending_submit"
    order_id: str | None = None
    filled_quantity: float = 0.0
    avg_fill_price: float | None = None
    transcript: list[dict[str, Any]] = field(factory=list)
    message: str | None = None
    #: IBKR's own status word, canonical spelling (``status_info(...).ibkr``); ``None`` until IBKR said one.
    ibkr_status: str | None = None


@define(frozen=True, kw_only=True)
class Settlement:
    """What settles an order-log row or a modification record: the one spelling of the settle
    fields on the order path (the flow yields it in ``RecordResult`` / ``SettleModification``; the
    client hands it to :meth:`OrderJournal.record_result` / ``settle_modification``). ``None``
    leaves the row's value as it is."""

    status: str
    order_id: str | None = None
    #: IBKR's status word in the answer (``Submitted``, ``Filled``...), kept in ``ibkr_status``.
    ibkr_status: str | None = None
    filled_quantity: float | None = None
    avg_fill_price: float | None = None
    message: str | None = None
    transcript: list[dict[str, Any]] | None = None


class _SettleKeywords(TypedDict, total=False):
    status: Required[str]
    order_id: str | None
    ibkr_status: str | None
    filled_quantity: float | None
    avg_fill_price: float | None


class SettleFields(_SettleKeywords, total=False):
    """The keywords of :meth:`OrderJournal.record_result`: the fields of :class:`Settlement`."""

    message: str | None
    transcript: list[dict[str, Any]] | None


class ReconcileFields(_SettleKeywords, total=False):
    """The keywords of a reconciliation decision (``SqlOrderJournal.settle``): the evidence it
    kept and the settle fields reconciliation may set."""

    evidence: Required[dict[str, Any]]


def settled_fields(status_now: str, filled_now: float, settlement: Settlement) -> dict[str, Any]:
    """The :class:`JournalEntry` fields ``settlement`` changes on an entry now ``status_now`` with
    ``filled_now`` done (every journal settles through this): the status by :func:`next_status`, a
    filled quantity that never decreases, IBKR's status word in its canonical spelling; a ``None``
    field leaves the entry's value as it is."""
    s = settlement
    changes: dict[str, Any] = {"status": next_status(status_now, s.status)}
    if s.ibkr_status is not None:
        changes["ibkr_status"] = canonical_ibkr_status(s.ibkr_status)
    if s.order_id is not None:
        changes["order_id"] = str(s.order_id)
    if s.transcript is not None:
        changes["transcript"] = list(s.transcript)
    if s.message is not None:
        changes["message"] = s.message
    if s.filled_quantity is not None:
        changes["filled_quantity"] = max(float(filled_now), float(s.filled_quantity))
    if s.avg_fill_price is not None:
        changes["avg_fill_price"] = s.avg_fill_price
    return changes


@define(frozen=True, kw_only=True)
class Modification:
    """A modification of a live order, as the order log sees it before the POST leaves.

    ``client_order_id`` is the original order's cOID when the caller named it (the order's log
    row keeps it; a modification never gets a cOID of its own); else the journal finds the row
    by ``order_id``. The terms are the new ones; ``payload`` is the body sent (no ``cOID``)."""

    order_id: str
    client_order_id: str | None
    account_id: str
    mode: str
    conid: int | None
    side: str
    order_type: str
    quantity: float
    price: float | None = None
    aux_price: float | None = None
    tif: str | None = None
    payload: dict[str, Any] = field(factory=dict)


@define(frozen=True)
class ModificationRef:
    """What the journal hands back for a recorded modification: its id and the order's cOID
    (``None`` when the order is not in the log, e.g. placed from TWS)."""

    id: int
    client_order_id: str | None


@define(frozen=True, kw_only=True)
class ModificationRecord:
    """One recorded modification as :meth:`MemoryJournal.modifications` lists it (the attributes
    of the SQL journal's ``IbkrOrderModification`` rows). ``previous``: the order's terms before
    it (``None`` when the order is not in the log)."""

    id: int
    client_order_id: str | None
    order_id: str
    account_id: str
    mode: str
    status: str
    order_type: str | None
    quantity: float
    price: float | None
    aux_price: float | None
    tif: str | None
    previous: dict[str, Any] | None
    payload: dict[str, Any]
    transcript: list[dict[str, Any]]
    message: str | None = None
    ibkr_status: str | None = None
    created_at: dt.datetime
    settled_at: dt.datetime | None = None


def check_modification_fits(
    modification: Modification, *, client_order_id: str, order_id: str | None, conid: int, side: str
) -> None:
    """Refuse (:class:`ModificationMismatchError`) a modification aimed at another order than the
    logged one (``order_id``, ``conid``, ``side``: the log's)."""
    mod = modification
    problems = []
    if order_id is not None and str(order_id) != mod.order_id:
        problems.append(f"the log has order id {order_id}, the modification targets {mod.order_id}")
    if mod.conid is not None and int(conid) != mod.conid:
        problems.append(f"contract {mod.conid} is not the order's {conid}")
    if mod.side and side and mod.side.upper() != side.upper():
        problems.append(f"side {mod.side} is not the order's {side}")
    if problems:
        raise ModificationMismatchError(
            f"modification of cOID {client_order_id!r} refused, nothing sent: " + "; ".join(problems)
        )


def check_settled_status(status: str) -> None:
    """A modification is settled with one of :data:`MODIFICATION_STATUSES` other than pending."""
    if status not in MODIFICATION_STATUSES or status == MODIFICATION_PENDING:
        raise ValueError(f"status: not a settled modification status: {status!r}")


class OrderStatusFields(TypedDict, total=False):
    """The keywords of ``record_order_status`` (IBKR's status read of one order)."""

    filled_quantity: float | None
    total_size: float | None
    avg_fill_price: float | None


class ModificationSettleFields(TypedDict, total=False):
    """The keywords of :meth:`OrderJournal.settle_modification`."""

    status: Required[str]
    transcript: list[dict[str, Any]] | None
    message: str | None
    ibkr_status: str | None


def modification_fields(modification: Modification, logged: JournalEntry | None) -> dict[str, Any]:
    """The fields of the ``pending_submit`` record of ``modification`` (a :class:`ModificationRecord`
    or the SQL journal's row) for the logged order it is for (``None``: not in the log), after
    :func:`check_modification_fits` (raises when it is aimed at another order)."""
    mod = modification
    if logged is not None:
        check_modification_fits(
            mod, client_order_id=logged.client_order_id, order_id=logged.order_id, conid=logged.conid,
            side=logged.side,
        )  # fmt: skip
    return {
        "client_order_id": None if logged is None else logged.client_order_id,
        "order_id": mod.order_id,
        "account_id": mod.account_id,
        "mode": mod.mode,
        "status": MODIFICATION_PENDING,
        "order_type": mod.order_type,
        "quantity": mod.quantity,
        "price": mod.price,
        "aux_price": mod.aux_price,
        "tif": mod.tif,
        "previous": None if logged is None else logged_terms(logged),
        "payload": copy.deepcopy(mod.payload),
        "transcript": [],
    }


def settled_modification_fields(fields: ModificationSettleFields) -> dict[str, Any]:
    """The record fields settling a modification changes (:func:`check_settled_status` first):
    its status, and the transcript, message and IBKR's status word (canonical) when given."""
    status = fields["status"]
    check_settled_status(status)
    changes: dict[str, Any] = {"status": status}
    if (transcript := fields.get("transcript")) is not None:
        changes["transcript"] = list(transcript)
    if (message := fields.get("message")) is not None:
        changes["message"] = message
    if (ibkr_status := fields.get("ibkr_status")) is not None:
        changes["ibkr_status"] = canonical_ibkr_status(ibkr_status)
    return changes


class _ModificationTerms(Protocol):
    @property
    def quantity(self) -> float: ...
    @property
    def price(self) -> float | None: ...
    @property
    def aux_price(self) -> float | None: ...
    @property
    def order_type(self) -> str | None: ...
    @property
    def tif(self) -> str | None: ...
    @property
    def payload(self) -> dict[str, Any]: ...


class _LoggedTerms(Protocol):
    @property
    def client_order_id(self) -> str: ...
    @property
    def order_type(self) -> str: ...
    @property
    def tif(self) -> str | None: ...


def accepted_terms(record: _ModificationTerms, logged: _LoggedTerms) -> dict[str, Any]:
    """The terms an accepted modification gives the order's entry or row: the record's, the
    payload under the order's own cOID; its cOID, side and contract stay."""
    return {
        "quantity": record.quantity,
        "price": record.price,
        "aux_price": record.aux_price,
        "order_type": record.order_type or logged.order_type,
        "tif": record.tif or logged.tif,
        "payload": with_client_order_id(copy.deepcopy(record.payload), logged.client_order_id),
    }


class OrderJournal(Protocol):
    """Write-ahead order log. ``record_pending`` must be durable (committed) when it returns:
    the client calls it *before* the order POST leaves, and never sends an order whose entry
    could not be recorded."""

    def record_pending(self, entry: JournalEntry) -> None: ...

    def record_result(self, client_order_id: str, **fields: Unpack[SettleFields]) -> None:
        """Settle the entry after the reply (the keywords: :class:`SettleFields`)."""
        ...

    # Optional (the client uses them when present; a journal without them still works, but a
    # cancel then leaves the row to the stream and start-up reconciliation):
    #   find_order(order_id: str) -> JournalEntry | None   (the newest row with that IBKR order id)
    #   record_order_status(order_id, ibkr_status, **OrderStatusFields) -> bool  (IBKR's status
    #                       read of that order)

    def get(self, client_order_id: str) -> JournalEntry | None: ...

    def unsettled(self) -> list[JournalEntry]:
        """Entries still ``pending_submit`` / ``submitted_unconfirmed``, for reconciliation."""
        ...

    def record_modification(self, modification: Modification) -> ModificationRef:
        """Write-ahead for a modification of a live order: durable when it returns (the POST
        leaves only afterwards; an exception means it is not sent). The order's entry is found by
        the cOID named, else by IBKR order id; an entry whose order id, contract or side differs
        raises :class:`~axion_broker_ibkr.errors.ModificationMismatchError`. An order that is not
        in the log is still recorded (the ref's ``client_order_id`` is ``None``)."""
        ...

    def settle_modification(self, ref: ModificationRef, **fields: Unpack[ModificationSettleFields]) -> None:
        """Settle a recorded modification (:data:`MODIFICATION_STATUSES`, not pending;
        ``ValueError`` otherwise, ``KeyError`` for an unknown ref). ``accepted`` gives the order's
        entry the new terms (its cOID, side and contract stay); any other status leaves them."""
        ...


#: The methods the client calls on its journal (checked by :func:`require_order_journal`).
ORDER_JOURNAL_METHODS: tuple[str, ...] = (
    "record_pending", "record_result", "get", "unsettled", "record_modification", "settle_modification",
)  # fmt: skip


def require_order_journal(journal: object) -> None:
    """Raise :class:`~axion_broker_ibkr.errors.JournalProtocolError` unless ``journal`` has every
    :class:`OrderJournal` method: a journal that cannot log a modification must not let one leave
    unlogged."""
    missing = [name for name in ORDER_JOURNAL_METHODS if not callable(getattr(journal, name, None))]
    if missing:
        raise JournalProtocolError(journal, missing)


class ContractCache(Protocol):
    """Resolver cache: ``key`` is built by the resolver from sec type, symbol and details."""

    def get(self, key: str) -> IBKRContract | None: ...

    def put(self, key: str, contract: IBKRContract, expires_at: dt.datetime | None = None) -> None: ...


def logged_terms(logged: JournalEntry) -> dict[str, Any]:
    """The terms of a logged order a modification may change (kept as ``previous``)."""
    return {
        "quantity": float(logged.quantity),
        "price": logged.price,
        "aux_price": logged.aux_price,
        "order_type": logged.order_type,
        "tif": logged.tif,
        "payload": copy.deepcopy(logged.payload),
    }
