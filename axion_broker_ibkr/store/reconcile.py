"""Start-up reconciliation: settle order-log rows left ``pending_submit`` / ``submitted_unconfirmed``,
and move on rows still working (``open``, ``pending``, ``partially_filled``) that IBKR's live orders
or executions say were cancelled, filled or rejected meanwhile (an unmatched working row is left).

:func:`reconcile` is pure: given the unsettled entries and what the gateway reports (live orders,
recent executions) it decides each row's status and records *why* (the evidence). The steps of
:func:`reconcile_steps` fetch those lists through either client and write the decisions
(:func:`reconcile_with_client` / :func:`reconcile_with_async_client` run them).

Matching is by cOID (IBKR's ``order_ref``), else by IBKR order id when the reply had already given
one. Bracket children carry no cOID at IBKR (REFERENCE §3: "do not set on bracket children"), so a
child is matched through its parent's IBKR order id, side and order type. Nothing is ever re-sent
here: an order the broker does not know ends ``unknown_at_broker`` and waits for a human.

``awaiting_answer`` rows (an IBKR question held for a caller, ``hold_questions=True``) are matched
like the others first: a yes may have placed the order just before a crash. Unmatched, IBKR holds
no order for them (a question comes before the order exists), so they are never
``unknown_at_broker``. The decision: a row whose reply window (the held question's
``expires_at``, ``orderpath.REPLY_WINDOW_S``) is over is settled ``declined`` with "question not
answered before restart"; a row still inside its window is left as it is, because the process
that asked may be alive and about to answer it (the page and a host process share one order log),
and a later reconciliation settles it once the window is over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar, Unpack

from attrs import asdict, define, evolve, field

from ..drivers.steps import Steps, arun_steps, blocking, call, run_steps
from ..masking import mask_account
from ..models import Order, Trade
from ..ops.journal import JournalEntry, ReconcileFields
from ..wire.convert import LISTED_ORDER_TYPES
from . import row_status as st

log = logging.getLogger(__name__)

#: IBKR keeps executions for at most 7 days (REFERENCE §4.8, ``days`` <= 7).
TRADE_DAYS = 7
_EPS = 1e-9


@define(frozen=True, kw_only=True)
class Decision:
    """How one unsettled row ends, and the evidence for it."""

    client_order_id: str
    status: str  # open | filled | canceled | rejected | unknown_at_broker | declined
    order_id: str | None = None
    filled_quantity: float | None = None
    avg_fill_price: float | None = None
    ibkr_status: str | None = None
    evidence: dict[str, Any] = field(factory=dict)

    def settlement(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`SettlingJournal.settle` (every field but the cOID)."""
        return asdict(self, recurse=False, filter=lambda a, _v: a.name != "client_order_id")


def _order_evidence(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "status": order.status,
        "filled_quantity": order.filled_quantity,
        "remaining_quantity": order.remaining_quantity,
        "total_size": order.total_size,
        "avg_price": order.avg_price,
        "order_ref": order.client_order_id,
    }


def _trade_evidence(trade: Trade) -> dict[str, Any]:
    return {
        "execution_id": trade.execution_id,
        "order_id": trade.order_id,
        "size": trade.size,
        "price": trade.price,
        "trade_time": trade.trade_time,
        "order_ref": trade.client_order_id,
    }


def _fills(trades: Sequence[Trade]) -> tuple[float, float | None]:
    """Total size and size-weighted average price of distinct executions."""
    seen: dict[str, Trade] = {}
    for t in trades:
        if t.size is not None and t.price is not None:
            seen[t.execution_id or f"anon-{len(seen)}"] = t
    total = sum(abs(t.size or 0.0) for t in seen.values())
    if total <= 0:
        return 0.0, None
    avg = sum(abs(t.size or 0.0) * (t.price or 0.0) for t in seen.values()) / total
    return total, avg


def _decide(entry: JournalEntry, orders: Sequence[Order], trades: Sequence[Trade], how: str) -> Decision:
    """The decision for one entry from the broker's rows that matched it (``how`` says how)."""
    filled, avg = _fills(trades)
    evidence: dict[str, Any] = {
        "matched_by": how,
        "previous_status": entry.status,
        "live_orders": [_order_evidence(o) for o in orders],
        "trades": [_trade_evidence(t) for t in trades],
    }
    order = orders[-1] if orders else None
    order_id = None
    if order is not None and order.order_id is not None:
        order_id = str(order.order_id)
    elif trades and trades[-1].order_id is not None:
        order_id = str(trades[-1].order_id)
    if order is not None:
        filled = max(filled, order.filled_quantity or 0.0)
        if order.avg_price and order.avg_price > 0:
            avg = order.avg_price
    mapped = st.log_status_from_ibkr(order.status) if order is not None else None
    if filled >= entry.quantity - _EPS:
        status = st.FILLED
        evidence["reason"] = "executions cover the whole quantity"
    elif order is not None and mapped is not None:
        status = mapped
        evidence["reason"] = f"live order status {order.status!r}"
        if mapped == st.FILLED:  # IBKR's word wins, but the numbers disagree: say so
            evidence["reason"] += f" although {filled:g} of {entry.quantity:g} are reported executed"
    elif order is not None:
        # An IBKR status word this code does not know: the broker has the order, so it is not
        # "unknown"; treat it as working and keep the word for a human.
        status = st.OPEN
        evidence["reason"] = f"live order with unrecognised status {order.status!r}"
    else:
        # Executions but no live order: live orders cover the current session only, so the rest
        # of the order is no longer working (a DAY order that ended, or a cancel).
        status = st.CANCELED
        evidence["reason"] = "partial executions and no working order at the broker"
    return Decision(
        client_order_id=entry.client_order_id,
        status=status,
        order_id=order_id,
        filled_quantity=filled if filled > 0 else None,
        avg_fill_price=avg,
        ibkr_status=None if order is None or order.status is None else order.status[:32],
        evidence=evidence,
    )


#: The reason an unanswered held question's row is settled ``declined`` at start-up.
NOT_ANSWERED = "question not answered before restart"


def question_expires_at(entry: JournalEntry) -> float | None:
    """When the question held for ``entry`` stops being answerable (its transcript's last held
    question record), ``None`` when the row does not say."""
    for record in reversed(entry.transcript):
        if isinstance(record, dict) and record.get("held") and record.get("expires_at") is not None:
            try:
                return float(record["expires_at"])
            except (TypeError, ValueError):
                return None
    return None


def _unanswered(entry: JournalEntry, now: float) -> Decision | None:
    """An ``awaiting_answer`` row that no broker order matched: ``declined`` once its window is
    over (or unknown), ``None`` (left alone) while it may still be answered."""
    expires_at = question_expires_at(entry)
    if expires_at is not None and now < expires_at:
        log.info("order log: %s awaits an answer for %.0f s more; left as it is", entry.client_order_id,
                 expires_at - now)  # fmt: skip
        return None
    return Decision(
        client_order_id=entry.client_order_id,
        status=st.DECLINED,
        evidence={
            "matched_by": None,
            "previous_status": entry.status,
            "reason": NOT_ANSWERED,
            "question_expires_at": expires_at,
            "note": "an unanswered IBKR question means IBKR holds no order; none carries this cOID",
        },
    )


_OrderOrTrade = TypeVar("_OrderOrTrade", Order, Trade)


def _by_ref_and_id(
    items: Iterable[_OrderOrTrade],
) -> tuple[dict[str, list[_OrderOrTrade]], dict[str, list[_OrderOrTrade]]]:
    """Live orders (or executions) by the cOID IBKR shows (``order_ref``) and by IBKR order id."""
    by_ref: dict[str, list[_OrderOrTrade]] = {}
    by_id: dict[str, list[_OrderOrTrade]] = {}
    for item in items:
        if item.client_order_id:
            by_ref.setdefault(item.client_order_id, []).append(item)
        if item.order_id is not None:
            by_id.setdefault(str(item.order_id), []).append(item)
    return by_ref, by_id


def reconcile(
    entries: Iterable[JournalEntry],
    live_orders: Sequence[Order],
    trades: Sequence[Trade],
    *,
    now: float | None = None,
) -> list[Decision]:
    """Decide how every unsettled entry ends, from the gateway's live orders and executions
    (``now``: epoch seconds, for the reply window of ``awaiting_answer`` rows; see the module)."""
    entries = list(entries)
    clock = time.time() if now is None else now
    orders_by_ref, orders_by_id = _by_ref_and_id(live_orders)
    trades_by_ref, trades_by_id = _by_ref_and_id(trades)

    # Parents first, so that a child can follow its parent's IBKR order id.
    broker_ids: dict[str, str] = {e.client_order_id: e.order_id for e in entries if e.order_id}
    ordered = sorted(entries, key=lambda e: e.parent_client_order_id is not None)
    decisions: list[Decision] = []
    for entry in ordered:
        coid = entry.client_order_id
        orders = orders_by_ref.get(coid, [])
        fills = trades_by_ref.get(coid, [])
        how = "client_order_id"
        if not orders and not fills and entry.order_id:
            orders = orders_by_id.get(entry.order_id, [])
            fills = trades_by_id.get(entry.order_id, [])
            how = "order_id"
        if not orders and not fills and entry.parent_client_order_id:
            orders = _children_of(entry, broker_ids.get(entry.parent_client_order_id), live_orders)
            fills = [t for o in orders for t in trades_by_id.get(str(o.order_id), [])]
            how = "parent_order_id"
        if entry.status in st.WORKING:
            # A row already settled as working (``open``...): IBKR's live orders and executions
            # move it on (a cancel, a fill the stream missed while the process was down); without
            # them it is left as it is (nothing proves it ended).
            if orders or fills:
                settled = _settle_working(entry, _decide(entry, orders, fills, how))
                if settled is not None:
                    decisions.append(settled)
            continue
        if orders or fills:
            decision = _decide(entry, orders, fills, how)
            if decision.order_id:
                broker_ids[coid] = decision.order_id
        elif entry.status == st.AWAITING_ANSWER:
            unanswered = _unanswered(entry, clock)
            if unanswered is None:
                continue
            decision = unanswered
        else:
            decision = Decision(
                client_order_id=coid,
                status=st.UNKNOWN_AT_BROKER,
                evidence={
                    "matched_by": None,
                    "previous_status": entry.status,
                    "reason": (
                        "no live order and no execution carries this cOID"
                        + (" (the POST probably never left)" if entry.status == st.PENDING_SUBMIT else "")
                    ),
                    "live_orders_seen": len(live_orders),
                    "trades_seen": len(trades),
                },
            )
        decisions.append(decision)
    return _with_group_verdicts(ordered, decisions)


def _settle_working(entry: JournalEntry, decision: Decision) -> Decision | None:
    """The decision for a working row, or ``None`` when IBKR says nothing new about it."""
    status = decision.status
    filled = decision.filled_quantity or 0.0
    if status in (st.OPEN, st.PENDING) and _EPS < filled < entry.quantity - _EPS:
        status = st.PARTIALLY_FILLED
    if status == st.UNKNOWN_AT_BROKER:
        return None
    if status == entry.status and filled <= entry.filled_quantity + _EPS:
        return None
    return evolve(decision, status=status)


def group_of(entry: JournalEntry) -> dict[str, Any] | None:
    """The group record of an order-group leg's row (``groupflow.group_record``), else ``None``."""
    for record in entry.transcript[:2]:
        if isinstance(record, dict) and isinstance(record.get("group"), dict):
            group: dict[str, Any] = record["group"]
            return group
    return None


def _with_group_verdicts(entries: Sequence[JournalEntry], decisions: list[Decision]) -> list[Decision]:
    """Each group leg's decision says what became of its group: ``complete`` (every leg decided this
    round is at IBKR), ``broken`` (some legs are, some are not: nothing is re-sent, a human finishes
    or cancels the group) or ``not_placed`` (no leg is at IBKR)."""
    by_coid = {e.client_order_id: e for e in entries}
    groups: dict[str, tuple[dict[str, Any], list[Decision]]] = {}
    for d in decisions:
        entry = by_coid.get(d.client_order_id)
        group = group_of(entry) if entry is not None else None
        if group is not None and group.get("id"):
            groups.setdefault(str(group["id"]), (group, []))[1].append(d)
    verdicts: dict[str, dict[str, Any]] = {}
    for group_id, (group, legs) in groups.items():
        missing = [d.client_order_id for d in legs if d.status == st.UNKNOWN_AT_BROKER]
        present = [d.client_order_id for d in legs if d.status != st.UNKNOWN_AT_BROKER]
        decided = {d.client_order_id for d in legs}
        before = [c for c in group.get("legs") or [] if c not in decided]  # settled earlier
        if not missing:
            state, reason = "complete", "every leg settled this round is at IBKR"
        elif present or before:
            state = "broken"
            reason = (
                f"not at IBKR: {', '.join(missing)}; at IBKR or settled before: "
                f"{', '.join(present + before)}. Nothing was re-sent: finish or cancel the group by hand"
            )
        else:
            state, reason = "not_placed", "no leg of the group is at IBKR (the POST probably never left)"
        verdict = {"id": group_id, "kind": group.get("kind"), "state": state, "reason": reason}
        for d in legs:
            verdicts[d.client_order_id] = verdict
    if not verdicts:
        return decisions
    return [
        evolve(d, evidence={**d.evidence, "group": verdicts[d.client_order_id]})
        if d.client_order_id in verdicts
        else d
        for d in decisions
    ]


def _children_of(
    entry: JournalEntry, parent_order_id: str | None, live_orders: Sequence[Order]
) -> list[Order]:
    if parent_order_id is None:
        return []
    alike = [
        o
        for o in live_orders
        if (o.side or "").upper()[:1] == entry.side.upper()[:1]
        and (o.order_type or o.orig_order_type or "").upper().replace(" ", "")
        in {entry.order_type.upper(), LISTED_ORDER_TYPES.get(entry.order_type.upper(), "")}
    ]
    linked = [o for o in alike if o.parent_id is not None and str(o.parent_id) == parent_order_id]
    if linked or not parent_order_id.isdigit():
        return linked[:1]
    # [unconfirmed] REFERENCE §4.8 lists no parentId in live orders: without one, a child is an order
    # of the same conid, side and type with no order_ref, placed after its parent (a larger id).
    return [
        o
        for o in alike
        if o.parent_id is None
        and not o.client_order_id
        and o.conid == entry.conid
        and (o.order_id or 0) > int(parent_order_id)
    ][:1]


class OrderSource(Protocol):
    """What reconciliation needs from :class:`~axion_broker_ibkr.client.IBKRClient`."""

    @property
    def mode(self) -> str: ...

    def live_orders(self, account_id: str | None = None) -> list[Order]: ...

    def trades(self, days: int | None = None, account_id: str | None = None) -> list[Trade]: ...


class SettlingJournal(Protocol):
    """What reconciliation needs from :class:`~axion_broker_ibkr.store.SqlOrderJournal`."""

    def unsettled(self, *, include_unknown: bool = False) -> list[JournalEntry]: ...

    def settle(self, client_order_id: str, **fields: Unpack[ReconcileFields]) -> None: ...


class AsyncOrderSource(Protocol):
    """What reconciliation needs from :class:`~axion_broker_ibkr.client.AsyncIBKRClient`."""

    @property
    def mode(self) -> str: ...

    async def live_orders(self, account_id: str | None = None) -> list[Order]: ...

    async def trades(self, days: int | None = None, account_id: str | None = None) -> list[Trade]: ...


def _working(journal: SettlingJournal) -> list[JournalEntry]:
    """The journal's working rows (``open``, ``pending``, ``partially_filled``) when it can list
    them (:meth:`SqlOrderJournal.working <axion_broker_ibkr.store.SqlOrderJournal.working>`)."""
    working = getattr(journal, "working", None)
    return list(working()) if callable(working) else []


def _settle_all(journal: SettlingJournal, decisions: Sequence[Decision]) -> None:
    for d in decisions:
        journal.settle(d.client_order_id, **d.settlement())


def _log_round(account: str, entries: int, live: int, fills: int) -> None:
    log.info(
        "reconciling %d order(s) of %s against %d live orders, %d executions",
        entries,
        mask_account(account),
        live,
        fills,
    )


def reconcile_steps(
    journal: SettlingJournal, client: OrderSource | AsyncOrderSource, *, recheck_unknown: bool = True
) -> Steps[list[Decision]]:
    """Start-up reconciliation as plain steps (:mod:`axion_broker_ibkr.drivers.steps`), written once for
    both clients: fetch live orders and the last 7 days of executions per account, settle every
    unsettled row of the client's mode (and, with ``recheck_unknown``, look again for
    ``unknown_at_broker`` rows), and return the decisions (``awaiting_answer`` rows: see the module
    docstring). Rows of another mode are left alone: a simulator's answer says nothing about a real
    gateway's orders, and the reverse. The database work is :class:`~axion_broker_ibkr.drivers.steps.Blocking`
    (a worker thread under asyncio)."""
    pending = yield blocking(_pending, journal, recheck_unknown)
    entries = [e for e in pending if e.mode == client.mode]
    decisions: list[Decision] = []
    for account in sorted({e.account_id for e in entries}):
        mine = [e for e in entries if e.account_id == account]
        live = yield call(client.live_orders, account_id=account)
        fills = yield call(client.trades, days=TRADE_DAYS, account_id=account)
        _log_round(account, len(mine), len(live), len(fills))
        round_decisions = reconcile(mine, live, fills)
        yield blocking(_settle_all, journal, round_decisions)
        decisions.extend(round_decisions)
    return decisions


def _pending(journal: SettlingJournal, recheck_unknown: bool) -> list[JournalEntry]:
    return journal.unsettled(include_unknown=recheck_unknown) + _working(journal)


async def reconcile_with_async_client(
    journal: SettlingJournal, client: AsyncOrderSource, *, recheck_unknown: bool = True
) -> list[Decision]:
    """:func:`reconcile_steps` through :class:`~axion_broker_ibkr.client.AsyncIBKRClient` (the
    database work in a worker thread, off the event loop)."""
    return await arun_steps(reconcile_steps(journal, client, recheck_unknown=recheck_unknown))


def reconcile_with_client(
    journal: SettlingJournal, client: OrderSource, *, recheck_unknown: bool = True
) -> list[Decision]:
    """:func:`reconcile_steps` through :class:`~axion_broker_ibkr.client.IBKRClient`."""
    return run_steps(reconcile_steps(journal, client, recheck_unknown=recheck_unknown))
