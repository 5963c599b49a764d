"""The order flow of a group (bracket / OCO / OTO), I/O-free (part of the core, as ``orderflow``).

* Every leg is written to the order log (``RecordPending``) before the one POST; a leg whose row
  cannot be written stops the group: nothing is sent, and the rows already written say so.
* The whole ``orders`` array goes in one POST (REFERENCE §4.1: one order per request, except a
  bracket or an OCA group). IBKR's questions are about the request, so they are answered under
  the order's one policy (:class:`~axion_broker_ibkr.orderflow.OrderContext`) for every leg: a
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
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import evolve

from . import convert, core, orderflow
from . import models as m
from .errors import AMBIGUOUS, GatewayError, IBKRError, OrderStateUnknownError
from .journal import JournalEntry, Settlement
from .masking import mask_account
from .orders.groups import GroupLeg, OrderGroup
from .orders.status import host_order_status

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
    group: OrderGroup, leg: GroupLeg, contract: Mapping[str, Any], ctx: orderflow.OrderContext
) -> JournalEntry:
    entry = orderflow.journal_entry({**leg.payload, _COID: leg.client_order_id}, contract, ctx)
    return evolve(
        entry,
        payload=dict(leg.payload),  # what is sent: children carry parentId, not a cOID
        parent_client_order_id=leg.parent_id,
        transcript=[group_record(group, leg), *entry.transcript],
    )


def _settle_all(
    group: OrderGroup, legs: Sequence[GroupLeg], status: str, transcript: list[dict[str, Any]], message: str
) -> core.Op[None]:
    for leg in legs:
        yield core.RecordResult(
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
    state: core.SessionState, group: OrderGroup, ctx: orderflow.OrderContext
) -> core.Op[dict[str, m.Order]]:
    """The group's legs among live orders (never re-sent): leg cOID -> live order."""
    orders = yield from core.live_orders(state, ctx.account_id)
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
    state: core.SessionState, group: OrderGroup, contract: Mapping[str, Any], ctx: orderflow.OrderContext
) -> core.Op[m.OrderResult]:
    """Journal every leg, send the group in one POST, answer its questions, settle every leg."""
    head = group.legs[0]
    yield from core.ensure_accounts(state)
    written: list[GroupLeg] = []
    for leg in group.legs:
        try:
            yield core.RecordPending(_entry(group, leg, contract, ctx))
        except Exception as exc:
            yield from _settle_all(
                group, written, "rejected", [],
                f"not sent: the order log could not record leg {leg.field} of group {group.group_id} ({exc})",
            )  # fmt: skip
            raise
        written.append(leg)
    transcript: list[dict[str, Any]] = orderflow.ignored_keys_record(ctx)
    log.info(
        "placing %s group %s (%d orders) on %s [%s]",
        group.kind, group.group_id, len(group.legs), mask_account(ctx.account_id), ctx.mode,
    )  # fmt: skip
    path = f"/iserver/account/{ctx.account_id}/orders"
    try:
        first = yield from orderflow.first_post(path, {"orders": group.payloads()})
        acks = yield from orderflow.reply_loop(first, ctx, transcript, head.client_order_id)
    except IBKRError as exc:
        # As orderflow: what the rows say is a function of ``exc.delivery`` alone (not_sent /
        # refused: no leg is at IBKR, a question not answered yes is ``declined``; ambiguous: look).
        settled = orderflow.failure_status(exc, modification=False)
        if settled is None:
            raise
        delivery, status = settled
        if delivery == AMBIGUOUS:
            return (yield from _lost_answer(state, group, ctx, transcript, exc))
        yield from _settle_all(group, group.legs, status, transcript, orderflow.failure_message(exc))
        raise
    return (yield from _settle_acks(state, group, ctx, transcript, acks))


def _settle_acks(
    state: core.SessionState,
    group: OrderGroup,
    ctx: orderflow.OrderContext,
    transcript: list[dict[str, Any]],
    acks: Sequence[m.OrderAck],
) -> core.Op[m.OrderResult]:
    head = group.legs[0]
    quantity = float(head.payload.get("quantity") or 0.0)
    head_result = orderflow.ack_result(acks[:1], head.client_order_id, ctx, quantity, transcript)
    head_result = yield from orderflow.with_fills(state, head_result, quantity)
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
            yield core.RecordResult(
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
        yield core.RecordResult(
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
    state: core.SessionState,
    group: OrderGroup,
    ctx: orderflow.OrderContext,
    transcript: list[dict[str, Any]],
    exc: IBKRError,
) -> core.Op[m.OrderResult]:
    """The POST's answer was lost: find every leg at IBKR (by cOID, then parent and terms); send nothing."""
    head = group.legs[0]
    log.warning(
        "group %s: ambiguous failure (%s); looking for its legs among live orders", group.group_id, exc
    )
    for leg in group.legs:
        yield core.RecordResult(
            leg.client_order_id, Settlement(status="submitted_unconfirmed", message=str(exc))
        )
    try:
        found = yield from _find_legs(state, group, ctx)
    except GatewayError as lookup_exc:
        log.warning("group %s: live-order lookup failed too: %s", group.group_id, lookup_exc)
        found = {}
    missing = [leg for leg in group.legs if leg.client_order_id not in found]
    for leg in missing:
        yield core.RecordResult(
            leg.client_order_id,
            Settlement(
                status=orderflow.UNKNOWN_AT_BROKER,
                transcript=[group_record(group, leg), *transcript],
                message=f"group {group.group_id}: state unknown after '{exc}'; NOT re-sent, reconcile first",
            ),
        )
    if head.client_order_id not in found:
        raise OrderStateUnknownError(
            f"order group {group.group_id}: state unknown after '{exc}'; nothing was re-sent, reconcile "
            "before retrying",
            client_order_id=head.client_order_id,
        ) from exc
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
        yield core.RecordResult(
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
    head_result = orderflow.found_result(found[head.client_order_id], head.client_order_id, ctx, transcript)
    if missing:
        lost = ", ".join(x.client_order_id for x in missing)
        head_result = evolve(head_result, message=f"{head_result.message}; not found (reconcile): {lost}")
    return evolve(head_result, group_id=group.group_id, legs=tuple(legs))
