"""The order flow, I/O-free: journal -> POST -> question/reply loop -> fills -> settle (part of the
core). :mod:`.orderpath` runs the steps before it (account, checks, intent, payload) and calls it.

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
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import asdict, define, evolve, field

from .. import models as m
from ..errors import (
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
from ..masking import mask_account, mask_text
from ..naming import describe_contract
from ..orders.status import LOG_AWAITING_ANSWER, LOG_DECLINED, host_order_status
from ..wire import convert
from . import effects, iserver
from .journal import JournalEntry, Modification, ModificationRef, Settlement

log = logging.getLogger(__name__)

#: Journal status of an order whose POST failed ambiguously and whose cOID was not found.
UNKNOWN_AT_BROKER = "unknown_at_broker"

#: How long a question held for the caller (``hold_questions=True``) can still be answered for the
#: same order, in seconds. IBKR publishes no lifetime for a reply id: REFERENCE §4.3 says to reply
#: "immediately" and that another order request invalidates a pending question (a late reply answers
#: 503); users quoting real gateways report an unknown or expired id as 400 "reply id not found"
#: after a few minutes, and the brokerage session itself drops after ~5-6 idle minutes (REFERENCE
#: §1). The plugin trusts one minute (the simulator's ``REPLY_TIMEOUT_S`` is the same), shorter than
#: any reported lifetime; and a reply IBKR calls unknown or invalidated inside the window is treated
#: like an expired one (a yes then places the ticket again under a new cOID, linked to the first).
REPLY_WINDOW_S = 60.0

#: Order-log status of an order whose question is held for the caller (orders.status).
AWAITING_ANSWER = LOG_AWAITING_ANSWER


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
    #: Epoch seconds now (the reply window of a held question is measured with it).
    clock: Callable[[], float] = field(default=time.time, eq=False)

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


def log_symbol(contract: Mapping[str, Any]) -> str:
    """The order-log row's symbol: the contract's symbol, and for forex the pair (``EUR.USD``, not
    ``EUR``: the base currency alone does not say what was traded)."""
    symbol = str(contract.get("symbol") or "")
    if str(contract.get("sec_type") or "").upper() in ("CASH", "FX"):
        return describe_contract({**contract, "symbol": symbol}) or symbol
    return symbol


def journal_entry(
    payload: Mapping[str, Any],
    contract: Mapping[str, Any],
    ctx: OrderContext,
    linked: str | None = None,
) -> JournalEntry:
    """The write-ahead row of an order: its ticket read back through the wire layer."""
    terms = convert.ticket_terms(payload)
    if terms.client_order_id is None:
        raise KeyError("the order ticket carries no client order id (cOID)")
    conid = terms.conid if terms.conid is not None else contract.get("conid", "0")
    return JournalEntry(
        client_order_id=terms.client_order_id,
        account_id=ctx.account_id,
        mode=ctx.mode,
        conid=int(conid),
        symbol=log_symbol(contract),
        sec_type=str(contract.get("sec_type") or ""),
        side=terms.side,
        order_type=terms.order_type,
        quantity=terms.quantity,
        price=terms.price,
        aux_price=terms.aux_price,
        exchange=terms.listing_exchange or contract.get("exchange"),
        currency=contract.get("currency"),
        tif=terms.tif,
        payload=dict(payload),
        transcript=ignored_keys_record(ctx),
        linked_client_order_id=linked,
    )


def result_settlement(
    result: m.OrderResult, transcript: list[dict[str, Any]], *, fills: bool = True
) -> Settlement:
    """How an order's result settles its row (``fills``: with its fill quantity and price)."""
    return Settlement(
        status=result.status,
        order_id=result.order_id,
        ibkr_status=result.ibkr_status,
        filled_quantity=(result.fill_qty or None) if fills else None,
        avg_fill_price=result.fill_price if fills else None,
        message=result.message or None,
        transcript=transcript,
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


@define(frozen=True, kw_only=True)
class Held:
    """The reply loop stopped at a question the policy does not answer yes (``hold``)."""

    question: m.OrderQuestion
    rounds: int


def reply_loop(
    first: m.OrderReply, ctx: OrderContext, transcript: list[dict[str, Any]], coid: str
) -> effects.Op[list[m.OrderAck]]:
    """Answer questions until IBKR accepts (acks) or rejects; ``transcript`` is filled in place."""
    outcome = yield from _reply_loop(first, ctx, transcript, coid)
    assert not isinstance(outcome, Held)
    return outcome


def _reply_loop(
    first: m.OrderReply,
    ctx: OrderContext,
    transcript: list[dict[str, Any]],
    coid: str,
    *,
    hold: bool = False,
    rounds: int = 0,
) -> effects.Op[list[m.OrderAck] | Held]:
    """:func:`reply_loop`; with ``hold`` a question the policy does not answer yes is neither
    answered nor declined: the loop returns :class:`Held` (the caller answers it later)."""
    reply = first
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
        if hold and not allowed and rounds <= ctx.max_rounds:
            return Held(question=question, rounds=rounds)
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
        data = yield from effects.call(
            effects.post(f"/iserver/reply/{question.id}", {"confirmed": True}, idempotent=False)
        )
        reply = convert.parse_order_reply(data)


def _discard(reply_id: str) -> effects.Op[None]:
    """Answer "no" so IBKR drops the pending order; a failure here changes nothing for the caller."""
    try:
        yield effects.post(f"/iserver/reply/{reply_id}", {"confirmed": False}, idempotent=False)
    except GatewayError as exc:
        log.info("declining question %s failed (%s); the order was not placed", reply_id, exc)


def find_by_coid(state: effects.SessionState, account_id: str, coid: str) -> effects.Op[m.Order | None]:
    orders = yield from iserver.live_orders(state, account_id)
    for order in orders:
        if order.client_order_id == coid:
            return order
    return None


def ack_result(
    acks: Sequence[m.OrderAck], coid: str, ctx: OrderContext, qty: float, transcript: list[dict[str, Any]]
) -> m.OrderResult:
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


def with_fills(state: effects.SessionState, result: m.OrderResult, qty: float) -> effects.Op[m.OrderResult]:
    """An order that filled at once: read its fill quantity and average price (best effort)."""
    if result.order_id is None or result.fill_qty <= 0:
        return result
    try:
        status = yield from iserver.order_status(state, result.order_id)
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


def found_result(
    order: m.Order, coid: str, ctx: OrderContext, transcript: list[dict[str, Any]]
) -> m.OrderResult:
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


@define(kw_only=True)
class HeldOrder:
    """What the client keeps of an order (or a modification) whose question is held for the caller:
    everything :func:`answer` needs to continue the same order's reply loop, or to send the same
    ticket again once the question expired. Never persisted (the order log keeps the question)."""

    kind: str  # "place" | "modify"
    client_order_id: str
    question: m.PendingQuestion
    ctx: OrderContext
    payload: dict[str, Any]
    contract: dict[str, Any]
    transcript: list[dict[str, Any]]
    rounds: int
    quantity: float
    order_id: str | None = None  # modify: IBKR's id of the order being modified
    ref: ModificationRef | None = None  # modify: its record in the order log
    named_coid: str | None = None  # modify: the cOID the caller named


def _pending_question(question: m.OrderQuestion, ctx: OrderContext) -> m.PendingQuestion:
    asked = ctx.clock()
    return m.PendingQuestion(
        reply_id=question.id,
        message_ids=tuple(i.lower() for i in question.message_ids),
        messages=tuple(mask_text(text) for text in question.message),
        asked_at=asked,
        expires_at=asked + REPLY_WINDOW_S,
    )


def _held_record(question: m.OrderQuestion, pending: m.PendingQuestion, ctx: OrderContext) -> dict[str, Any]:
    """The transcript record of a held question (answered later: ``answer`` becomes True/False)."""
    record = _question_record(question, False, False, ctx)
    record.update(answer=None, held=True, asked_at=pending.asked_at, expires_at=pending.expires_at)
    return record


def _held_message(coid: str, pending: m.PendingQuestion) -> str:
    text = " / ".join(pending.messages) or "(no text)"
    return (
        f"IBKR asks {', '.join(pending.message_ids) or 'a question'} before order {coid} is placed: "
        f"{text!r}. Nothing is at IBKR yet; answer with answer_question({coid!r}, yes) within "
        f"{REPLY_WINDOW_S:.0f} s (later, a yes places the ticket again under a new cOID)."
    )


def first_post(path: str, body: Any) -> effects.Op[m.OrderReply]:
    data = yield from effects.call(effects.post(path, body, idempotent=False))
    return convert.parse_order_reply(data)


#: ``_continue`` found IBKR's reply id gone (expired, or invalidated by another order request).
_GONE = object()


def _reply_gone(exc: GatewayError) -> bool:
    """IBKR says the question no longer exists: 400 "reply id not found" (expired / unknown), or
    503 "...timed out or was invalidated by another request" (REFERENCE §4.3)."""
    text = f"{exc} {exc.body!r}".lower()
    if exc.status_code == 400 and "reply id not found" in text:
        return True
    # Only IBKR's own wording: a proxy's generic "gateway timed out" says nothing about the order.
    return exc.status_code == 503 and ("invalidated" in text or "order reply timed out" in text)


def _continue(reply_id: str, transcript: list[dict[str, Any]]) -> effects.Op[Any]:
    """Answer yes to a held question: IBKR's next reply, or ``_GONE``."""
    try:
        data = yield from effects.call(
            effects.post(f"/iserver/reply/{reply_id}", {"confirmed": True}, idempotent=False)
        )
    except GatewayError as exc:
        if not _reply_gone(exc):
            raise
        transcript.append(
            {"reply_id": reply_id, "error": mask_text(str(exc)), "note": "the question is gone"}
        )
        return _GONE
    return convert.parse_order_reply(data)


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
    state: effects.SessionState, payload: Mapping[str, Any], contract: Mapping[str, Any], ctx: OrderContext
) -> effects.Op[m.OrderResult]:
    """Journal, send and settle one (already translated) order."""
    result, _held = yield from place_order_held(state, payload, contract, ctx)
    return result


def place_order_held(
    state: effects.SessionState,
    payload: Mapping[str, Any],
    contract: Mapping[str, Any],
    ctx: OrderContext,
    *,
    hold: bool = False,
    linked: str | None = None,
) -> effects.Op[tuple[m.OrderResult, HeldOrder | None]]:
    """:func:`place_order`; with ``hold`` a question the policy does not answer yes is held for the
    caller: the row is ``awaiting_answer`` and the result (``pending``, ``question`` set) comes with
    the :class:`HeldOrder` that :func:`answer` continues. ``linked``: the first order's cOID when
    this is its ticket placed again after its question expired."""
    entry = journal_entry(payload, contract, ctx, linked)
    coid = entry.client_order_id
    yield from iserver.ensure_accounts(state)
    yield effects.RecordPending(entry)  # raises -> nothing is sent
    transcript: list[dict[str, Any]] = ignored_keys_record(ctx)
    if linked:
        transcript.append(
            {"linked_client_order_id": linked, "note": "placed again: the first order's question expired"}
        )
    log.info(
        "placing %s %s %s x%s (cOID %s) on %s [%s]",
        entry.side, entry.order_type, entry.symbol, entry.quantity, coid,
        mask_account(ctx.account_id), ctx.mode,
    )  # fmt: skip
    first = first_post(f"/iserver/account/{ctx.account_id}/orders", {"orders": [dict(payload)]})
    settled = yield from _settle_place(
        state, coid, ctx, transcript, entry.quantity, first, hold=hold, payload=payload, contract=contract
    )
    assert settled is not None  # only a continuation finds the question gone
    return settled


def _settle_place(
    state: effects.SessionState,
    coid: str,
    ctx: OrderContext,
    transcript: list[dict[str, Any]],
    quantity: float,
    first: effects.Op[Any],
    *,
    hold: bool,
    payload: Mapping[str, Any],
    contract: Mapping[str, Any],
    rounds: int = 0,
) -> effects.Op[tuple[m.OrderResult, HeldOrder | None] | None]:
    """Run ``first`` (the order POST, or the yes to a held question) and the reply loop, and settle
    the order's row. ``None``: ``first`` found the question gone (nothing settled)."""
    try:
        reply = yield from first
        if reply is _GONE:
            return None
        outcome = yield from _reply_loop(reply, ctx, transcript, coid, hold=hold, rounds=rounds)
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
            yield effects.RecordResult(
                coid, Settlement(status=status, transcript=transcript, message=failure_message(exc))
            )
            raise
        # Ambiguous: the order may or may not be at IBKR. Look for its cOID before deciding.
        log.warning("order %s: ambiguous failure (%s); looking for its cOID among live orders", coid, exc)
        yield effects.RecordResult(coid, Settlement(status=status, message=str(exc)))
        try:
            found = yield from find_by_coid(state, ctx.account_id, coid)
        except GatewayError as lookup_exc:
            log.warning("order %s: live-order lookup failed too: %s", coid, lookup_exc)
            found = None
        if found is None:
            message = (
                f"order {coid}: state unknown after '{exc}'; it was NOT re-sent, reconcile before retrying"
            )
            yield effects.RecordResult(
                coid, Settlement(status=UNKNOWN_AT_BROKER, transcript=transcript, message=message)
            )
            raise OrderStateUnknownError(message, client_order_id=coid) from exc
        result = found_result(found, coid, ctx, transcript)
        yield effects.RecordResult(coid, result_settlement(result, transcript, fills=False))
        return result, None
    if isinstance(outcome, Held):
        pending = _pending_question(outcome.question, ctx)
        transcript.append(_held_record(outcome.question, pending, ctx))
        message = _held_message(coid, pending)
        yield effects.RecordResult(
            coid, Settlement(status=AWAITING_ANSWER, transcript=transcript, message=message)
        )
        held = HeldOrder(
            kind="place", client_order_id=coid, question=pending, ctx=ctx, payload=dict(payload),
            contract=dict(contract), transcript=transcript, rounds=outcome.rounds, quantity=quantity,
        )  # fmt: skip
        return _held_result(held, message), held
    result = ack_result(outcome, coid, ctx, quantity, transcript)
    result = yield from with_fills(state, result, quantity)
    yield effects.RecordResult(coid, result_settlement(result, transcript))
    return result, None


def _held_result(
    held: HeldOrder, message: str, *, status: str = "pending", transcript: list[dict[str, Any]] | None = None
) -> m.OrderResult:
    """The result of a held order: ``pending`` with its question (the caller answers it), or
    ``status`` without one (``rejected``: declined) with that ``transcript``."""
    pending = status == "pending"
    return m.OrderResult(
        order_id=held.order_id,
        client_order_id=held.client_order_id,
        status=status,
        ibkr_status=None,
        mode=held.ctx.mode,
        account_id=held.ctx.account_id,
        transcript=list(held.transcript) if transcript is None else transcript,
        message=message,
        question=held.question if pending else None,
    )


def _answered(held: HeldOrder, yes: bool, **extra: Any) -> list[dict[str, Any]]:
    """The transcript with the held question's record answered (by the caller)."""
    transcript = list(held.transcript)
    for index in range(len(transcript) - 1, -1, -1):
        if transcript[index].get("held"):
            record = dict(transcript[index])
            record.update(answer=yes, answered_at=held.ctx.clock(), **extra)
            if yes:
                record["confirmed_by_caller"] = list(held.question.message_ids)
            transcript[index] = record
            break
    return transcript


def answer(
    state: effects.SessionState, held: HeldOrder, yes: bool, *, new_coid: Callable[[], str]
) -> effects.Op[tuple[m.OrderResult, HeldOrder | None]]:
    """Answer a held question for the same order: ``yes`` continues its reply loop (same cOID, same
    row), no declines it (row ``declined``, question kept). After the reply window (or when IBKR
    says the question is gone) a yes sends the same ticket again: a new order under ``new_coid()``
    whose row links the first (the first row ``declined``, "question expired"); for a modification,
    the modification is sent again (the first one's record ``refused``)."""
    pending = held.question
    expired = held.ctx.clock() >= pending.expires_at
    text = " / ".join(pending.messages) or "(no text)"
    if not yes:
        transcript = _answered(held, False, expired=expired)
        if not expired:
            yield from _discard(pending.reply_id)
        message = f"declined by the caller: IBKR asked {', '.join(pending.message_ids)}: {text!r}"
        return (yield from _settle_declined(held, transcript, message)), None
    ctx = evolve(held.ctx, confirm=held.ctx.confirm | frozenset(pending.message_ids))
    transcript = _answered(held, True, expired=expired)
    if not expired:
        if held.kind == "place":
            # Write-ahead: the yes may place the order; until IBKR answers, the row says so.
            yield effects.RecordResult(
                held.client_order_id,
                Settlement(
                    status="submitted_unconfirmed",
                    transcript=transcript,
                    message="answering IBKR's question yes",
                ),
            )
            settled = yield from _settle_place(
                state, held.client_order_id, ctx, transcript, held.quantity,
                _continue(pending.reply_id, transcript), hold=True, payload=held.payload,
                contract=held.contract, rounds=held.rounds,
            )  # fmt: skip
        else:
            settled = yield from _settle_modify(
                state, held, ctx, transcript, _continue(pending.reply_id, transcript), rounds=held.rounds
            )
        if settled is not None:
            return settled
        if held.kind == "place":
            # IBKR says the question is gone although the window is not over. Before sending the
            # ticket again, make sure the first order is not at IBKR after all (never twice).
            try:
                found = yield from find_by_coid(state, ctx.account_id, held.client_order_id)
            except GatewayError as exc:
                log.warning("order %s: live-order lookup failed: %s", held.client_order_id, exc)
                message = (
                    f"order {held.client_order_id}: IBKR's question is gone and live orders could not be "
                    f"read ('{exc}'); the ticket was NOT sent again, reconcile before retrying"
                )
                yield effects.RecordResult(
                    held.client_order_id,
                    Settlement(status=UNKNOWN_AT_BROKER, transcript=transcript, message=message),
                )
                raise OrderStateUnknownError(message, client_order_id=held.client_order_id) from exc
            if found is not None:
                result = found_result(found, held.client_order_id, ctx, transcript)
                yield effects.RecordResult(
                    held.client_order_id, result_settlement(result, transcript, fills=False)
                )
                return result, None
    # Expired (or gone at IBKR): the first order is over; the same ticket goes again, answering yes
    # to the question the caller has just accepted.
    if expired:
        reason = f"question expired: IBKR's reply window ({REPLY_WINDOW_S:.0f} s) was over before the yes"
    else:
        reason = "question expired at IBKR before the yes (its reply id is gone or was invalidated)"
    if held.kind == "place":
        yield effects.RecordResult(
            held.client_order_id, Settlement(status=DECLINED, transcript=transcript, message=reason)
        )
        again = new_coid()
        payload = convert.with_client_order_id(held.payload, again)
        log.info("order %s: question expired; placing the ticket again as %s", held.client_order_id, again)
        return (
            yield from place_order_held(
                state, payload, held.contract, ctx, hold=True, linked=held.client_order_id
            )
        )
    if held.ref is not None:
        yield effects.SettleModification(
            held.ref, Settlement(status="refused", transcript=transcript, message=reason)
        )
    assert held.order_id is not None
    return (
        yield from modify_order_held(
            state, held.order_id, held.payload, ctx, contract=held.contract, coid=held.named_coid, hold=True
        )
    )


def _settle_declined(
    held: HeldOrder, transcript: list[dict[str, Any]], message: str
) -> effects.Op[m.OrderResult]:
    if held.kind == "place":
        yield effects.RecordResult(
            held.client_order_id, Settlement(status=DECLINED, transcript=transcript, message=message)
        )
    elif held.ref is not None:
        yield effects.SettleModification(
            held.ref, Settlement(status="refused", transcript=transcript, message=message)
        )
    # The host's word for "not placed" is ``rejected`` (as for a refused question); the log's is
    # ``declined`` and the message says it was the caller's no.
    return _held_result(held, mask_text(message), status="rejected", transcript=transcript)


def modification(
    order_id: str,
    coid: str | None,
    body: Mapping[str, Any],
    contract: Mapping[str, Any],
    ctx: OrderContext,
) -> Modification:
    """The order-log view of a modification (new terms; ``body`` is what is sent)."""
    terms = convert.ticket_terms(body)
    conid = terms.conid if terms.conid is not None else (contract.get("conid") or None)
    return Modification(
        order_id=order_id,
        client_order_id=coid,
        account_id=ctx.account_id,
        mode=ctx.mode,
        conid=None if conid is None else int(conid),
        side=terms.side,
        order_type=terms.order_type,
        quantity=terms.quantity,
        price=terms.price,
        aux_price=terms.aux_price,
        tif=terms.tif,
        payload=dict(body),
    )


def modify_order(
    state: effects.SessionState,
    order_id: str | int,
    payload: Mapping[str, Any],
    ctx: OrderContext,
    *,
    contract: Mapping[str, Any] | None = None,
    coid: str | None = None,
) -> effects.Op[m.OrderResult]:
    """Modify: one bare order object (no ``orders`` wrapper) repeating every field of the ticket.

    Journaled like a new order: the modification (new terms, body) is recorded before the POST
    (a failure there sends nothing) and settled after it with IBKR's reply / question transcript.
    Accepted -> the order's log row (same cOID) takes the new terms; rejected, refused, not sent
    or lost -> the row keeps its terms and the modification record says why. ``coid`` is the
    original order's cOID when the caller named it; the result carries it (or the one the order
    log matched by order id)."""
    result, _held = yield from modify_order_held(state, order_id, payload, ctx, contract=contract, coid=coid)
    return result


def modify_order_held(
    state: effects.SessionState,
    order_id: str | int,
    payload: Mapping[str, Any],
    ctx: OrderContext,
    *,
    contract: Mapping[str, Any] | None = None,
    coid: str | None = None,
    hold: bool = False,
) -> effects.Op[tuple[m.OrderResult, HeldOrder | None]]:
    """:func:`modify_order`; with ``hold`` a question is held for the caller: the modification's
    record is ``awaiting_answer`` (the order itself keeps working at IBKR with its old terms, so
    its row keeps its status) and :func:`answer` continues it."""
    oid = iserver.order_id_text(order_id)
    body = convert.without_client_order_id(payload)  # the cOID identifies the original order
    yield from iserver.ensure_accounts(state)
    mod = modification(oid, coid, body, contract or {}, ctx)
    ref: ModificationRef | None = yield effects.RecordModification(mod)  # raises -> nothing is sent
    order_coid = coid or (ref.client_order_id if ref is not None else None) or ""
    log.info(
        "modifying order %s (cOID %s): %s %s x%s price %s on %s [%s]",
        oid, order_coid or "?", mod.side, mod.order_type, mod.quantity, mod.price,
        mask_account(ctx.account_id), ctx.mode,
    )  # fmt: skip
    # The modification's state; ``question`` is a placeholder until IBKR asks one that is held.
    held = HeldOrder(
        kind="modify", client_order_id=order_coid, question=m.PendingQuestion("", (), (), 0.0, 0.0), ctx=ctx,
        payload=dict(payload), contract=dict(contract or {}), transcript=[], rounds=0, quantity=mod.quantity,
        order_id=oid, ref=ref, named_coid=coid,
    )  # fmt: skip
    first = first_post(f"/iserver/account/{ctx.account_id}/order/{oid}", body)
    settled = yield from _settle_modify(state, held, ctx, held.transcript, first, hold=hold)
    assert settled is not None
    return settled


def _settle_modify(
    state: effects.SessionState,
    held: HeldOrder,
    ctx: OrderContext,
    transcript: list[dict[str, Any]],
    first: effects.Op[Any],
    *,
    hold: bool = True,
    rounds: int = 0,
) -> effects.Op[tuple[m.OrderResult, HeldOrder | None] | None]:
    oid, ref, order_coid = held.order_id or "", held.ref, held.client_order_id

    def settle(status: str, message: str | None = None, ibkr_status: str | None = None) -> effects.Op[None]:
        if ref is not None:
            yield effects.SettleModification(
                ref,
                Settlement(status=status, transcript=transcript, message=message, ibkr_status=ibkr_status),
            )

    try:
        reply = yield from first
        if reply is _GONE:
            return None
        outcome = yield from _reply_loop(reply, ctx, transcript, order_coid, hold=hold, rounds=rounds)
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
    if isinstance(outcome, Held):
        pending = _pending_question(outcome.question, ctx)
        transcript.append(_held_record(outcome.question, pending, ctx))
        message = _held_message(order_coid or f"id {oid}", pending)
        yield from settle(AWAITING_ANSWER, message)
        kept = evolve(held, question=pending, ctx=ctx, transcript=transcript, rounds=outcome.rounds)
        return _held_result(kept, message), kept
    result = ack_result(outcome, order_coid, ctx, held.quantity, transcript)
    if result.order_id is None:
        result = m.OrderResult(**{**_fields(result), "order_id": oid})
    yield from settle("accepted", result.message or None, result.ibkr_status)
    return result, None


def _fields(result: m.OrderResult) -> dict[str, Any]:
    return asdict(result, recurse=False)


def whatif(
    state: effects.SessionState, payload: Mapping[str, Any], ctx: OrderContext
) -> effects.Op[m.WhatIf]:
    yield from iserver.ensure_accounts(state)
    req = effects.post(
        f"/iserver/account/{ctx.account_id}/orders/whatif", {"orders": [dict(payload)]}, idempotent=False
    )
    data = yield from effects.call(req)
    return convert.structure(data, m.WhatIf)
