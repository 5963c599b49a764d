"""The order flow of a group (bracket / OCO / OTO), I/O-free (part of the core, as ``orderpath``).

* Every leg is written to the order log (``RecordPending``) before the one POST; a leg whose row
  cannot be written stops the group: nothing is sent, and the rows already written say so.
* The whole ``orders`` array goes in one POST (REFERENCE §4.1: one order per request, except a
  bracket or an OCA group). IBKR's questions are about the request, so they are answered under
  the order's one policy (:class:`~axion_broker_ibkr.ops.orderpath.OrderContext`) for every leg: a
  refused question declines every leg, a rejection rejects every leg.
* The answer has one element per order (REFERENCE §4.2), matched to the legs by position.
* After an ambiguous failure (timeout, connection lost, 5xx) nothing is re-sent: the legs are
  looked up among live orders -- by ``cOID`` (``order_ref``) for the parent and OCO orders, by the
  parent's order id (``parentId``) and their terms for children -- and a leg that is not found is
  ``unknown_at_broker`` for reconciliation.

Each row carries the group in its transcript's first record (``{"group": {...}}``: id, kind, role,
every leg's id) and bracket / OTO children also in ``parent_client_order_id`` (the parent's cOID).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from attrs import define, evolve

from .. import models as m
from ..errors import AMBIGUOUS, GatewayError, IBKRError, OrderStateUnknownError, OrderValidationError
from ..masking import mask_account, mask_text
from ..orders.groups import GROUP_KEYS, GroupLeg, OrderGroup, regroup, translate_group
from ..orders.status import LOG_TERMINAL, host_order_status, status_info
from ..wire import convert
from . import effects, iserver, orderpath
from .journal import JournalEntry, Settlement

#: Wire names from the wire layer (convert): the client order id and order type keys.
_COID = convert.WIRE_CLIENT_ORDER_ID
_TYPE = convert.CPAPI_ORDER_WIRE_NAMES["order_type"]

log = logging.getLogger(__name__)


def group_record(group: OrderGroup, leg: GroupLeg) -> dict[str, Any]:
    """The transcript record that ties a row to its group."""
    return {
        "group": {
            "id": group.group_id,
            "kind": group.kind,
            "role": leg.role,
            "field": leg.field,
            "legs": [x.client_order_id for x in group.legs],
        }
    }


def _entry(
    group: OrderGroup,
    leg: GroupLeg,
    contract: Mapping[str, Any],
    ctx: orderpath.OrderContext,
    linked: str | None = None,
) -> JournalEntry:
    entry = orderpath.journal_entry({**leg.payload, _COID: leg.client_order_id}, contract, ctx, linked)
    return evolve(
        entry,
        payload=dict(leg.payload),  # what is sent: children carry parentId, not a cOID
        parent_client_order_id=leg.parent_id,
        transcript=[group_record(group, leg), *entry.transcript],
    )


def _settle_all(
    group: OrderGroup, legs: Sequence[GroupLeg], status: str, transcript: list[dict[str, Any]], message: str
) -> effects.Op[None]:
    for leg in legs:
        yield effects.RecordResult(
            leg.client_order_id,
            Settlement(status=status, transcript=[group_record(group, leg), *transcript], message=message),
        )


def _leg_result(leg: GroupLeg, order_id: str | None, ibkr_status: str | None, filled: float) -> m.LegResult:
    quantity = float(leg.payload.get("quantity") or 0.0)
    return m.LegResult(
        role=leg.role,
        client_order_id=leg.client_order_id,
        order_id=order_id,
        status=host_order_status(ibkr_status, filled, quantity) if ibkr_status else "submitted",
        ibkr_status=ibkr_status,
    )


def _same_terms(leg: GroupLeg, order: m.Order) -> bool:
    """A live order that is this child: same conid, side and order type (request code or list word)."""
    payload = leg.payload
    kind = str(payload.get(_TYPE) or "").upper()
    listed = (order.order_type or order.orig_order_type or "").upper().replace(" ", "").replace("_", "")
    return (
        order.conid == payload.get("conid")
        and (order.side or "").upper()[:1] == str(payload.get("side") or "").upper()[:1]
        and listed in {kind.replace("_", ""), convert.LISTED_ORDER_TYPES.get(kind, "")}
    )


def _find_legs(
    state: effects.SessionState, group: OrderGroup, ctx: orderpath.OrderContext
) -> effects.Op[dict[str, m.Order]]:
    """The group's legs among live orders (never re-sent): leg cOID -> live order."""
    orders = yield from iserver.live_orders(state, ctx.account_id)
    by_ref = {o.client_order_id: o for o in orders if o.client_order_id}
    found: dict[str, m.Order] = {}
    for leg in group.legs:
        if leg.client_order_id in by_ref:
            found[leg.client_order_id] = by_ref[leg.client_order_id]
    claimed = {id(o) for o in found.values()}
    for leg in group.legs:
        if leg.client_order_id in found or leg.parent_id is None:
            continue
        parent = found.get(leg.parent_id)
        if parent is None or parent.order_id is None:
            continue
        for o in orders:
            if id(o) in claimed or not _same_terms(leg, o):
                continue
            if o.parent_id is not None and o.parent_id != parent.order_id:
                continue
            if o.parent_id is None and (o.order_id or 0) <= parent.order_id:
                continue  # without parentId: a child is placed after its parent
            found[leg.client_order_id] = o
            claimed.add(id(o))
            break
    return found


def place_group(
    state: effects.SessionState, group: OrderGroup, contract: Mapping[str, Any], ctx: orderpath.OrderContext
) -> effects.Op[m.OrderResult]:
    """Journal every leg, send the group in one POST, answer its questions, settle every leg."""
    result, _held = yield from place_group_held(state, group, contract, ctx)
    return result


def place_group_held(
    state: effects.SessionState,
    group: OrderGroup,
    contract: Mapping[str, Any],
    ctx: orderpath.OrderContext,
    *,
    hold: bool = False,
    linked: OrderGroup | None = None,
) -> effects.Op[tuple[m.OrderResult, HeldGroup | None]]:
    """:func:`place_group`; with ``hold`` a question the policy does not answer yes is held for the
    caller, as a single order's (``orderpath.place_order_held``): every leg's row is
    ``awaiting_answer`` and the :class:`HeldGroup` comes back for :func:`answer_group`. ``linked``:
    the first group when this is its ticket placed again after its question expired (each leg's row
    links the first group's leg in the same position)."""
    yield from iserver.ensure_accounts(state)
    written: list[GroupLeg] = []
    for index, leg in enumerate(group.legs):
        first_leg = None if linked is None else linked.legs[index].client_order_id
        try:
            yield effects.RecordPending(_entry(group, leg, contract, ctx, first_leg))
        except Exception as exc:
            yield from _settle_all(
                group, written, "rejected", [],
                f"not sent: the order log could not record leg {leg.field} of group {group.group_id} ({exc})",
            )  # fmt: skip
            raise
        written.append(leg)
    transcript: list[dict[str, Any]] = orderpath.ignored_keys_record(ctx)
    if linked is not None:
        transcript.append(
            {"linked_group_id": linked.group_id, "note": "placed again: the first group's question expired"}
        )
    log.info(
        "placing %s group %s (%d orders) on %s [%s]",
        group.kind, group.group_id, len(group.legs), mask_account(ctx.account_id), ctx.mode,
    )  # fmt: skip
    path = f"/iserver/account/{ctx.account_id}/orders"
    first = orderpath.first_post(path, {"orders": group.payloads()})
    return orderpath.settled_once(
        (yield from _settle_group(state, group, contract, ctx, transcript, first, hold=hold))
    )


def _settle_group(
    state: effects.SessionState,
    group: OrderGroup,
    contract: Mapping[str, Any],
    ctx: orderpath.OrderContext,
    transcript: list[dict[str, Any]],
    first: effects.Op[Any],
    *,
    hold: bool,
    rounds: int = 0,
) -> effects.Op[tuple[m.OrderResult, HeldGroup | None] | None]:
    """Run ``first`` (the group's POST, or the yes to its held question) and the reply loop, and
    settle every leg's row. ``None``: ``first`` found the question gone (nothing settled)."""
    head = group.legs[0]
    try:
        outcome = yield from orderpath.replies(
            first, ctx, transcript, head.client_order_id, hold=hold, rounds=rounds
        )
    except IBKRError as exc:
        # As orderpath: what the rows say is a function of ``exc.delivery`` alone (not_sent /
        # refused: no leg is at IBKR, a question not answered yes is ``declined``; ambiguous: look).
        settled = orderpath.failure_status(exc, modification=False)
        if settled is None:
            raise
        delivery, status = settled
        if delivery == AMBIGUOUS:
            return (yield from _lost_answer(state, group, ctx, transcript, exc)), None
        yield from _settle_all(group, group.legs, status, transcript, orderpath.failure_message(exc))
        raise
    if outcome is None:
        return None  # the question was gone: nothing settled
    if isinstance(outcome, orderpath.Held):
        pending = orderpath.hold_question(outcome, ctx, transcript)
        message = _held_message(group, pending)
        yield from _settle_all(group, group.legs, orderpath.AWAITING_ANSWER, transcript, message)
        held = HeldGroup(
            group=group, contract=dict(contract), ctx=ctx, question=pending, transcript=transcript,
            rounds=outcome.rounds,
        )  # fmt: skip
        return held.result(message), held
    return (yield from _settle_acks(state, group, ctx, transcript, outcome)), None


def _settle_acks(
    state: effects.SessionState,
    group: OrderGroup,
    ctx: orderpath.OrderContext,
    transcript: list[dict[str, Any]],
    acks: Sequence[m.OrderAck],
) -> effects.Op[m.OrderResult]:
    head = group.legs[0]
    quantity = float(head.payload.get("quantity") or 0.0)
    head_result = orderpath.ack_result(acks[:1], head.client_order_id, ctx, quantity, transcript)
    head_result = yield from orderpath.with_fills(state, head_result, quantity)
    found: dict[str, m.Order] = {}
    if len(acks) < len(group.legs):
        # [conflict] REFERENCE §4.2: one element per order, but some doc pages show a single object;
        # the legs without an element are looked up (never re-sent).
        log.info(
            "group %s: %d answers for %d orders; looking up the rest",
            group.group_id,
            len(acks),
            len(group.legs),
        )
        try:
            found = yield from _find_legs(state, group, ctx)
        except GatewayError as exc:
            log.warning("group %s: live-order lookup failed: %s", group.group_id, exc)
    legs: list[m.LegResult] = []
    for index, leg in enumerate(group.legs):
        if index == 0:
            result = m.LegResult(
                role=leg.role, client_order_id=leg.client_order_id, order_id=head_result.order_id,
                status=head_result.status, ibkr_status=head_result.ibkr_status,
            )  # fmt: skip
            filled, price = head_result.fill_qty or None, head_result.fill_price
        elif index < len(acks):
            result = _leg_result(leg, acks[index].order_id, acks[index].order_status, 0.0)
            filled, price = None, None
        elif leg.client_order_id in found:
            live = found[leg.client_order_id]
            order_id = None if live.order_id is None else str(live.order_id)
            result = _leg_result(leg, order_id, live.status, live.filled_quantity or 0.0)
            filled, price = live.filled_quantity or None, live.avg_price
        else:
            result = m.LegResult(
                role=leg.role, client_order_id=leg.client_order_id, order_id=None,
                status="pending", ibkr_status=None,
            )  # fmt: skip
            yield effects.RecordResult(
                leg.client_order_id,
                Settlement(
                    status="submitted_unconfirmed",
                    transcript=[group_record(group, leg), *transcript],
                    message="IBKR's answer had no element for this order and it was not found; reconcile",
                ),
            )
            legs.append(result)
            continue
        legs.append(result)
        yield effects.RecordResult(
            leg.client_order_id,
            Settlement(
                status=result.status,
                order_id=result.order_id,
                filled_quantity=filled,
                avg_fill_price=price,
                transcript=[group_record(group, leg), *transcript],
                message=head_result.message or None if index == 0 else None,
            ),
        )
    return evolve(head_result, group_id=group.group_id, legs=tuple(legs))


def _lost_answer(
    state: effects.SessionState,
    group: OrderGroup,
    ctx: orderpath.OrderContext,
    transcript: list[dict[str, Any]],
    exc: IBKRError,
) -> effects.Op[m.OrderResult]:
    """The POST's answer was lost: find every leg at IBKR (by cOID, then parent and terms); send nothing."""
    log.warning(
        "group %s: ambiguous failure (%s); looking for its legs among live orders", group.group_id, exc
    )
    for leg in group.legs:
        yield effects.RecordResult(
            leg.client_order_id, Settlement(status="submitted_unconfirmed", message=str(exc))
        )
    try:
        found = yield from _find_legs(state, group, ctx)
    except GatewayError as lookup_exc:
        log.warning("group %s: live-order lookup failed too: %s", group.group_id, lookup_exc)
        found = {}
    return (yield from _settle_found(group, ctx, transcript, found, str(exc), cause=exc))


def _settle_found(
    group: OrderGroup,
    ctx: orderpath.OrderContext,
    transcript: list[dict[str, Any]],
    found: Mapping[str, m.Order],
    what: str,
    *,
    cause: BaseException | None = None,
) -> effects.Op[m.OrderResult]:
    """Settle every leg from what live orders show (``found``: leg cOID -> live order) after IBKR's
    answer was lost (``what``: why); a leg not found is ``unknown_at_broker``, never re-sent."""
    head = group.legs[0]
    missing = [leg for leg in group.legs if leg.client_order_id not in found]
    for leg in missing:
        yield effects.RecordResult(
            leg.client_order_id,
            Settlement(
                status=orderpath.UNKNOWN_AT_BROKER,
                transcript=[group_record(group, leg), *transcript],
                message=f"group {group.group_id}: state unknown after '{what}'; NOT re-sent, reconcile first",
            ),
        )
    if head.client_order_id not in found:
        raise OrderStateUnknownError(
            f"order group {group.group_id}: state unknown after '{what}'; nothing was re-sent, reconcile "
            "before retrying",
            client_order_id=head.client_order_id,
        ) from cause
    legs: list[m.LegResult] = []
    for leg in group.legs:
        live = found.get(leg.client_order_id)
        if live is None:
            legs.append(
                m.LegResult(
                    role=leg.role, client_order_id=leg.client_order_id, order_id=None, status="pending"
                )
            )
            continue
        order_id = None if live.order_id is None else str(live.order_id)
        result = _leg_result(leg, order_id, live.status, live.filled_quantity or 0.0)
        legs.append(result)
        yield effects.RecordResult(
            leg.client_order_id,
            Settlement(
                status=result.status,
                order_id=order_id,
                filled_quantity=live.filled_quantity or None,
                avg_fill_price=live.avg_price if live.filled_quantity else None,
                transcript=[group_record(group, leg), *transcript],
                message="the answer to the group was lost; found at IBKR",
            ),
        )
    head_result = orderpath.found_result(found[head.client_order_id], head.client_order_id, ctx, transcript)
    if missing:
        lost = ", ".join(x.client_order_id for x in missing)
        head_result = evolve(head_result, message=f"{head_result.message}; not found (reconcile): {lost}")
    return evolve(head_result, group_id=group.group_id, legs=tuple(legs))


# -- a group's IBKR question held for the caller (``hold_questions=True``) ------------------------


@define(kw_only=True)
class HeldGroup:
    """A group whose IBKR question is held for the caller: what :func:`answer_group` needs to
    continue the group's reply loop (IBKR's questions are about the whole request, REFERENCE §4.3),
    or to place the same group again under new ids once the question expired. Kept by the client
    under the parent's cOID (an OCO's: its first order's), as ``orderpath.HeldOrder``; never
    persisted (every leg's row keeps the question)."""

    group: OrderGroup
    contract: dict[str, Any]
    ctx: orderpath.OrderContext
    question: m.PendingQuestion
    transcript: list[dict[str, Any]]
    rounds: int
    #: Always ``None`` (nothing is at IBKR while the question is held); the desk keys by the cOID.
    order_id: str | None = None

    @property
    def client_order_id(self) -> str:
        return self.group.legs[0].client_order_id

    def resume(
        self, state: effects.SessionState, yes: bool, new_id: Callable[[], str]
    ) -> effects.Op[tuple[m.OrderResult, HeldGroup | None]]:
        """:func:`answer_group` (a :class:`.orderpath.HeldQuestion`)."""
        return answer_group(state, self, yes, new_group_id=new_id)

    def result(self, message: str, *, status: str = "pending") -> m.OrderResult:
        """The group's result while (or once) its question is held / declined: no leg at IBKR."""
        return m.OrderResult(
            order_id=None,
            client_order_id=self.client_order_id,
            status=status,
            ibkr_status=None,
            mode=self.ctx.mode,
            account_id=self.ctx.account_id,
            transcript=list(self.transcript),
            message=message,
            question=self.question if status == "pending" else None,
            group_id=self.group.group_id,
            legs=tuple(
                m.LegResult(role=leg.role, client_order_id=leg.client_order_id, order_id=None, status=status)
                for leg in self.group.legs
            ),
        )


def _held_message(group: OrderGroup, pending: m.PendingQuestion) -> str:
    text = " / ".join(pending.messages) or "(no text)"
    head = group.legs[0].client_order_id
    return (
        f"IBKR asks {', '.join(pending.message_ids) or 'a question'} before {group.kind} group "
        f"{group.group_id} ({len(group.legs)} orders) is placed: {text!r}. Nothing is at IBKR yet; "
        f"answer with answer_question({head!r}, yes) within {orderpath.REPLY_WINDOW_S:.0f} s (later, a "
        "yes places the group again under new cOIDs)."
    )


def _answered(held: HeldGroup, yes: bool, **extra: Any) -> list[dict[str, Any]]:
    """The transcript with the held question's record answered (by the caller): orderpath's step,
    which reads only the attributes a :class:`HeldGroup` shares with a ``HeldOrder`` (transcript,
    ctx, question)."""
    return orderpath.answered(cast("orderpath.HeldOrder", held), yes, **extra)


def answer_group(
    state: effects.SessionState, held: HeldGroup, yes: bool, *, new_group_id: Callable[[], str]
) -> effects.Op[tuple[m.OrderResult, HeldGroup | None]]:
    """Answer a group's held question, as ``orderpath.answer`` for one order: ``yes`` continues the
    group's reply loop (same cOIDs, same rows: every leg written ``submitted_unconfirmed`` first);
    no declines every leg (rows ``declined``, question kept). After the reply window (or when IBKR
    says the question is gone and no leg is at IBKR) a yes places the same group again under
    ``new_group_id()`` (every leg's id re-derived), each new row linking the first group's leg; the
    first group's rows become ``declined`` ("question expired")."""
    group, pending = held.group, held.question
    expired = held.ctx.clock() >= pending.expires_at
    text = " / ".join(pending.messages) or "(no text)"
    if not yes:
        transcript = _answered(held, False, expired=expired)
        if not expired:
            yield from orderpath.discard(pending.reply_id)
        message = f"declined by the caller: IBKR asked {', '.join(pending.message_ids)}: {text!r}"
        yield from _settle_all(group, group.legs, orderpath.DECLINED, transcript, message)
        declined = HeldGroup(
            group=group, contract=held.contract, ctx=held.ctx, question=pending, transcript=transcript,
            rounds=held.rounds,
        )  # fmt: skip
        # The host's word for "not placed" is ``rejected`` (as for a single order's no).
        return declined.result(mask_text(message), status="rejected"), None
    ctx = evolve(held.ctx, confirm=held.ctx.confirm | frozenset(pending.message_ids))
    transcript = _answered(held, True, expired=expired)
    if not expired:
        # Write-ahead: the yes may place the group; until IBKR answers, every row says so.
        yield from _settle_all(
            group, group.legs, "submitted_unconfirmed", transcript, "answering IBKR's question yes"
        )
        settled = yield from _settle_group(
            state, group, held.contract, ctx, transcript,
            orderpath.continue_held(pending.reply_id, transcript), hold=True, rounds=held.rounds,
        )  # fmt: skip
        if settled is not None:
            return settled
        # IBKR says the question is gone inside the window: before placing the group again, make
        # sure none of its legs is at IBKR after all (never twice).
        try:
            found = yield from _find_legs(state, group, ctx)
        except GatewayError as exc:
            message = (
                f"group {group.group_id}: IBKR's question is gone and live orders could not be read "
                f"('{exc}'); the group was NOT sent again, reconcile before retrying"
            )
            yield from _settle_all(group, group.legs, orderpath.UNKNOWN_AT_BROKER, transcript, message)
            raise OrderStateUnknownError(message, client_order_id=held.client_order_id) from exc
        if found:
            what = "IBKR's question was gone before the yes"
            return (yield from _settle_found(group, ctx, transcript, found, what)), None
    if expired:
        window = f"{orderpath.REPLY_WINDOW_S:.0f} s"
        reason = f"question expired: IBKR's reply window ({window}) was over before the yes"
    else:
        reason = "question expired at IBKR before the yes (its reply id is gone or was invalidated)"
    yield from _settle_all(group, group.legs, orderpath.DECLINED, transcript, reason)
    again = regroup(group, new_group_id())
    log.info("group %s: question expired; placing it again as %s", group.group_id, again.group_id)
    return (yield from place_group_held(state, again, held.contract, ctx, hold=True, linked=group))


# -- modifying a leg of a group: quantities kept consistent ----------------------------------------

#: Roles whose quantity follows the entry's (a bracket's exits: one OCA group of equal quantities).
EXIT_ROLES = frozenset({"take_profit", "stop_loss"})


@define(frozen=True, kw_only=True)
class LoggedLeg:
    """One leg of a logged group: its role and field (from its row's group record), its ids, its
    current terms (the row's payload: the wire body as last accepted) and its order-log status."""

    role: str
    field: str
    client_order_id: str
    order_id: str | None
    quantity: float
    payload: dict[str, Any]
    status: str

    @property
    def open(self) -> bool:
        return self.status not in LOG_TERMINAL


def group_record_of(entry: JournalEntry | None) -> dict[str, Any] | None:
    """The group record of a logged order (``{"id", "kind", "role", "field", "legs"}``), or ``None``
    for an order that is not a leg of a group."""
    if entry is None:
        return None
    for record in entry.transcript or ():
        group = record.get("group") if isinstance(record, Mapping) else None
        if isinstance(group, Mapping) and isinstance(group.get("legs"), list):
            return dict(group)
    return None


def logged_leg(entry: JournalEntry) -> LoggedLeg | None:
    record = group_record_of(entry)
    if record is None:
        return None
    return LoggedLeg(
        role=str(record.get("role") or ""),
        field=str(record.get("field") or record.get("role") or ""),
        client_order_id=entry.client_order_id,
        order_id=entry.order_id,
        quantity=float(entry.quantity),
        payload=dict(entry.payload),
        status=entry.status,
    )


def group_legs(
    *, order_id: str | None = None, client_order_id: str | None = None
) -> effects.Op[tuple[dict[str, Any], list[LoggedLeg]] | None]:
    """The group record and every logged leg of the group that order ``order_id`` (IBKR's id) or
    ``client_order_id`` (any leg's cOID) belongs to; ``None`` when the order log has no group for it
    (no journal, not logged, or a single order)."""
    entry: JournalEntry | None
    if client_order_id is not None:
        entry = yield effects.FindEntry(client_order_id=client_order_id)
    else:
        entry = yield effects.FindOrder(order_id=str(order_id))
    record = group_record_of(entry if isinstance(entry, JournalEntry) else None)
    if record is None:
        return None
    legs: list[LoggedLeg] = []
    for coid in record["legs"]:
        row = yield effects.FindEntry(client_order_id=str(coid))
        leg = logged_leg(row) if isinstance(row, JournalEntry) else None
        if leg is not None:
            legs.append(leg)
    return record, legs


def _quantity_word(order: Mapping[str, Any] | None) -> str:
    if order is not None and order.get("quantity") is not None and order.get("qty") is None:
        return "quantity"
    return "qty"


def check_quantities(
    kind: str,
    legs: Sequence[LoggedLeg],
    changes: Mapping[str, Mapping[str, Any]],
    orders: Mapping[str, Mapping[str, Any]] | None = None,
) -> float | None:
    """Refuse a modification that would leave the group's quantities inconsistent; pure.

    ``changes``: leg cOID -> the new CPAPI body of that leg (translated); ``orders``: leg cOID -> the
    caller's host dict (to name the field as the caller wrote it). Returns the entry's new quantity
    when the entry's quantity changes (its exits are then resized to it), else ``None``.

    Rules (IBKR keeps an OCA group's quantities equal: a bracket's exits are one, an OCO is one):
    an exit changed with the entry must take the entry's new quantity; an exit's quantity changed
    without the entry's needs every other open exit changed to the same quantity, and may not
    exceed the entry's; an OCO order's quantity changes only with every other open order's. A
    refusal is an :class:`OrderValidationError` naming the leg and field (``stop_loss.qty``)."""
    by_coid = {leg.client_order_id: leg for leg in legs}
    for coid in changes:
        if coid not in by_coid:
            raise OrderValidationError("client_order_id", f"{coid!r} is not a leg of this group")
    orders = orders or {}

    def new_qty(leg: LoggedLeg) -> float:
        return float(changes[leg.client_order_id].get("quantity") or 0.0)

    def changed(leg: LoggedLeg) -> bool:
        return leg.client_order_id in changes and new_qty(leg) != leg.quantity

    def where(leg: LoggedLeg) -> str:
        return f"{leg.field}.{_quantity_word(orders.get(leg.client_order_id))}"

    def lagging(leg: LoggedLeg, members: Sequence[LoggedLeg]) -> LoggedLeg | None:
        """An open member of ``leg``'s OCA group that does not change to ``leg``'s new quantity."""
        for other in members:
            if other is leg or not other.open:
                continue
            if other.client_order_id not in changes or new_qty(other) != new_qty(leg):
                return other
        return None

    entry = next((leg for leg in legs if leg.role == "entry"), None)
    if kind == "oco":
        for leg in (x for x in legs if changed(x)):
            other = lagging(leg, legs)
            if other is not None:
                raise OrderValidationError(
                    where(leg),
                    f"changing one OCO order's quantity alone ({leg.quantity:g} -> {new_qty(leg):g}) "
                    f"would leave the group's quantities unequal ({other.field} keeps "
                    f"{other.quantity:g}); IBKR keeps an OCA group's quantities equal: change every "
                    "open order of the group to the same quantity (client.modify_group)",
                )
        return None
    exits = [leg for leg in legs if leg.role in EXIT_ROLES]
    if entry is not None and changed(entry):
        target = new_qty(entry)
        for leg in exits:
            if leg.client_order_id in changes and new_qty(leg) != target:
                raise OrderValidationError(
                    where(leg),
                    f"must equal the entry's new quantity {target:g} (a bracket's exits follow its "
                    f"entry), got {new_qty(leg):g}",
                )
        return target
    for leg in (x for x in exits if changed(x)):
        if entry is not None and new_qty(leg) > entry.quantity:
            raise OrderValidationError(
                where(leg),
                f"{new_qty(leg):g} exceeds the entry's quantity {entry.quantity:g} (an exit closes at "
                "most what the entry opens)",
            )
        other = lagging(leg, exits)
        if other is not None:
            raise OrderValidationError(
                where(leg),
                f"changing one exit's quantity alone ({leg.quantity:g} -> {new_qty(leg):g}) would "
                f"leave the bracket's exits unequal ({other.field} keeps {other.quantity:g}); IBKR "
                f"keeps an OCA exit group's quantities equal: change {other.field} to the same "
                "quantity too (client.modify_group), or change the entry's quantity (its exits follow)",
            )
    return None


@define(frozen=True, kw_only=True)
class GroupModify:
    """What is left of a group modification whose first leg's question is held for the caller:
    the other changed legs and the exits to resize, done by :func:`finish_modify` once the held
    question is answered yes and IBKR accepted the first leg's modification."""

    group_id: str
    legs: tuple[LoggedLeg, ...]
    changes: dict[str, dict[str, Any]]
    resize_to: float | None
    ctx: orderpath.OrderContext
    contract: dict[str, Any]


def modify_group(
    state: effects.SessionState,
    group_id: str,
    kind: str,
    legs: Sequence[LoggedLeg],
    changes: Mapping[str, Mapping[str, Any]],
    ctx: orderpath.OrderContext,
    *,
    contract: Mapping[str, Any],
    hold: bool = False,
    orders: Mapping[str, Mapping[str, Any]] | None = None,
) -> effects.Op[tuple[m.OrderResult, orderpath.HeldOrder | None, GroupModify | None]]:
    """Modify legs of one group (``changes``: leg cOID -> new CPAPI body), entry first, each leg's
    modification recorded in the order log as a single order's (``orderpath.modify_order_held``).
    When the entry's quantity changes, its open exits are resized to it afterwards (their other
    terms kept). Returns (the first changed leg's result with every modified leg; the first leg's
    held question, if ``hold`` and IBKR asked one; then what is left for :func:`finish_modify`).

    Whether IBKR resizes a bracket's exits itself when the entry's quantity is modified is not
    documented for the Client Portal API (TWS adjusts attached orders). Tolerant of both readings:
    after the entry's modification the exits are read from live orders; an exit IBKR already shows
    at the new size is not sent again (its row records the resize as IBKR's), any other is modified.
    ``orders``: leg cOID -> the caller's host dict (a refusal names the field as the caller wrote it)."""
    resize_to = check_quantities(kind, legs, changes, orders)
    ordered = [leg for leg in legs if leg.client_order_id in changes]
    if not ordered:
        raise OrderValidationError("client_order_id", f"no leg of group {group_id} is changed")
    for leg in ordered:
        if leg.order_id is None:
            raise OrderValidationError(
                leg.field, f"leg {leg.client_order_id} has no IBKR order id yet (reconcile first)"
            )
    first = ordered[0]
    assert first.order_id is not None
    result, held = yield from orderpath.modify_order_held(
        state, first.order_id, changes[first.client_order_id], ctx, contract=contract,
        coid=first.client_order_id, hold=hold,
    )  # fmt: skip
    rest = GroupModify(
        group_id=group_id, legs=tuple(legs),
        changes={k: dict(v) for k, v in changes.items() if k != first.client_order_id},
        resize_to=resize_to, ctx=ctx, contract=dict(contract),
    )  # fmt: skip
    if held is not None:
        return _group_modified(group_id, [(first, result)]), held, rest
    done = yield from finish_modify(state, rest, [(first, result)])
    return done, None, None


def finish_modify(
    state: effects.SessionState,
    rest: GroupModify,
    results: Sequence[tuple[LoggedLeg, m.OrderResult]] = (),
) -> effects.Op[m.OrderResult]:
    """The other changed legs (questions under the policy), then the exits resized to the entry's
    new quantity (:func:`resize_exits`); the result lists every modified leg."""
    done = list(results)
    if done and done[0][1].status == "rejected":
        return _group_modified(rest.group_id, done)  # the first leg was not modified: nothing follows
    for leg in rest.legs:
        if leg.client_order_id not in rest.changes or leg.order_id is None:
            continue
        try:
            result, _held = yield from orderpath.modify_order_held(
                state, leg.order_id, rest.changes[leg.client_order_id], rest.ctx, contract=rest.contract,
                coid=leg.client_order_id,
            )  # fmt: skip
        except IBKRError as exc:
            log.warning("group %s: leg %s not modified: %s", rest.group_id, leg.client_order_id, exc)
            result = _not_modified(leg, rest.ctx, exc)
        done.append((leg, result))
    if rest.resize_to is not None:
        exits = [
            leg
            for leg in rest.legs
            if leg.role in EXIT_ROLES and leg.open and leg.client_order_id not in rest.changes
            and all(leg is not x for x, _ in done)
        ]  # fmt: skip
        if exits:
            entry = next((x for x in rest.legs if x.role == "entry"), None)
            resized = yield from resize_exits(
                state, exits, rest.resize_to, rest.ctx, contract=rest.contract, entry=entry
            )
            done.extend(resized)
    if not done:
        raise OrderValidationError("client_order_id", f"no leg of group {rest.group_id} is changed")
    return _group_modified(rest.group_id, done)


@define(kw_only=True)
class HeldLegChange:
    """A group modification held at its first leg's question (a :class:`.orderpath.HeldQuestion`):
    the leg's held modification and what is left of the group (:class:`GroupModify`). A yes that
    IBKR accepts finishes the group (:func:`finish_modify`); a further question is held again."""

    held: orderpath.HeldOrder
    rest: GroupModify

    @property
    def client_order_id(self) -> str:
        return self.held.client_order_id

    @property
    def order_id(self) -> str | None:
        return self.held.order_id

    @property
    def question(self) -> m.PendingQuestion:
        return self.held.question

    @property
    def contract(self) -> dict[str, Any]:
        return self.held.contract

    def resume(
        self, state: effects.SessionState, yes: bool, new_id: Callable[[], str]
    ) -> effects.Op[tuple[m.OrderResult, HeldLegChange | None]]:
        result, again = yield from orderpath.answer(state, self.held, yes, new_coid=new_id)
        if again is not None:  # IBKR asked again: the rest of the group waits for that answer
            return result, HeldLegChange(held=again, rest=self.rest)
        if yes and result.status != "rejected":
            first = [x for x in self.rest.legs if x.client_order_id == result.client_order_id]
            done = yield from finish_modify(state, self.rest, [(first[0], result)] if first else [])
            return done, None
        return result, None


def _not_modified(leg: LoggedLeg, ctx: orderpath.OrderContext, exc: BaseException) -> m.OrderResult:
    return m.OrderResult(
        order_id=leg.order_id, client_order_id=leg.client_order_id, status="rejected",
        mode=ctx.mode, account_id=ctx.account_id, message=mask_text(str(exc)),
    )  # fmt: skip


def _group_modified(group_id: str, results: Sequence[tuple[LoggedLeg, m.OrderResult]]) -> m.OrderResult:
    head = results[0][1]
    legs = tuple(
        m.LegResult(
            role=leg.role,
            client_order_id=leg.client_order_id,
            order_id=result.order_id or leg.order_id,
            status=result.status,
            ibkr_status=result.ibkr_status,
        )
        for leg, result in results
    )
    failed = [f"{leg.client_order_id} ({r.message})" for leg, r in results if r.status == "rejected"]
    message = head.message
    if failed:
        message = (
            f"{message}; NOT modified: {', '.join(failed)} -- the group's quantities are unequal until "
            "these are modified again"
        ).lstrip("; ")
    return evolve(head, group_id=group_id, legs=legs, message=message)


def resize_exits(
    state: effects.SessionState,
    exits: Sequence[LoggedLeg],
    quantity: float,
    ctx: orderpath.OrderContext,
    *,
    contract: Mapping[str, Any],
    entry: LoggedLeg | None = None,
) -> effects.Op[list[tuple[LoggedLeg, m.OrderResult]]]:
    """Give each open exit ``quantity`` (every other term as last accepted), one modification each,
    recorded in the order log. An exit that live orders already show at ``quantity`` (IBKR resized
    it with its parent) is recorded as such and not sent; a failure is reported, not raised (the
    entry is modified already: the result says which exit still needs it).

    [unconfirmed] How IBKR sizes a bracket's exits while the entry is partly filled: the simulator
    keeps them at the entry's size (they cover what it has filled); the other reading sizes them to
    the entry's fills. An exit that live orders show at exactly the ``entry``'s filled quantity,
    below ``quantity``, is taken to be IBKR sizing it to the fills and is left to IBKR (not sent)."""
    try:
        live = yield from iserver.live_orders(state, ctx.account_id)
    except GatewayError as exc:
        log.info("resizing exits: live orders could not be read (%s); sending every resize", exc)
        live = []
    by_id = {str(o.order_id): o for o in live if o.order_id is not None}
    entry_live = by_id.get(str(entry.order_id)) if entry is not None else None
    fills = float(entry_live.filled_quantity or 0.0) if entry_live is not None else 0.0
    out: list[tuple[LoggedLeg, m.OrderResult]] = []
    for leg in exits:
        body = {k: v for k, v in leg.payload.items() if k != _COID} | {"quantity": quantity}
        shown = by_id.get(str(leg.order_id))
        if shown is not None and not status_info(shown.status).live:
            continue  # filled or cancelled meanwhile: nothing to resize
        size = None if shown is None or shown.total_size is None else float(shown.total_size)
        if shown is not None and 0.0 < fills < quantity and size == fills:
            log.info(
                "group exit %s: IBKR sizes it to the entry's fills (%g); left to IBKR",
                leg.client_order_id,
                fills,
            )
            out.append((leg, orderpath.found_result(shown, leg.client_order_id, ctx, [])))
            continue
        assert leg.order_id is not None
        if shown is not None and shown.total_size is not None and float(shown.total_size) == quantity:
            mod = orderpath.modification(leg.order_id, leg.client_order_id, body, contract, ctx)
            ref = yield effects.RecordModification(mod)
            if ref is not None:
                note = "resized by IBKR with its parent (live orders show the new size); not sent"
                yield effects.SettleModification(
                    ref, Settlement(status="accepted", transcript=[], message=note, ibkr_status=shown.status)
                )
            out.append((leg, orderpath.found_result(shown, leg.client_order_id, ctx, [])))
            continue
        try:
            result, _held = yield from orderpath.modify_order_held(
                state, leg.order_id, body, ctx, contract=contract, coid=leg.client_order_id
            )
        except IBKRError as exc:
            log.warning("group exit %s not resized: %s", leg.client_order_id, exc)
            result = _not_modified(leg, ctx, exc)
        out.append((leg, result))
    return out


# --------------------------------------------------------------------------------------------
# The group operations a client delegates to (steps 1-3 of :mod:`.orderpath`, then the flows above)


def prepare_group(
    desk: orderpath.OrderDesk,
    order: Mapping[str, Any],
    contract: orderpath.ContractLike,
    confirm: Iterable[str] = (),
) -> effects.Op[tuple[orderpath.OrderContext, dict[str, Any], OrderGroup]]:
    """:func:`.orderpath.prepare` for a bracket / OCO / OTO -> (context, contract mapping,
    :class:`OrderGroup`)."""
    members = order.get("oco")
    head: Mapping[str, Any] = order
    if isinstance(members, Sequence) and members and isinstance(members[0], Mapping):
        head = members[0]  # an OCO's account, mode and contract rules are its first order's
    head = {k: v for k, v in head.items() if k not in GROUP_KEYS}
    if order.get("mode") is not None:
        head = {**head, "mode": order["mode"]}
    # The entry's side's rules (IBKR answers per side): exits use the same contract's grid, and
    # a resolved contract's ``sell_increment_rules`` when it carries them.
    done = yield from orderpath.check(desk, head, contract, confirm)
    plain = {k: v for k, v in order.items() if k != "mode"}
    if isinstance(members, Sequence) and not isinstance(members, str):
        plain["oco"] = [
            {k: v for k, v in leg.items() if k != "mode"} if isinstance(leg, Mapping) else leg
            for leg in members
        ]
    options = done.settings.translate_options(done.account_id)
    return done.ctx, done.contract, translate_group(plain, done.contract, options)


def group(
    desk: orderpath.OrderDesk, order: Mapping[str, Any], contract: orderpath.ContractLike
) -> effects.Op[OrderGroup]:
    """The group :func:`place` would send for a group dict (nothing is sent)."""
    _ctx, _cdict, found = yield from prepare_group(desk, order, contract)
    return found


def place_group_order(
    desk: orderpath.OrderDesk,
    order: Mapping[str, Any],
    contract: orderpath.ContractLike,
    confirm: Iterable[str] = (),
    hold: bool = False,
    *,
    guard: effects.Op[None] | None = None,
) -> effects.Op[m.OrderResult]:
    """A bracket / OCO / OTO (:mod:`..orders.groups`): ``guard`` (the client's reset-window guard)
    first, every leg validated, then one POST (:func:`place_group_held`). Raises before anything
    is sent, as :func:`.orderpath.prepare`. With ``hold`` IBKR's question about the group is held
    like a single order's, under the parent's cOID (``answer_question(parent cOID, yes)``
    continues the group's reply loop)."""
    if guard is not None:
        yield from guard
    ctx, cdict, found = yield from prepare_group(desk, order, contract, confirm)
    result, held = yield from place_group_held(desk.state, found, cdict, ctx, hold=hold)
    desk.keep(held)
    return orderpath.say_rules(result, cdict)


def modify(
    desk: orderpath.OrderDesk,
    order_id: str | int,
    order: Mapping[str, Any],
    contract: orderpath.ContractLike | None,
    confirm: Iterable[str] = (),
    hold: bool = False,
    *,
    guard: effects.Op[None] | None = None,
) -> effects.Op[m.OrderResult]:
    """:func:`.orderpath.modify`, except that a modification of a logged order-group leg that
    changes its quantity goes through :func:`modify_group` (an entry's exits follow it; one exit
    alone is refused naming the leg and field). Anything else is one order's modification."""
    prepared = yield from orderpath.prepare_modify(desk, order_id, order, contract, confirm, guard=guard)
    found = yield from group_legs(order_id=str(order_id).strip())
    leg = None
    if found is not None:
        leg = next((x for x in found[1] if x.order_id == str(order_id).strip()), None)
    if found is None or leg is None or float(prepared.ticket.get("quantity") or 0.0) == leg.quantity:
        return (yield from orderpath.modify_prepared(desk, order_id, prepared, hold))  # price / terms only
    record, legs = found
    result, held, rest = yield from modify_group(
        desk.state, str(record["id"]), str(record["kind"]), legs, {leg.client_order_id: prepared.ticket},
        prepared.ctx, contract=prepared.contract, hold=hold, orders={leg.client_order_id: order},
    )  # fmt: skip
    if held is not None and rest is not None:
        desk.keep(HeldLegChange(held=held, rest=rest))
    else:
        desk.keep(held)
    return orderpath.say_rules(result, prepared.contract)


def modify_group_order(
    desk: orderpath.OrderDesk,
    client_order_id: str,
    changes: Mapping[str, Mapping[str, Any]],
    contract: orderpath.ContractLike | None,
    confirm: Iterable[str] = (),
    *,
    guard: effects.Op[None] | None = None,
) -> effects.Op[m.OrderResult]:
    """``modify_group``: every changed leg (by field or cOID) translated first (nothing is sent
    before all pass), the group's quantities checked, then one modification per leg, entry first."""
    if guard is not None:
        yield from guard
    found = yield from group_legs(client_order_id=str(client_order_id))
    if found is None:
        raise OrderValidationError(
            "client_order_id", f"{client_order_id!r} is not a leg of an order group in the order log"
        )
    record, legs = found
    by_key = {leg.field: leg for leg in legs} | {leg.client_order_id: leg for leg in legs}
    if not changes:
        raise OrderValidationError("changes", "no leg is changed")
    tickets: dict[str, dict[str, Any]] = {}
    named: dict[str, Mapping[str, Any]] = {}
    ctx: orderpath.OrderContext | None = None
    cdict: dict[str, Any] = {}
    for key, leg_order in changes.items():
        leg = by_key.get(str(key))
        if leg is None:
            names = ", ".join(sorted(by_key))
            raise OrderValidationError(
                f"changes[{key!r}]", f"not a leg of group {record['id']} (legs: {names})"
            )
        if leg.order_id is None:
            raise OrderValidationError(leg.field, f"leg {leg.client_order_id} has no IBKR order id yet")
        leg_contract = contract
        if leg_contract is None:
            leg_contract = yield from orderpath.order_contract(desk.state, leg.order_id, leg_order)
        try:
            leg_ctx, cdict, ticket = yield from orderpath.prepare(desk, leg_order, leg_contract, confirm)
        except OrderValidationError as exc:
            raise OrderValidationError(f"{leg.field}.{exc.field}", exc.reason) from exc
        ctx = ctx or leg_ctx
        tickets[leg.client_order_id] = ticket
        named[leg.client_order_id] = leg_order
    assert ctx is not None
    result, _held, _rest = yield from modify_group(
        desk.state, str(record["id"]), str(record["kind"]), legs, tickets, ctx, contract=cdict,
        orders=named,
    )  # fmt: skip
    return orderpath.say_rules(result, cdict)
