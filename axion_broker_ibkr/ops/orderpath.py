"""The order path, read top to bottom (I/O-free: core operations over plain values).

1. **Account** (:func:`account`): the one named, else the configured one, else the gateway's.
2. **Checks that protect money** (:func:`check_target`): the order's mode, the ``auto`` fallback
   to the simulator, the live-account opt-in. Plain values in (:class:`OrderSettings`), an error
   out; tests reach them without a client or a socket.
3. **Intent and payload** (:func:`prepare`): the contract's rules for the order's side
   (:func:`with_rules`), then the translator (:mod:`.orders`) writes the CPAPI ticket through the
   wire layer (:func:`.convert.order_ticket`).
4. **The operations** (:func:`place`, :func:`modify`, :func:`answer_held`, :func:`cancel`,
   :func:`whatif_order`) hand the ticket to the flow: :func:`.orderflow.place_order_held` (one
   order) or :func:`.groupflow.place_group` (a bracket / OCO / OTO), which run the rest --
   write-ahead log (``RecordPending`` before the POST) -> POST -> question/reply loop -> fills ->
   settle (``RecordResult`` with one :class:`~.journal.Settlement`).
5. **The log** (:func:`record`): how a client writes the flow's journal effects to its journal.

The two flows sit below this module (``groupflow`` reuses ``orderflow``'s loop and settle steps),
so this module imports both and neither imports it. :class:`~.clientbase.ClientBase`'s order
methods are one-line delegations to the operations here.
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
    ConfigError,
    GatewayError,
    LiveTradingNotAllowedError,
    ModeError,
    OrderRejectedError,
    OrderValidationError,
)
from ..masking import is_paper_account, mask_account, mask_text
from ..models.contracts import RULE_KEYS
from ..naming import bond_description
from ..orders import TranslateOptions, new_client_order_id, translate_order
from ..orders.fields import check_order_keys
from ..orders.groups import GROUP_KEYS, OrderGroup, is_group, translate_group
from ..orders.status import status_info
from ..wire import convert
from . import effects, iserver
from .groupflow import (
    GroupModify,
    HeldGroup,
    answer_group,
    finish_modify,
    group_legs,
    modify_group,
    place_group_held,
)
from .journal import JournalEntry, ModificationRef, OrderJournal
from .orderflow import (
    HeldOrder,
    OrderContext,
    answer,
    confirm_ids,
    contract_mapping,
    modify_order_held,
    place_order_held,
    whatif,
)
from .secdef import order_contract as secdef_order_contract
from .secdef import rules_or_none

log = logging.getLogger(__name__)
ContractLike = m.IBKRContract | Mapping[str, Any]


# --------------------------------------------------------------------------------------------
# The client's side, as plain values: settings (read when an order is checked) and what it keeps


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


@define(kw_only=True, eq=False)
class OrderDesk:
    """What one client keeps for the order path: its session state, the questions held for the
    caller (by cOID, or by IBKR order id for a modification the log does not know), the contract
    rules fetched for contracts traded without them, and how to read its settings (called when an
    order is checked, after the account is known: the first request has resolved ``auto`` by then)."""

    state: effects.SessionState
    settings: Callable[[], OrderSettings]
    held: dict[str, HeldOrder | HeldGroup] = field(factory=dict)
    #: A group modification's other legs, waiting for the answer to its first leg's question.
    group_rest: dict[str, GroupModify] = field(factory=dict)
    #: ``(conid, is_buy)`` -> the rule keys of :data:`~axion_broker_ibkr.models.contracts.RULE_KEYS`
    #: (and ``tick_size``), fetched once per conid and side.
    contract_rules: dict[tuple[int, bool], dict[str, Any]] = field(factory=dict)

    def keep(self, held: HeldOrder | HeldGroup | None) -> None:
        if held is not None:
            self.held[held.client_order_id or str(held.order_id)] = held

    def held_question(self, client_order_id: str) -> m.PendingQuestion | None:
        held = self.held.get(client_order_id)
        return None if held is None else held.question


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


def prepare(
    desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike, confirm: Iterable[str] = ()
) -> effects.Op[tuple[OrderContext, dict[str, Any], dict[str, Any]]]:
    """What every order operation starts with: the account, the checks, the contract's rules and
    the translation -> (context, contract mapping, CPAPI payload). Raises before anything is sent."""
    settings = desk.settings()
    acct = yield from account(desk.state, settings.configured_account, _text(order.get("account_id")))
    settings = desk.settings()  # the account read resolved ``auto``
    ctx = order_context(settings, order, acct, confirm)
    cdict = contract_mapping(contract)
    cdict = yield from with_rules(desk, order, cdict)
    return ctx, cdict, translate(settings, order, cdict, acct)


def prepare_group(
    desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike, confirm: Iterable[str] = ()
) -> effects.Op[tuple[OrderContext, dict[str, Any], OrderGroup]]:
    """:func:`prepare` for a bracket / OCO / OTO -> (context, contract mapping, :class:`OrderGroup`)."""
    members = order.get("oco")
    head: Mapping[str, Any] = order
    if isinstance(members, Sequence) and members and isinstance(members[0], Mapping):
        head = members[0]  # an OCO's account, mode and contract rules are its first order's
    head = {k: v for k, v in head.items() if k not in GROUP_KEYS}
    if order.get("mode") is not None:
        head = {**head, "mode": order["mode"]}
    settings = desk.settings()
    acct = yield from account(desk.state, settings.configured_account, _text(head.get("account_id")))
    settings = desk.settings()
    ctx = order_context(settings, head, acct, confirm)
    cdict = contract_mapping(contract)
    # The entry's side's rules (IBKR answers per side): exits use the same contract's grid, and
    # a resolved contract's ``sell_increment_rules`` when it carries them.
    cdict = yield from with_rules(desk, head, cdict)
    plain = {k: v for k, v in order.items() if k != "mode"}
    if isinstance(members, Sequence) and not isinstance(members, str):
        plain["oco"] = [
            {k: v for k, v in leg.items() if k != "mode"} if isinstance(leg, Mapping) else leg
            for leg in members
        ]
    return ctx, cdict, translate_group(plain, cdict, settings.translate_options(acct))


def payload(desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike) -> effects.Op[dict[str, Any]]:
    """The CPAPI payload :func:`place` would send for ``order`` (nothing is sent): what a
    confirmation shows."""
    _ctx, _cdict, ticket = yield from prepare(desk, order, contract)
    return ticket


def group(desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike) -> effects.Op[OrderGroup]:
    """The group :func:`place` would send for a group dict (nothing is sent)."""
    _ctx, _cdict, found = yield from prepare_group(desk, order, contract)
    return found


# --------------------------------------------------------------------------------------------
# 4. The operations: place, modify, answer, what-if, cancel (each: the steps above, then the
#    write-ahead log -> POST -> question/reply loop -> fills -> settle below)


def place(
    desk: OrderDesk,
    order: Mapping[str, Any],
    contract: ContractLike,
    confirm: Iterable[str] = (),
    hold: bool = False,
    *,
    guard: effects.Op[None] | None = None,
) -> effects.Op[m.OrderResult]:
    """Place one order or an order group. ``guard``: the client's reset-window guard, run first."""
    if guard is not None:
        yield from guard
    if is_group(order):
        return (yield from place_group_order(desk, order, contract, confirm, hold))
    ctx, cdict, ticket = yield from prepare(desk, order, contract, confirm)
    result, held = yield from place_order_held(desk.state, ticket, cdict, ctx, hold=hold)
    desk.keep(held)
    return say_rules(result, cdict)


def place_group_order(
    desk: OrderDesk, order: Mapping[str, Any], contract: ContractLike, confirm: Iterable[str], hold: bool
) -> effects.Op[m.OrderResult]:
    """A bracket / OCO / OTO (:mod:`.orders.groups`): every leg validated, then one POST
    (:mod:`.groupflow`). Raises before anything is sent, as :func:`prepare`. With ``hold`` IBKR's
    question about the group is held like a single order's, under the parent's cOID
    (``answer_question(parent cOID, yes)`` continues the group's reply loop)."""
    ctx, cdict, found = yield from prepare_group(desk, order, contract, confirm)
    result, held = yield from place_group_held(desk.state, found, cdict, ctx, hold=hold)
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
    """Modify live order ``order_id`` to ``order``'s terms (its own contract when none is given)."""
    named = _text(order.get("client_order_id"))  # the original order's cOID, if the caller knows it
    if guard is not None:
        yield from guard
    if contract is None:
        contract = yield from order_contract(desk.state, order_id, order)
    ctx, cdict, ticket = yield from prepare(desk, order, contract, confirm)
    grouped = yield from modify_group_leg(desk, order_id, order, ticket, ctx, cdict, hold)
    if grouped is not None:
        return grouped
    result, held = yield from modify_order_held(
        desk.state, order_id, ticket, ctx, contract=cdict, coid=named, hold=hold
    )
    desk.keep(held)
    return say_rules(result, cdict)


def modify_group_leg(
    desk: OrderDesk,
    order_id: str | int,
    order: Mapping[str, Any],
    ticket: dict[str, Any],
    ctx: OrderContext,
    cdict: dict[str, Any],
    hold: bool,
) -> effects.Op[m.OrderResult | None]:
    """A modification of a logged order-group leg that changes its quantity goes through
    :func:`.groupflow.modify_group` (an entry's exits follow it; one exit alone is refused naming
    the leg and field); ``None`` for anything else (one order, as any)."""
    found = yield from group_legs(order_id=str(order_id).strip())
    if found is None:
        return None
    record, legs = found
    leg = next((x for x in legs if x.order_id == str(order_id).strip()), None)
    if leg is None or float(ticket.get("quantity") or 0.0) == leg.quantity:
        return None  # price / terms only: one leg, as any order
    result, held, rest = yield from modify_group(
        desk.state, str(record["id"]), str(record["kind"]), legs, {leg.client_order_id: ticket}, ctx,
        contract=cdict, hold=hold, orders={leg.client_order_id: order},
    )  # fmt: skip
    desk.keep(held)
    if held is not None and rest is not None:
        desk.group_rest[held.client_order_id or str(held.order_id)] = rest
    return say_rules(result, cdict)


def modify_group_order(
    desk: OrderDesk,
    client_order_id: str,
    changes: Mapping[str, Mapping[str, Any]],
    contract: ContractLike | None,
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
    ctx: OrderContext | None = None
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
            leg_contract = yield from order_contract(desk.state, leg.order_id, leg_order)
        try:
            leg_ctx, cdict, ticket = yield from prepare(desk, leg_order, leg_contract, confirm)
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
    return say_rules(result, cdict)


def answer_held(desk: OrderDesk, client_order_id: str, yes: bool) -> effects.Op[m.OrderResult]:
    """``answer_question``: the held order is taken first (a second answer finds nothing)."""
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
    if isinstance(held, HeldGroup):
        group_result, regrouped = yield from answer_group(
            desk.state, held, yes, new_group_id=new_client_order_id
        )
        desk.keep(regrouped)
        return say_rules(group_result, held.contract)
    rest = desk.group_rest.pop(str(client_order_id), None)
    result, again = yield from answer(desk.state, held, yes, new_coid=new_client_order_id)
    desk.keep(again)
    if rest is not None:
        if again is not None:  # IBKR asked again: the rest of the group waits for that answer
            desk.group_rest[again.client_order_id or str(again.order_id)] = rest
        elif yes and result.status != "rejected":
            first = [x for x in rest.legs if x.client_order_id == result.client_order_id]
            done = yield from finish_modify(desk.state, rest, [(first[0], result)] if first else [])
            return say_rules(done, held.contract)
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


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# --------------------------------------------------------------------------------------------
# 5. The log: a client writes the flow's journal effects with this (blocking; the drivers run it
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
