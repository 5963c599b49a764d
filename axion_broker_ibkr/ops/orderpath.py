"""The order path of one order, read top to bottom (I/O-free: operations over plain values).

0. **What the path reads and keeps** (:class:`OrderSettings`, :class:`OrderDesk`,
   :class:`OrderContext`): plain values; tests build them by hand.
1. **Account** (:func:`account`): the one named, else the configured one, else the gateway's.
2. **Checks that protect money** (:func:`check_target`): the order's mode, the ``auto`` fallback
   to the simulator, the live-account opt-in. Plain values in, an error out; tests reach them
   without a client or a socket.
3. **Intent and payload** (:func:`prepare`): the contract's rules for the order's side
   (:func:`with_rules`), then the translator (:mod:`..orders`) writes the CPAPI ticket through the
   wire layer (:func:`..wire.convert.order_ticket`).
4. **Write-ahead log** (:func:`journal_entry`): the row (``RecordPending``) is written *before* the
   POST; if that raises, nothing is sent. A modification is recorded the same way
   (:func:`modification`).
5. **POST and question/reply loop** (:func:`first_post`, :func:`reply_loop`): questions are
   answered from the configured allow-list (``auto_confirm``, default: none) plus the ids the
   caller confirmed for this one order (``confirm=``); a question is answered "yes" only when every
   one of its message ids is in that union. One that is not allowed is answered "no" (so IBKR
   discards the order) and ends with :class:`~axion_broker_ibkr.errors.QuestionRefusedError`
   quoting IBKR's text -- or, with ``hold``, is held for the caller (:class:`HeldOrder`,
   :func:`answer`). Chains are followed up to a bound; the exchange is the row's transcript.
6. **Fills and settle** (:func:`ack_result`, :func:`with_fills`, :func:`result_settlement`): one
   ``RecordResult`` with one :class:`~.journal.Settlement`. After a failure the row follows the
   error's ``delivery`` alone (:func:`failure_status`): an order POST is never retried blindly;
   after an ambiguous failure (timeout, connection lost after sending, 5xx) the order's ``cOID``
   is looked up among live orders: found -> placed, not found ->
   :class:`~axion_broker_ibkr.errors.OrderStateUnknownError` and ``unknown_at_broker``.
7. **One order through steps 4-6** (:func:`place_order_held`, :func:`answer`,
   :func:`modify_order_held`, :func:`whatif`).
8. **The operations a client delegates to** (:func:`place`, :func:`modify`, :func:`answer_held`,
   :func:`whatif_order`, :func:`cancel`): steps 1-3, then step 7.
9. **The log** (:func:`record`): how a client writes the journal effects to its journal.

Order groups (bracket / OCO / OTO) are :mod:`.groupflow`, which builds on this module (it imports
this one; this one does not import it). A held question is any :class:`HeldQuestion`: the desk
answers a group's the same way as one order's. :class:`~..drivers.client_base.ClientBase`'s order
methods are one-line delegations to the operations here and in :mod:`.groupflow`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from attrs import asdict, define, evolve, field

from .. import models as m
from ..errors import (
    AMBIGUOUS,
    NOT_SENT,
    REFUSED,
    ConfigError,
    Delivery,
    GatewayError,
    IBKRError,
    LiveTradingNotAllowedError,
    ModeError,
    OrderRejectedError,
    OrderStateUnknownError,
    OrderValidationError,
    QuestionRefusedError,
    delivery_of,
)
from ..masking import is_paper_account, mask_account, mask_text
from ..models.contracts import RULE_KEYS
from ..naming import bond_description, describe_contract
from ..orders import TranslateOptions, new_client_order_id, translate_order
from ..orders.fields import check_order_keys
from ..orders.groups import is_group
from ..orders.status import LOG_AWAITING_ANSWER, LOG_DECLINED, host_order_status, status_info
from ..wire import convert
from . import effects, iserver
from .journal import JournalEntry, Modification, ModificationRef, OrderJournal, Settlement
from .secdef import order_contract as secdef_order_contract
from .secdef import rules_or_none

log = logging.getLogger(__name__)
T = TypeVar("T")
ContractLike = m.IBKRContract | Mapping[str, Any]

#: Journal status of an order whose POST failed ambiguously and whose cOID was not found.
UNKNOWN_AT_BROKER = "unknown_at_broker"
#: Order-log status of an order whose question is held for the caller (orders.status).
AWAITING_ANSWER = LOG_AWAITING_ANSWER
#: Order-log status of an order whose IBKR question was not answered yes (orders.status.LOG_DECLINED).
DECLINED = LOG_DECLINED

#: How long a question held for the caller (``hold_questions=True``) can still be answered for the
#: same order, in seconds. IBKR publishes no lifetime for a reply id: REFERENCE §4.3 says to reply
#: "immediately" and that another order request invalidates a pending question (a late reply answers
#: 503); users quoting real gateways report an unknown or expired id as 400 "reply id not found"
#: after a few minutes, and the brokerage session itself drops after ~5-6 idle minutes (REFERENCE
#: §1). The plugin trusts one minute (the simulator's ``REPLY_TIMEOUT_S`` is the same), shorter than
#: any reported lifetime; and a reply IBKR calls unknown or invalidated inside the window is treated
#: like an expired one (a yes then places the ticket again under a new cOID, linked to the first).
REPLY_WINDOW_S = 60.0


# --------------------------------------------------------------------------------------------
# The client's side, as plain values: settings (read when an order is checked), what it keeps,
# and what one order's flow carries


@define(frozen=True, kw_only=True)
class OrderSettings:
    """What the order path reads from its client: the resolved mode, whether ``auto`` fell back to
    the simulator, and the configuration's order settings. Plain values (tests build one by hand):
    the checks that protect money (:func:`check_target`) read nothing else."""

    #: ``gateway`` / ``sim`` / ``oauth``; ``auto`` while the mode is not resolved yet.
    mode: str
    #: ``auto`` mode found no gateway and fell back to the embedded simulator.
    fallback: bool = False
    #: The configured account (``account_id``), if any.
    configured_account: str | None = None
    allow_live_trading: bool = False
    auto_confirm: frozenset[str] = frozenset()
    max_rounds: int = 5
    allow_fractional: bool = False
    futures_operator: str | None = None
    manual_orders: bool = False
    #: The client has an order log (a cancel then reads the order's status to settle its row).
    logged: bool = False
    #: Epoch seconds now (a held question's reply window is measured with it).
    clock: Callable[[], float] = field(default=time.time, eq=False)

    def translate_options(self, account_id: str | None) -> TranslateOptions:
        return TranslateOptions(
            account_id=account_id,
            allow_fractional=self.allow_fractional,
            futures_operator=self.futures_operator,
            manual_orders=self.manual_orders,
        )


class HeldQuestion(Protocol):
    """A question held for the caller (``hold=True``): one order's (:class:`HeldOrder`) or a
    group's (:class:`.groupflow.HeldGroup`, :class:`.groupflow.HeldLegChange`). The desk keeps it
    by cOID (or IBKR order id) and :func:`answer_held` resumes it, whichever it is."""

    @property
    def client_order_id(self) -> str: ...

    @property
    def order_id(self) -> str | None: ...

    @property
    def question(self) -> m.PendingQuestion: ...

    @property
    def contract(self) -> dict[str, Any]: ...

    def resume(
        self, state: effects.SessionState, yes: bool, new_id: Callable[[], str]
    ) -> effects.Op[tuple[m.OrderResult, HeldQuestion | None]]:
        """Answer the question (``yes`` or no) -> the result, and what is held again (IBKR asked
        another question), if anything."""
        ...


@define(kw_only=True, eq=False)
class OrderDesk:
    """What one client keeps for the order path: its session state, the questions held for the
    caller (by cOID, or by IBKR order id for a modification the log does not know), the contract
    rules fetched for contracts traded without them, and how to read its settings (called when an
    order is checked, after the account is known: the first request has resolved ``auto`` by then)."""

    state: effects.SessionState
    settings: Callable[[], OrderSettings]
    held: dict[str, HeldQuestion] = field(factory=dict)
    #: ``(conid, is_buy)`` -> the rule keys of :data:`~axion_broker_ibkr.models.contracts.RULE_KEYS`
    #: (and ``tick_size``), fetched once per conid and side.
    contract_rules: dict[tuple[int, bool], dict[str, Any]] = field(factory=dict)

    def keep(self, held: HeldQuestion | None) -> None:
        if held is not None:
            self.held[held.client_order_id or str(held.order_id)] = held

    def held_question(self, client_order_id: str) -> m.PendingQuestion | None:
        held = self.held.get(client_order_id)
        return None if held is None else held.question


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


# --------------------------------------------------------------------------------------------
# 1. The account


def default_account(configured: str | None, accounts: m.IServerAccounts | None) -> str | None:
    """The account orders go to: the configured one, else the gateway's selected (or first) account."""
    if configured:
        return configured
    if accounts is None:
        return None
    return accounts.selected_account or (accounts.accounts[0] if accounts.accounts else None)


def account(state: effects.SessionState, configured: str | None, given: str | None) -> effects.Op[str]:
    """``given``, else the default account once IBKR's accounts are read."""
    if given:
        return given
    yield from iserver.ensure_accounts(state)
    found = default_account(configured, state.accounts)
    if not found:
        raise GatewayError("the gateway reports no account; log in with a trading user")
    return found


# --------------------------------------------------------------------------------------------
# 2. The checks that protect money: mode, fallback, live account (no I/O)


def check_target(settings: OrderSettings, order: Mapping[str, Any], account_id: str) -> None:
    """Refuse an order meant for another mode (:class:`ModeError`), one naming a real account while
    ``auto`` fell back to the simulator (:class:`ModeError`), and one for a live account without
    ``allow_live_trading`` (:class:`LiveTradingNotAllowedError`). Nothing is sent or logged."""
    wanted = order.get("mode")
    if wanted is not None and wanted != settings.mode:
        raise ModeError(
            f"the order is meant for mode {wanted!r} but this client is in mode {settings.mode!r}"
        )
    if settings.fallback and (settings.configured_account or order.get("account_id")):
        raise ModeError(
            f"the order names account {mask_account(account_id)}, which belongs to a real gateway, but "
            "auto mode fell back to the simulator; it is not sent"
        )
    if not is_paper_account(account_id) and not settings.allow_live_trading:
        raise LiveTradingNotAllowedError(
            f"account {mask_account(account_id)} is a live (non-paper) account; set allow_live_trading "
            "to place orders on it"
        )


def order_context(
    settings: OrderSettings, order: Mapping[str, Any], account_id: str, confirm: Iterable[str] = ()
) -> OrderContext:
    """The checks (:func:`check_target`), then the order's question policy and ignored keys."""
    check_target(settings, order, account_id)
    return OrderContext(
        account_id=account_id,
        mode=settings.mode,
        auto_confirm=settings.auto_confirm,
        max_rounds=settings.max_rounds,
        confirm=confirm_ids(confirm),
        ignored_keys=check_order_keys(order),
        clock=settings.clock,
    )


# --------------------------------------------------------------------------------------------
# 3. Intent and payload: the contract's rules, the translation (raises before anything is sent)


def contract_mapping(contract: m.IBKRContract | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(contract, m.IBKRContract):
        return contract.to_host()
    if not isinstance(contract, Mapping):
        raise TypeError(f"contract: expected IBKRContract or a contract dict, got {type(contract).__name__}")
    return dict(contract)


def with_rules(
    desk: OrderDesk, order: Mapping[str, Any], cdict: dict[str, Any]
) -> effects.Op[dict[str, Any]]:
    """The contract dict with IBKR's rules for the order's side: as resolved (the resolver fetches
    them with the contract), else fetched once per conid and side and kept on the desk. When IBKR
    gives none, ``rules_source`` stays ``None`` and the static table decides."""
    if cdict.get("rules_source"):
        return cdict
    try:
        conid = int(cdict.get("conid") or 0)
    except (TypeError, ValueError):
        return cdict  # the translator names the bad conid
    side = order.get("side")
    if conid <= 0 or not isinstance(side, str):
        return cdict
    is_buy = side.strip().lower() in ("buy", "buy_to_cover")
    known = desk.contract_rules.get((conid, is_buy))
    if known is None:
        exchange = cdict.get("exchange")
        venue = exchange if isinstance(exchange, str) and exchange not in ("", "SMART") else None
        rules = yield from rules_or_none(desk.state, conid, is_buy=is_buy, exchange=venue)
        if rules is None:
            return cdict
        host = m.IBKRContract(conid=conid, sec_type="STK", symbol="-").with_rules(rules).to_host()
        known = {k: host[k] for k in RULE_KEYS}
        known["tick_size"] = host["tick_size"]
        desk.contract_rules[(conid, is_buy)] = known
    out = dict(cdict)
    out.update({k: v for k, v in known.items() if k != "tick_size"})
    out["sell_increment_rules"] = []  # these are the order's own side's rules
    if out.get("tick_size") is None:
        out["tick_size"] = known["tick_size"]
    return out


def translate(
    settings: OrderSettings, order: Mapping[str, Any], contract: Mapping[str, Any], account_id: str
) -> dict[str, Any]:
    """The CPAPI payload of ``order`` (a fresh cOID when the order names none)."""
    order = dict(order)
    order.pop("mode", None)
    if not order.get("client_order_id"):
        order["client_order_id"] = new_client_order_id()
    payload = dict(translate_order(order, contract, settings.translate_options(account_id)))
    if convert.ticket_terms(payload).client_order_id != order["client_order_id"]:
        raise ConfigError("orders", "the translator did not carry client_order_id into cOID")
    return payload


@define(frozen=True, kw_only=True)
class Checked:
    """An order after steps 1 and 2 and the contract's rules: what the translation reads."""

    settings: OrderSettings
    account_id: str
    ctx: OrderContext
    contract: dict[str, Any]


def check(
    desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike, confirm: Iterable[str] = ()
) -> effects.Op[Checked]:
    """The account, the checks that protect money, the question policy and the contract's rules
    for ``order`` (a group's: its head order). Raises before anything is sent."""
    settings = desk.settings()
    acct = yield from account(desk.state, settings.configured_account, text_or_none(order.get("account_id")))
    settings = desk.settings()  # the account read resolved ``auto``
    ctx = order_context(settings, order, acct, confirm)
    cdict = yield from with_rules(desk, order, contract_mapping(contract))
    return Checked(settings=settings, account_id=acct, ctx=ctx, contract=cdict)


def prepare(
    desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike, confirm: Iterable[str] = ()
) -> effects.Op[tuple[OrderContext, dict[str, Any], dict[str, Any]]]:
    """What every order operation starts with: :func:`check`, then the translation -> (context,
    contract mapping, CPAPI payload). Raises before anything is sent."""
    done = yield from check(desk, order, contract, confirm)
    return done.ctx, done.contract, translate(done.settings, order, done.contract, done.account_id)


def payload(desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike) -> effects.Op[dict[str, Any]]:
    """The CPAPI payload :func:`place` would send for ``order`` (nothing is sent): what a
    confirmation shows."""
    _ctx, _cdict, ticket = yield from prepare(desk, order, contract)
    return ticket


# --------------------------------------------------------------------------------------------
# 4. The write-ahead log: the row written before the POST (and a modification's record)


def log_symbol(contract: Mapping[str, Any]) -> str:
    """The order-log row's symbol: the contract's symbol, and for forex the pair (``EUR.USD``, not
    ``EUR``: the base currency alone does not say what was traded)."""
    symbol = str(contract.get("symbol") or "")
    if str(contract.get("sec_type") or "").upper() in ("CASH", "FX"):
        return describe_contract({**contract, "symbol": symbol}) or symbol
    return symbol


def ignored_keys_record(ctx: OrderContext) -> list[dict[str, Any]]:
    """The transcript's first record when the order dict carried keys the plugin does not read:
    they are not in the payload, and the order-log row says so."""
    if not ctx.ignored_keys:
        return []
    return [{"ignored_keys": list(ctx.ignored_keys), "note": "order keys the plugin does not read; not sent"}]


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


# --------------------------------------------------------------------------------------------
# 5. The POST and the question/reply loop


def first_post(path: str, body: Any) -> effects.Op[m.OrderReply]:
    data = yield from effects.call(effects.post(path, body, idempotent=False))
    return convert.parse_order_reply(data)


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
    outcome = yield from reply_loop_or_hold(first, ctx, transcript, coid)
    assert not isinstance(outcome, Held)
    return outcome


def reply_loop_or_hold(
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
            yield from discard(question.id)
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


def discard(reply_id: str) -> effects.Op[None]:
    """Answer "no" so IBKR drops the pending order; a failure here changes nothing for the caller."""
    try:
        yield effects.post(f"/iserver/reply/{reply_id}", {"confirmed": False}, idempotent=False)
    except GatewayError as exc:
        log.info("declining question %s failed (%s); the order was not placed", reply_id, exc)


def pending_question(question: m.OrderQuestion, ctx: OrderContext) -> m.PendingQuestion:
    asked = ctx.clock()
    return m.PendingQuestion(
        reply_id=question.id,
        message_ids=tuple(i.lower() for i in question.message_ids),
        messages=tuple(mask_text(text) for text in question.message),
        asked_at=asked,
        expires_at=asked + REPLY_WINDOW_S,
    )


def held_record(question: m.OrderQuestion, pending: m.PendingQuestion, ctx: OrderContext) -> dict[str, Any]:
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


#: ``continue_held`` found IBKR's reply id gone (expired, or invalidated by another order request).
GONE = object()


def _reply_gone(exc: GatewayError) -> bool:
    """IBKR says the question no longer exists: 400 "reply id not found" (expired / unknown), or
    503 "...timed out or was invalidated by another request" (REFERENCE §4.3)."""
    text = f"{exc} {exc.body!r}".lower()
    if exc.status_code == 400 and "reply id not found" in text:
        return True
    # Only IBKR's own wording: a proxy's generic "gateway timed out" says nothing about the order.
    return exc.status_code == 503 and ("invalidated" in text or "order reply timed out" in text)


def continue_held(reply_id: str, transcript: list[dict[str, Any]]) -> effects.Op[Any]:
    """Answer yes to a held question: IBKR's next reply, or ``GONE``."""
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
        return GONE
    return convert.parse_order_reply(data)


def replies(
    first: effects.Op[Any],
    ctx: OrderContext,
    transcript: list[dict[str, Any]],
    coid: str,
    *,
    hold: bool,
    rounds: int = 0,
) -> effects.Op[list[m.OrderAck] | Held | None]:
    """Run ``first`` (the order POST, or the yes to a held question) and the reply loop: IBKR's
    acknowledgements, a :class:`Held` question, or ``None`` when ``first`` found the question gone."""
    reply = yield from first
    if reply is GONE:
        return None
    return (yield from reply_loop_or_hold(reply, ctx, transcript, coid, hold=hold, rounds=rounds))


def hold_question(outcome: Held, ctx: OrderContext, transcript: list[dict[str, Any]]) -> m.PendingQuestion:
    """The question the loop stopped at, as held for the caller (its record added to ``transcript``)."""
    pending = pending_question(outcome.question, ctx)
    transcript.append(held_record(outcome.question, pending, ctx))
    return pending


# --------------------------------------------------------------------------------------------
# 6. Fills and settle: the result of IBKR's answer, its fills, the row's settlement; after a
#    failure, what the error's ``delivery`` says (an ambiguous one: the cOID looked up, never re-sent)


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


def find_by_coid(state: effects.SessionState, account_id: str, coid: str) -> effects.Op[m.Order | None]:
    orders = yield from iserver.live_orders(state, account_id)
    for order in orders:
        if order.client_order_id == coid:
            return order
    return None


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


# --------------------------------------------------------------------------------------------
# 7. One order, through steps 4-6: place, answer a held question, modify, what-if


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
    return settled_once(settled)


def settled_once(settled: T | None) -> T:
    """The settlement of a first POST (only a held question's continuation finds it gone)."""
    assert settled is not None
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
        outcome = yield from replies(first, ctx, transcript, coid, hold=hold, rounds=rounds)
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
    if outcome is None:
        return None  # the question was gone: nothing settled
    if isinstance(outcome, Held):
        pending = hold_question(outcome, ctx, transcript)
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

    def resume(
        self, state: effects.SessionState, yes: bool, new_id: Callable[[], str]
    ) -> effects.Op[tuple[m.OrderResult, HeldOrder | None]]:
        """:func:`answer` (a :class:`HeldQuestion`)."""
        return answer(state, self, yes, new_coid=new_id)


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


def answered(held: HeldOrder, yes: bool, **extra: Any) -> list[dict[str, Any]]:
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
        transcript = answered(held, False, expired=expired)
        if not expired:
            yield from discard(pending.reply_id)
        message = f"declined by the caller: IBKR asked {', '.join(pending.message_ids)}: {text!r}"
        return (yield from _settle_declined(held, transcript, message)), None
    ctx = evolve(held.ctx, confirm=held.ctx.confirm | frozenset(pending.message_ids))
    transcript = answered(held, True, expired=expired)
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
                continue_held(pending.reply_id, transcript), hold=True, payload=held.payload,
                contract=held.contract, rounds=held.rounds,
            )  # fmt: skip
        else:
            settled = yield from _settle_modify(
                state, held, ctx, transcript, continue_held(pending.reply_id, transcript), rounds=held.rounds
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
    """Modify: one bare order object (no ``orders`` wrapper) repeating every field of the ticket.

    Journaled like a new order: the modification (new terms, body) is recorded before the POST
    (a failure there sends nothing) and settled after it with IBKR's reply / question transcript.
    Accepted -> the order's log row (same cOID) takes the new terms; rejected, refused, not sent
    or lost -> the row keeps its terms and the modification record says why. ``coid`` is the
    original order's cOID when the caller named it; the result carries it (or the one the order
    log matched by order id). With ``hold`` a question is held for the caller: the modification's
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
    return settled_once((yield from _settle_modify(state, held, ctx, held.transcript, first, hold=hold)))


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
        outcome = yield from replies(first, ctx, transcript, order_coid, hold=hold, rounds=rounds)
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
    if outcome is None:
        return None  # the question was gone: nothing settled
    if isinstance(outcome, Held):
        pending = hold_question(outcome, ctx, transcript)
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


# --------------------------------------------------------------------------------------------
# 8. The operations a client delegates to: steps 1-3, then step 7 (each raises before anything
#    is sent when a check or the translation refuses)


def place(
    desk: OrderDesk,
    order: Mapping[str, Any],
    contract: ContractLike,
    confirm: Iterable[str] = (),
    hold: bool = False,
    *,
    guard: effects.Op[None] | None = None,
) -> effects.Op[m.OrderResult]:
    """Place one order. ``guard``: the client's reset-window guard, run first. An order group
    (bracket / OCO / OTO) is :func:`.groupflow.place_group_order`'s, refused here before anything."""
    if is_group(order):
        raise OrderValidationError(
            "order", "an order group (bracket / OCO / OTO) is placed by groupflow.place_group_order"
        )
    if guard is not None:
        yield from guard
    ctx, cdict, ticket = yield from prepare(desk, order, contract, confirm)
    result, held = yield from place_order_held(desk.state, ticket, cdict, ctx, hold=hold)
    desk.keep(held)
    return say_rules(result, cdict)


def modify(
    desk: OrderDesk,
    order_id: str | int,
    order: Mapping[str, Any],
    contract: ContractLike | None,
    confirm: Iterable[str] = (),
    hold: bool = False,
    *,
    guard: effects.Op[None] | None = None,
) -> effects.Op[m.OrderResult]:
    """Modify live order ``order_id`` to ``order``'s terms (its own contract when none is given).
    A logged group leg whose quantity changes is :func:`.groupflow.modify`'s (its group follows)."""
    prepared = yield from prepare_modify(desk, order_id, order, contract, confirm, guard=guard)
    return (yield from modify_prepared(desk, order_id, prepared, hold))


@define(frozen=True, kw_only=True)
class PreparedModify:
    """A modification after steps 1-3: its context, contract mapping and ticket, and the original
    order's cOID when the caller named it."""

    ctx: OrderContext
    contract: dict[str, Any]
    ticket: dict[str, Any]
    named_coid: str | None


def prepare_modify(
    desk: OrderDesk,
    order_id: str | int,
    order: Mapping[str, Any],
    contract: ContractLike | None,
    confirm: Iterable[str] = (),
    *,
    guard: effects.Op[None] | None = None,
) -> effects.Op[PreparedModify]:
    """The guard, the order's own contract when none is given, then :func:`prepare`."""
    named = text_or_none(order.get("client_order_id"))  # the original order's cOID, if the caller knows it
    if guard is not None:
        yield from guard
    if contract is None:
        contract = yield from order_contract(desk.state, order_id, order)
    ctx, cdict, ticket = yield from prepare(desk, order, contract, confirm)
    return PreparedModify(ctx=ctx, contract=cdict, ticket=ticket, named_coid=named)


def modify_prepared(
    desk: OrderDesk, order_id: str | int, prepared: PreparedModify, hold: bool
) -> effects.Op[m.OrderResult]:
    """Step 7 for a prepared modification; a held question is kept on the desk."""
    result, held = yield from modify_order_held(
        desk.state, order_id, prepared.ticket, prepared.ctx, contract=prepared.contract,
        coid=prepared.named_coid, hold=hold,
    )  # fmt: skip
    desk.keep(held)
    return say_rules(result, prepared.contract)


def answer_held(desk: OrderDesk, client_order_id: str, yes: bool) -> effects.Op[m.OrderResult]:
    """``answer_question``: the held question (one order's or a group's) is taken first (a second
    answer finds nothing), then resumed; a question IBKR asks next is held again."""
    if not isinstance(yes, bool):
        raise OrderValidationError("yes", f"expected True or False, got {yes!r}")
    held = desk.held.pop(str(client_order_id), None)
    if held is None:
        raise OrderValidationError(
            "client_order_id",
            f"no IBKR question is held for order {client_order_id!r} (already answered, never asked, "
            "or asked in another process: the order log says what became of it)",
        )
    yield from iserver.ensure_accounts(desk.state)
    result, again = yield from held.resume(desk.state, yes, new_client_order_id)
    desk.keep(again)
    return say_rules(result, held.contract)


def whatif_order(desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike) -> effects.Op[m.WhatIf]:
    """IBKR's what-if preview of ``order`` (checked and translated as for :func:`place`)."""
    ctx, _, ticket = yield from prepare(desk, order, contract)
    return (yield from whatif(desk.state, ticket, ctx))


def order_contract(
    state: effects.SessionState, order_id: str | int, order: Mapping[str, Any]
) -> effects.Op[m.IBKRContract]:
    """The contract of a live order from its own terms: the order's conid (the order dict's
    ``conid``, else IBKR's status of ``order_id``), then IBKR's definition of that conid
    (strike, right, expiry, multiplier: never the page's or the caller's guess)."""
    raw = order.get("conid")
    if raw is None:
        status = yield from iserver.order_status(state, order_id)
        raw = status.conid
    try:
        conid = int(raw) if raw is not None and not isinstance(raw, bool) else 0
    except (TypeError, ValueError):
        conid = 0
    if conid <= 0:
        raise OrderValidationError("conid", f"the conid of order {order_id} is unknown ({raw!r})")
    contract = yield from secdef_order_contract(state, conid)
    if contract.sec_type == "BOND":
        # IBKR's definition names a bond by its ticker (``T``); the plugin resolved and logged
        # it by the description form (``US-T 4.25 11/15/34``). The order's own logged symbol
        # is the one the caller was shown, so the order's contract answers to it.
        logged = yield effects.FindOrder(order_id=str(order_id))
        if isinstance(logged, JournalEntry) and logged.conid == conid and logged.symbol:
            contract = evolve(contract, local_symbol=logged.symbol)
        else:  # not in this log: the description form of IBKR's own name (``T 4.25 11/15/34``)
            found = re.search(r"(\d+(?:\.\d+)?)\s+\d\d/\d\d/\d\d\s*$", contract.description or "")
            coupon = float(found.group(1)) if found else None
            named = bond_description(contract.symbol, coupon, contract.maturity) if found else None
            if named:
                contract = evolve(contract, local_symbol=named, coupon=contract.coupon or coupon)
    return contract


#: Status reads after a cancel's acknowledgement, and the wait between them: IBKR answers
#: ``PendingCancel`` first and ``Cancelled`` once the venue confirms (the stream, and start-up
#: reconciliation from the live orders, settle the row when the confirmation comes later).
CANCEL_CONFIRM_READS = 4


CANCEL_CONFIRM_WAIT_S = 0.5


def cancel(
    desk: OrderDesk, order_id: str | int, account_id: str | None, sec_type: str | None
) -> effects.Op[m.CancelAck]:
    """Cancel order ``order_id``. Without ``sec_type`` the order's own is used (its order-log
    row, else IBKR's status of it) so a futures cancel carries ``manualIndicator`` and
    ``extOperator``. After IBKR's acknowledgement the order's status is read once and written to
    the order log (``Cancelled`` -> the vocabulary's cancelled log status); a status IBKR has not
    settled yet (``PendingCancel``) is left to the stream and start-up reconciliation."""
    settings = desk.settings()
    acct = yield from account(desk.state, settings.configured_account, account_id)
    oid = str(order_id).strip()
    if sec_type is None:
        logged = yield effects.FindOrder(order_id=oid)
        if isinstance(logged, JournalEntry) and logged.sec_type:
            sec_type = logged.sec_type
    if sec_type is None:
        status = yield from status_or_none(desk.state, oid)
        sec_type = None if status is None else status.sec_type
    futures = sec_type is not None and sec_type.upper() in ("FUT", "FOP")
    ack = yield from iserver.cancel_order(
        desk.state,
        acct,
        order_id,
        futures_operator=settings.futures_operator if futures else None,
        manual_indicator=settings.manual_orders,
    )
    if settings.logged:
        # IBKR acknowledges first (PendingCancel) and confirms shortly after: a few spaced reads.
        after = yield from status_or_none(desk.state, oid)
        for _ in range(CANCEL_CONFIRM_READS - 1):
            if after is None or not status_info(after.order_status).live:
                break
            yield effects.Sleep(CANCEL_CONFIRM_WAIT_S)
            after = (yield from status_or_none(desk.state, oid)) or after
        if after is not None and after.order_status:
            yield effects.RecordOrderStatus(
                order_id=oid,
                ibkr_status=after.order_status,
                filled_quantity=after.cum_fill,
                total_size=after.total_size,
                avg_fill_price=after.average_price,
            )
    return ack


def status_or_none(state: effects.SessionState, order_id: str) -> effects.Op[m.OrderStatus | None]:
    """IBKR's status of an order, ``None`` when it cannot be read (logged; nothing depends on it
    but the futures fields of a cancel and the order log, which the stream also keeps)."""
    try:
        return (yield from iserver.order_status(state, order_id))
    except (GatewayError, OrderRejectedError) as exc:
        log.info("status of order %s could not be read: %s", order_id, mask_text(str(exc)))
        return None


#: What an order result says when the contract's own rules could not be had.
STATIC_RULES_NOTE = (
    "IBKR gave no contract rules for conid {conid}: checked against the plugin's static order "
    "rules only (no tick grid unless the contract carries tick_size)"
)


def say_rules(result: m.OrderResult, cdict: Mapping[str, Any]) -> m.OrderResult:
    """The result, saying in ``message`` when the static rules stood in for the contract's own."""
    if cdict.get("rules_source"):
        return result
    note = STATIC_RULES_NOTE.format(conid=cdict.get("conid"))
    return evolve(result, message=f"{result.message}; {note}" if result.message else note)


def text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# --------------------------------------------------------------------------------------------
# 9. The log: a client writes the flow's journal effects with this (blocking; the drivers run it
#    in a worker thread where they must)


def record(
    journal: OrderJournal | None, effect: effects.JournalEffect
) -> ModificationRef | JournalEntry | None:
    """Write one journal effect (a no-op without a journal). An exception propagates into the order
    flow, which then does not send the order or modification (the record comes first)."""
    if journal is None:
        return None
    if isinstance(effect, effects.RecordPending):
        journal.record_pending(effect.entry)
    elif isinstance(effect, effects.RecordResult):
        fields = asdict(effect.settlement, recurse=False)
        if fields["ibkr_status"] is None:
            del fields["ibkr_status"]  # only when IBKR said one: a journal written before it still works
        else:
            fields["ibkr_status"] = status_info(fields["ibkr_status"]).ibkr
        journal.record_result(effect.client_order_id, **fields)
    elif isinstance(effect, effects.FindEntry):
        entry = journal.get(effect.client_order_id)
        return entry if isinstance(entry, JournalEntry) else None
    elif isinstance(effect, effects.FindOrder):
        find = getattr(journal, "find_order", None)
        found = find(effect.order_id) if callable(find) else None
        return found if isinstance(found, JournalEntry) else None
    elif isinstance(effect, effects.RecordOrderStatus):
        write = getattr(journal, "record_order_status", None)
        if callable(write):
            write(
                effect.order_id,
                effect.ibkr_status,
                filled_quantity=effect.filled_quantity,
                total_size=effect.total_size,
                avg_fill_price=effect.avg_fill_price,
            )
    elif isinstance(effect, effects.RecordModification):
        return journal.record_modification(effect.modification)
    else:
        s = effect.settlement
        journal.settle_modification(
            effect.ref, status=s.status, transcript=s.transcript, message=s.message, ibkr_status=s.ibkr_status
        )
    return None
