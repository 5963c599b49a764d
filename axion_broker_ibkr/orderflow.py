"""The order flow, I/O-free: journal -> POST -> question/reply loop -> result (part of the core).

* The journal entry is written (``RecordPending``) *before* the POST; if that raises, nothing is
  sent.
* Questions are answered from the configured allow-list (``auto_confirm``, default: none) plus
  the ids the caller confirmed for this one order (``confirm=``); a question is answered "yes"
  only when every one of its message ids is in that union. A question that is not allowed is
  answered "no" (so the order is discarded at IBKR, not left pending) and ends with
  :class:`~axion_broker_ibkr.errors.QuestionRefusedError` quoting IBKR's text. Chains are followed
  up to a bound. The whole exchange is kept as a transcript for the order log.
* An order POST is never retried blindly: after an ambiguous failure (timeout, connection lost
  after sending, 5xx) the flow looks for the order's ``cOID`` among live orders; found -> the
  order is reported as placed, not found -> :class:`~axion_broker_ibkr.errors.OrderStateUnknownError`
  and the journal keeps it as ``unknown_at_broker`` for reconciliation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import define

from . import convert, core
from . import models as m
from .errors import (
    AMBIGUOUS,
    NOT_SENT,
    REFUSED,
    Delivery,
    GatewayError,
    IBKRError,
    OrderRejectedError,
    OrderStateUnknownError,
    OrderValidationError,
    QuestionRefusedError,
    delivery_of,
)
from .journal import JournalEntry, Modification, ModificationRef
from .masking import mask_account, mask_text
from .orders.status import LOG_DECLINED

log = logging.getLogger(__name__)

#: Journal status of an order whose POST failed ambiguously and whose cOID was not found.
UNKNOWN_AT_BROKER = "unknown_at_broker"


@define(frozen=True, kw_only=True)
class OrderContext:
    """What the flow needs from the client: where the order goes and how questions are answered."""

    account_id: str
    mode: str
    auto_confirm: frozenset[str]
    max_rounds: int
    #: Question ids the caller confirmed for this one order (a trader who read the question).
    confirm: frozenset[str] = frozenset()
    #: Order-dict keys the plugin does not read (kept out of the payload; listed in the log row).
    ignored_keys: tuple[str, ...] = ()

    def answers_yes(self, ids: Sequence[str]) -> bool:
        """Yes only when every message id of the question is allowed (config or this call)."""
        return bool(ids) and all(i in self.auto_confirm or i in self.confirm for i in ids)


_QUESTION_ID = re.compile(r"^[op]\d+$")


def confirm_ids(confirm: Iterable[str] | str) -> frozenset[str]:
    """Normalise a per-call ``confirm`` (``"o163"`` or ``["o163", "O354"]``) to lower-case ids;
    anything that is not an IBKR question id raises :class:`OrderValidationError` on ``confirm``."""
    items = [confirm] if isinstance(confirm, str) else list(confirm)
    out: set[str] = set()
    for item in items:
        text = item.strip().lower() if isinstance(item, str) else None
        if text is None or not _QUESTION_ID.match(text):
            raise OrderValidationError("confirm", f"not an IBKR question id (o163, o354, p12 ...): {item!r}")
        out.add(text)
    return frozenset(out)


def contract_mapping(contract: m.IBKRContract | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(contract, m.IBKRContract):
        return contract.to_host()
    if not isinstance(contract, Mapping):
        raise TypeError(f"contract: expected IBKRContract or a contract dict, got {type(contract).__name__}")
    return dict(contract)


def journal_entry(payload: Mapping[str, Any], contract: Mapping[str, Any], ctx: OrderContext) -> JournalEntry:
    conid = payload.get("conid")
    if conid is None:
        conid = str(payload.get("conidex", contract.get("conid", "0"))).split("@")[0]
    return JournalEntry(
        client_order_id=str(payload["cOID"]),
        account_id=ctx.account_id,
        mode=ctx.mode,
        conid=int(conid),
        symbol=str(contract.get("symbol") or ""),
        sec_type=str(contract.get("sec_type") or ""),
        side=str(payload.get("side") or ""),
        order_type=str(payload.get("orderType") or ""),
        quantity=float(payload.get("quantity") or 0.0),
        price=payload.get("price"),
        aux_price=payload.get("auxPrice"),
        exchange=payload.get("listingExchange") or contract.get("exchange"),
        currency=contract.get("currency"),
        tif=payload.get("tif"),
        payload=dict(payload),
        transcript=ignored_keys_record(ctx),
    )


#: Order-log status of an order whose IBKR question was not answered yes (orders.status.LOG_DECLINED).
DECLINED = LOG_DECLINED


def ignored_keys_record(ctx: OrderContext) -> list[dict[str, Any]]:
    """The transcript's first record when the order dict carried keys the plugin does not read:
    they are not in the payload, and the order-log row says so."""
    if not ctx.ignored_keys:
        return []
    return [{"ignored_keys": list(ctx.ignored_keys), "note": "order keys the plugin does not read; not sent"}]


def _question_record(
    question: m.OrderQuestion, answer: bool, allowed: bool, ctx: OrderContext | None = None
) -> dict[str, Any]:
    ids = [i.lower() for i in question.message_ids]
    return {
        "id": question.id,
        "message_ids": list(question.message_ids),
        "messages": [mask_text(text) for text in question.message],
        "answer": answer,
        "auto_confirmed": allowed,
        # Which ids the caller confirmed for this order (the rest came from auto_confirm).
        "confirmed_by_caller": sorted(i for i in ids if ctx is not None and i in ctx.confirm),
    }


def reply_loop(
    first: m.OrderReply, ctx: OrderContext, transcript: list[dict[str, Any]], coid: str
) -> core.Op[list[m.OrderAck]]:
    """Answer questions until IBKR accepts (acks) or rejects; ``transcript`` is filled in place."""
    reply = first
    rounds = 0
    while True:
        if isinstance(reply, m.OrderReject):
            transcript.append({"error": mask_text(reply.error)})
            raise OrderRejectedError(
                f"IBKR rejected the order: {mask_text(reply.error)}",
                transcript=transcript,
                client_order_id=coid,
            )
        if not reply:
            raise OrderRejectedError(
                "IBKR answered the order with an empty list", transcript=transcript, client_order_id=coid
            )
        if isinstance(reply[0], m.OrderAck):
            return [r for r in reply if isinstance(r, m.OrderAck)]
        question = reply[0]
        assert isinstance(question, m.OrderQuestion)
        ids = [i.lower() for i in question.message_ids]
        allowed = ctx.answers_yes(ids)
        rounds += 1
        text = " / ".join(question.message) or "(no text)"
        if not allowed or rounds > ctx.max_rounds:
            transcript.append(_question_record(question, False, allowed, ctx))
            yield from _discard(question.id)
            if rounds > ctx.max_rounds:
                reason = f"IBKR kept asking questions ({rounds} rounds, limit {ctx.max_rounds}); last: {text}"
            else:
                reason = (
                    f"IBKR asked {', '.join(ids) or 'a question'} and the question policy does not allow "
                    f"answering yes: {text!r}. Confirm it for this order (confirm=[...]) or add the id "
                    "to auto_confirm to accept it."
                )
            raise QuestionRefusedError(
                mask_text(reason), message_ids=ids, transcript=transcript, client_order_id=coid
            )
        transcript.append(_question_record(question, True, True, ctx))
        data = yield from core._call(
            core._post(f"/iserver/reply/{question.id}", {"confirmed": True}, idempotent=False)
        )
        reply = convert.parse_order_reply(data)


def _discard(reply_id: str) -> core.Op[None]:
    """Answer "no" so IBKR drops the pending order; a failure here changes nothing for the caller."""
    try:
        yield core._post(f"/iserver/reply/{reply_id}", {"confirmed": False}, idempotent=False)
    except GatewayError as exc:
        log.info("declining question %s failed (%s); the order was not placed", reply_id, exc)


def find_by_coid(state: core.SessionState, account_id: str, coid: str) -> core.Op[m.Order | None]:
    orders = yield from core.live_orders(state, account_id)
    for order in orders:
        if order.client_order_id == coid:
            return order
    return None


def _ack_result(
    acks: Sequence[m.OrderAck], coid: str, ctx: OrderContext, qty: float, transcript: list[dict[str, Any]]
) -> m.OrderResult:
    from .orders import host_order_status

    ack = acks[0]
    ibkr_status = ack.order_status
    # "Filled" in an acknowledgement means complete; the fill price is read afterwards.
    filled = qty if (ibkr_status or "").lower() == "filled" else 0.0
    return m.OrderResult(
        order_id=ack.order_id,
        client_order_id=coid,
        status=host_order_status(ibkr_status, filled, qty),
        ibkr_status=ibkr_status,
        fill_qty=filled,
        mode=ctx.mode,
        account_id=ctx.account_id,
        transcript=transcript,
        message="" if ibkr_status else "accepted by IBKR",
    )


def _with_fills(state: core.SessionState, result: m.OrderResult, qty: float) -> core.Op[m.OrderResult]:
    """An order that filled at once: read its fill quantity and average price (best effort)."""
    from attrs import evolve

    from .orders import host_order_status

    if result.order_id is None or result.fill_qty <= 0:
        return result
    try:
        status = yield from core.order_status(state, result.order_id)
    except GatewayError as exc:
        log.info("order %s filled; its fill price could not be read: %s", result.order_id, exc)
        return result
    filled = status.cum_fill if status.cum_fill is not None else result.fill_qty
    return evolve(
        result,
        fill_qty=filled,
        fill_price=status.average_price,
        status=host_order_status(status.order_status or result.ibkr_status, filled, status.total_size or qty),
    )


def _found_result(
    order: m.Order, coid: str, ctx: OrderContext, transcript: list[dict[str, Any]]
) -> m.OrderResult:
    from .orders import host_order_status

    filled = order.filled_quantity or 0.0
    total = order.total_size or filled
    return m.OrderResult(
        order_id=None if order.order_id is None else str(order.order_id),
        client_order_id=coid,
        status=host_order_status(order.status, filled, total),
        ibkr_status=order.status,
        fill_qty=filled,
        fill_price=order.avg_price if filled else None,
        mode=ctx.mode,
        account_id=ctx.account_id,
        transcript=transcript,
        message="the answer to the order was lost; found at IBKR by its cOID",
    )


#: Order-log status after a failed order POST, by what the error says of its delivery. An
#: ambiguous failure is first ``submitted_unconfirmed`` while the flow looks for the cOID.
PLACE_FAILURE_STATUS: dict[Delivery, str] = {
    NOT_SENT: "rejected",
    REFUSED: "rejected",
    AMBIGUOUS: "submitted_unconfirmed",
}
#: Modification-record status after a failed modification POST, by delivery.
MODIFY_FAILURE_STATUS: dict[Delivery, str] = {
    NOT_SENT: "not_sent",
    REFUSED: "rejected",
    AMBIGUOUS: UNKNOWN_AT_BROKER,
}


def failure_status(exc: BaseException, *, modification: bool) -> tuple[Delivery, str] | None:
    """What the order log says after sending raised ``exc``: ``(delivery, status)``, a function of
    ``exc.delivery`` (and, for a refusal, of whether it was a question not answered yes, which is
    ``declined`` for an order and ``refused`` for a modification). ``None`` for an error that does
    not say whether it left (a bug, a parse failure): the flow lets it propagate untouched."""
    delivery = delivery_of(exc)
    if delivery is None:
        return None
    if delivery == REFUSED and isinstance(exc, QuestionRefusedError):
        return delivery, ("refused" if modification else DECLINED)
    table = MODIFY_FAILURE_STATUS if modification else PLACE_FAILURE_STATUS
    return delivery, table[delivery]


def failure_message(exc: BaseException) -> str:
    """The order-log message of a failure: IBKR's words for a rejection, the error's text else."""
    return exc.message if isinstance(exc, OrderRejectedError) else str(exc)


def place_order(
    state: core.SessionState, payload: Mapping[str, Any], contract: Mapping[str, Any], ctx: OrderContext
) -> core.Op[m.OrderResult]:
    """Journal, send and settle one (already translated) order."""
    coid = str(payload["cOID"])
    entry = journal_entry(payload, contract, ctx)
    yield from core.ensure_accounts(state)
    yield core.RecordPending(entry)  # raises -> nothing is sent
    transcript: list[dict[str, Any]] = ignored_keys_record(ctx)
    log.info(
        "placing %s %s %s x%s (cOID %s) on %s [%s]",
        entry.side, entry.order_type, entry.symbol, entry.quantity, coid,
        mask_account(ctx.account_id), ctx.mode,
    )  # fmt: skip
    try:
        req = core._post(
            f"/iserver/account/{ctx.account_id}/orders", {"orders": [dict(payload)]}, idempotent=False
        )
        data = yield from core._call(req)
        acks = yield from reply_loop(convert.parse_order_reply(data), ctx, transcript, coid)
    except IBKRError as exc:
        # One clause: what the row says is a function of ``exc.delivery`` (see failure_status), so
        # no ordering of ``except`` clauses can mark a never-sent order as possibly placed.
        settled = failure_status(exc, modification=False)
        if settled is None:
            raise
        delivery, status = settled
        if delivery != AMBIGUOUS:
            # not_sent / refused: not at IBKR. A question not answered yes is ``declined`` (the
            # transcript keeps the question's ids and text), never ``rejected``.
            yield core.RecordResult(
                client_order_id=coid, status=status, transcript=transcript, message=failure_message(exc)
            )
            raise
        # Ambiguous: the order may or may not be at IBKR. Look for its cOID before deciding.
        log.warning("order %s: ambiguous failure (%s); looking for its cOID among live orders", coid, exc)
        yield core.RecordResult(client_order_id=coid, status=status, message=str(exc))
        try:
            found = yield from find_by_coid(state, ctx.account_id, coid)
        except GatewayError as lookup_exc:
            log.warning("order %s: live-order lookup failed too: %s", coid, lookup_exc)
            found = None
        if found is None:
            message = (
                f"order {coid}: state unknown after '{exc}'; it was NOT re-sent, reconcile before retrying"
            )
            yield core.RecordResult(
                client_order_id=coid, status=UNKNOWN_AT_BROKER, transcript=transcript, message=message
            )
            raise OrderStateUnknownError(message, client_order_id=coid) from exc
        result = _found_result(found, coid, ctx, transcript)
        yield core.RecordResult(
            client_order_id=coid,
            status=result.status,
            order_id=result.order_id,
            transcript=transcript,
            message=result.message,
        )
        return result
    result = _ack_result(acks, coid, ctx, entry.quantity, transcript)
    result = yield from _with_fills(state, result, entry.quantity)
    yield core.RecordResult(
        client_order_id=coid,
        status=result.status,
        order_id=result.order_id,
        filled_quantity=result.fill_qty or None,
        avg_fill_price=result.fill_price,
        transcript=transcript,
        message=result.message or None,
    )
    return result


def modification(
    order_id: str,
    coid: str | None,
    body: Mapping[str, Any],
    contract: Mapping[str, Any],
    ctx: OrderContext,
) -> Modification:
    """The order-log view of a modification (new terms; ``body`` is what is sent)."""
    conid = body.get("conid")
    if conid is None:
        conid = str(body.get("conidex", contract.get("conid") or "")).split("@")[0] or None
    return Modification(
        order_id=order_id,
        client_order_id=coid,
        account_id=ctx.account_id,
        mode=ctx.mode,
        conid=None if conid is None else int(conid),
        side=str(body.get("side") or ""),
        order_type=str(body.get("orderType") or ""),
        quantity=float(body.get("quantity") or 0.0),
        price=body.get("price"),
        aux_price=body.get("auxPrice"),
        tif=body.get("tif"),
        payload=dict(body),
    )


def modify_order(
    state: core.SessionState,
    order_id: str | int,
    payload: Mapping[str, Any],
    ctx: OrderContext,
    *,
    contract: Mapping[str, Any] | None = None,
    coid: str | None = None,
) -> core.Op[m.OrderResult]:
    """Modify: one bare order object (no ``orders`` wrapper) repeating every field of the ticket.

    Journaled like a new order: the modification (new terms, body) is recorded before the POST
    (a failure there sends nothing) and settled after it with IBKR's reply / question transcript.
    Accepted -> the order's log row (same cOID) takes the new terms; rejected, refused, not sent
    or lost -> the row keeps its terms and the modification record says why. ``coid`` is the
    original order's cOID when the caller named it; the result carries it (or the one the order
    log matched by order id)."""
    oid = core._order_id(order_id)
    body = {k: v for k, v in payload.items() if k != "cOID"}  # cOID identifies the original order
    yield from core.ensure_accounts(state)
    mod = modification(oid, coid, body, contract or {}, ctx)
    ref: ModificationRef | None = yield core.RecordModification(mod)  # raises -> nothing is sent
    order_coid = coid or (ref.client_order_id if ref is not None else None) or ""
    transcript: list[dict[str, Any]] = []
    log.info(
        "modifying order %s (cOID %s): %s %s x%s price %s on %s [%s]",
        oid, order_coid or "?", mod.side, mod.order_type, mod.quantity, mod.price,
        mask_account(ctx.account_id), ctx.mode,
    )  # fmt: skip

    def settle(status: str, message: str | None = None, ibkr_status: str | None = None) -> core.Op[None]:
        if ref is not None:
            yield core.SettleModification(
                ref=ref, status=status, transcript=transcript, message=message, ibkr_status=ibkr_status
            )

    try:
        req = core._post(f"/iserver/account/{ctx.account_id}/order/{oid}", body, idempotent=False)
        data = yield from core._call(req)
        acks = yield from reply_loop(convert.parse_order_reply(data), ctx, transcript, order_coid)
    except IBKRError as exc:
        settled = failure_status(exc, modification=True)  # a function of exc.delivery alone
        if settled is None:
            raise
        delivery, status = settled
        message = failure_message(exc)
        if delivery == AMBIGUOUS:
            # The modification may or may not have reached IBKR. Never re-sent blindly.
            message = (
                f"modification of order {oid}: state unknown after '{exc}'; it was NOT re-sent, read the "
                "order's status before retrying"
            )
        yield from settle(status, message)
        raise
    result = _ack_result(acks, order_coid, ctx, mod.quantity, transcript)
    if result.order_id is None:
        result = m.OrderResult(**{**_fields(result), "order_id": oid})
    yield from settle("accepted", result.message or None, result.ibkr_status)
    return result


def _fields(result: m.OrderResult) -> dict[str, Any]:
    from attrs import asdict

    return asdict(result, recurse=False)


def whatif(state: core.SessionState, payload: Mapping[str, Any], ctx: OrderContext) -> core.Op[m.WhatIf]:
    yield from core.ensure_accounts(state)
    req = core._post(
        f"/iserver/account/{ctx.account_id}/orders/whatif", {"orders": [dict(payload)]}, idempotent=False
    )
    data = yield from core._call(req)
    return convert.structure(data, m.WhatIf)
