"""Session, account, portfolio and order-monitoring operations (``/iserver``, ``/portfolio``).

Every API operation is a generator (the shape of httpx's auth flows): it *yields* effects
(:mod:`.effects`: :class:`~.effects.Request`, :class:`~.effects.Sleep`, the order log's records) and
*returns* the parsed result. The two clients only execute effects (pacing, retries, HTTP, sleeping,
journal writes), so request building, response parsing and the start-up sequence are written once
and cannot drift between them. Market data is in :mod:`.marketdata`, contract lookups in
:mod:`.secdef`, the order path in :mod:`.orderpath`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from attrs import define, evolve

from .. import models as m
from ..errors import (
    ArgumentError,
    BrokerageSessionError,
    CompetingSessionError,
    GatewayError,
    OrderRejectedError,
    WireFormatError,
)
from ..masking import mask_text
from ..orders.status import FILTER_CODES, IBKR_STATUSES, status_info
from ..wire import convert
from .effects import (
    Effect,
    Op,
    Request,
    SessionState,
    Sleep,
    _params,
    call,
    get,
    post,
)

T = TypeVar("T")
log = logging.getLogger("axion_broker_ibkr.client")

# --------------------------------------------------------------------------------------------
# Session


def auth_status() -> Op[m.AuthStatus]:
    return convert.structure((yield from _call(_post("/iserver/auth/status"))), m.AuthStatus)


def tickle() -> Op[m.Tickle]:
    return convert.structure((yield from _call(_post("/tickle"))), m.Tickle)


def init_session(state: SessionState, *, compete: bool) -> Op[m.AuthStatus]:
    """``ssodh/init``; ``publish`` must be true (else 500), ``compete`` takes over other sessions."""
    data = yield from _call(_post("/iserver/auth/ssodh/init", {"publish": True, "compete": compete}))
    state.reset()
    return convert.structure(data, m.AuthStatus)


def wait_authenticated(*, attempts: int = 5, interval: float = 1.0) -> Op[m.AuthStatus]:
    """Poll auth status until the brokerage session is up (ibind/IBeam poll with ~1 s gaps)."""
    status = yield from auth_status()
    for _ in range(attempts - 1):
        if status.authenticated:
            break
        yield Sleep(interval)
        status = yield from auth_status()
    return status


def accounts(state: SessionState) -> Op[m.IServerAccounts]:
    result = convert.structure((yield from _call(_get("/iserver/accounts"))), m.IServerAccounts)
    state.accounts = result
    return result


def ensure_accounts(state: SessionState) -> Op[m.IServerAccounts]:
    """``/iserver/accounts`` must be called once per brokerage session before orders/snapshots."""
    if state.accounts is None:
        return (yield from accounts(state))
    return state.accounts


def portfolio_accounts(state: SessionState) -> Op[list[m.Account]]:
    result = convert.structure_list((yield from _call(_get("/portfolio/accounts"))), m.Account)
    state.portfolio_ready = True
    return result


def _ensure_portfolio(state: SessionState) -> Generator[Effect, Any, None]:
    if not state.portfolio_ready:
        yield from portfolio_accounts(state)


def suppress_questions(ids: Sequence[str]) -> Op[bool]:
    """Pre-answer question ids for the rest of the brokerage session (the whole list each time)."""
    if not ids:
        return True
    data = yield from _call(_post("/iserver/questions/suppress", {"messageIds": list(ids)}))
    return isinstance(data, Mapping) and data.get("status") == "submitted"


def switch_account(state: SessionState, account_id: str) -> Op[bool]:
    """Select the account ``/iserver`` calls act on (FA / multi-account logins)."""
    yield from ensure_accounts(state)
    data = yield from _call(_post("/iserver/account", {"acctId": account_id}))
    if state.accounts is not None:
        state.accounts = evolve(state.accounts, selected_account=account_id)
    return bool(isinstance(data, Mapping) and data.get("set"))


# --------------------------------------------------------------------------------------------
# Portfolio

MAX_POSITION_PAGES = 1000


def account_summary(state: SessionState, account_id: str) -> Op[dict[str, m.SummaryValue]]:
    yield from _ensure_portfolio(state)
    data = yield from _call(_get(f"/portfolio/{account_id}/summary"))
    return convert.structure_map(data, m.SummaryValue)


#: Sub-paths of ``/iserver/account/{acct}/summary`` (REFERENCE §2, IBKR's OpenAPI).
SUMMARY_SECTIONS = ("available_funds", "balances", "margins", "market_value")


def brokerage_summary(state: SessionState, account_id: str) -> Op[m.BrokerageSummary]:
    """``GET /iserver/account/{acct}/summary`` (brokerage session; ``/iserver/accounts`` first)."""
    yield from ensure_accounts(state)
    data = yield from _call(_get(f"/iserver/account/{account_id}/summary"))
    if not isinstance(data, Mapping):
        raise WireFormatError("/iserver/account/{acct}/summary: expected a JSON object")
    return convert.structure(data, m.BrokerageSummary)


def brokerage_summary_section(state: SessionState, account_id: str, section: str) -> Op[m.SummarySection]:
    """``GET /iserver/account/{acct}/summary/{section}``, ``section`` one of :data:`SUMMARY_SECTIONS`."""
    if section not in SUMMARY_SECTIONS:
        raise ArgumentError(
            "section", f"{section!r} is not a summary section (one of {', '.join(SUMMARY_SECTIONS)})"
        )
    yield from ensure_accounts(state)
    data = yield from _call(_get(f"/iserver/account/{account_id}/summary/{section}"))
    return convert.summary_section(data, f"/iserver/account/{{acct}}/summary/{section}")


def ledger(state: SessionState, account_id: str) -> Op[dict[str, m.LedgerEntry]]:
    yield from _ensure_portfolio(state)
    data = yield from _call(_get(f"/portfolio/{account_id}/ledger"))
    return convert.structure_map(data, m.LedgerEntry)


def positions(state: SessionState, account_id: str) -> Op[list[m.Position]]:
    """Every page. A page shorter than the ``pageSize`` its rows report ends the walk; rows without
    ``pageSize`` (the gateway adds it only once security definitions are cached) are followed
    until an empty page, since the server's page size is then unknown."""
    yield from _ensure_portfolio(state)
    rows: list[m.Position] = []
    previous: list[Any] | None = None
    for page in range(MAX_POSITION_PAGES):
        data = yield from _call(_get(f"/portfolio/{account_id}/positions/{page}"))
        data = data or []
        if not data or data == previous:  # empty, or a server that ignores the page index
            break
        rows.extend(convert.structure_list(data, m.Position))
        size = data[0].get("pageSize") if isinstance(data[0], Mapping) else None
        if isinstance(size, int) and size > 0 and len(data) < size:
            break
        previous = data
    return rows


def pnl(state: SessionState) -> Op[dict[str, m.PnLRow]]:
    yield from ensure_accounts(state)
    return convert.parse_pnl((yield from _call(_get("/iserver/account/pnl/partitioned"))))


# --------------------------------------------------------------------------------------------
# Orders: monitoring and cancel

#: IBKR's order statuses that have a ``filters`` code -> that lower-case code (REFERENCE §4.9),
#: from the one status vocabulary (:mod:`axion_broker_ibkr.orders.status`).
ORDER_FILTERS: dict[str, str] = {
    info.ibkr: info.filter for info in map(status_info, IBKR_STATUSES) if info.filter is not None
}


def normalize_filters(filters: Iterable[str] | str | None) -> frozenset[str]:
    """Accept ``Submitted``, ``pre_submitted``, ``PreSubmitted`` ...; return lower-case codes."""
    if filters is None:
        return frozenset()
    items = filters.split(",") if isinstance(filters, str) else list(filters)
    out: set[str] = set()
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        code = status_info(text).filter if text.lower() not in FILTER_CODES else text.lower()
        if code is None:
            raise ValueError(f"filters: unknown order status {item!r}; known: {sorted(FILTER_CODES)}")
        out.add(code)
    return frozenset(out)


def status_code_of(status: str | None) -> str | None:
    """The ``filters`` code of an order's IBKR status (None when unknown or it has none)."""
    return status_info(status).filter if status else None


def live_orders(
    state: SessionState,
    account_id: str | None,
    filters: Iterable[str] | str | None = None,
    *,
    force: bool = False,
) -> Op[list[m.Order]]:
    """``/iserver/account/orders`` with IBKR's quirks handled:

    * the first call of a session (or after ``force=true``, which answers empty by design) is a
      pre-flight: it is made, then the call is repeated;
    * ``filters`` are applied locally (server-side filtering returns incomplete lists, needs
      lower-case codes, and mutes ws ``sor`` updates until a ``force``), so any spelling works;
    * ``accountId`` is always passed (omitting it gives false-empty lists on multi-account logins).
    """
    wanted = normalize_filters(filters)
    yield from ensure_accounts(state)
    params = {"accountId": account_id}
    if force:
        yield from _call(_get("/iserver/account/orders", {**params, "force": True}))
        state.orders_primed = False
    if not state.orders_primed:
        yield from _call(_get("/iserver/account/orders", params))
        state.orders_primed = True
    data = yield from _call(_get("/iserver/account/orders", params))
    if isinstance(data, Mapping):
        orders = convert.structure(data, m.LiveOrders).orders
    elif isinstance(data, list):
        orders = convert.structure_list(data, m.Order)
    else:
        raise WireFormatError(f"live orders: unexpected answer {type(data).__name__}")
    if wanted:
        orders = [o for o in orders if status_code_of(o.status) in wanted]
    return orders


def order_status(state: SessionState, order_id: str | int) -> Op[m.OrderStatus]:
    yield from ensure_accounts(state)
    data = yield from _call(_get(f"/iserver/account/order/status/{_order_id(order_id)}"))
    return convert.structure(data, m.OrderStatus)


def trades(state: SessionState, account_id: str | None, days: int | None = None) -> Op[list[m.Trade]]:
    if days is not None and not 1 <= days <= 7:
        raise ValueError(f"days: IBKR keeps at most 7 days of executions; got {days!r}")
    yield from ensure_accounts(state)
    data = yield from _call(_get("/iserver/account/trades", {"days": days, "accountId": account_id}))
    return convert.structure_list(data or [], m.Trade)


def order_id_text(order_id: str | int) -> str:
    """IBKR's numeric order id as text; anything else raises ``ValueError`` naming ``order_id``."""
    text = str(order_id).strip()
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f"order_id: expected IBKR's numeric order id, got {order_id!r}")
    return text


#: The core's own short spellings of the public request builders (used throughout this module,
#: :mod:`.core_market` and :mod:`.core_secdef`).
_get, _post, _call, _order_id = get, post, call, order_id_text


def cancel_order(
    state: SessionState,
    account_id: str,
    order_id: str | int,
    *,
    futures_operator: str | None = None,
    manual_indicator: bool | None = None,
) -> Op[m.CancelAck]:
    """``DELETE .../order/{id}``: an acknowledgement, not a final state. Futures/FOP cancels carry
    ``manualIndicator`` + ``extOperator`` as query parameters."""
    oid = _order_id(order_id)
    yield from ensure_accounts(state)
    params: dict[str, Any] = {}
    if futures_operator is not None:
        params = {"manualIndicator": bool(manual_indicator), "extOperator": futures_operator}
    req = Request(
        method="DELETE",
        path=f"/iserver/account/{account_id}/order/{oid}",
        params=_params(params),
        idempotent=False,
    )
    data = yield from _call(req)
    if isinstance(data, Mapping) and data.get("error"):
        raise OrderRejectedError(f"cancel of order {oid} refused by IBKR: {mask_text(str(data['error']))}")
    return convert.structure(data, m.CancelAck)


# --------------------------------------------------------------------------------------------
# Session (re)start: REFERENCE §1.7, written once for the clients and the gateway monitor


@define(frozen=True, kw_only=True)
class StartupResult:
    status: m.AuthStatus
    accounts: m.IServerAccounts | None
    initialized: bool  # ssodh/init was needed
    #: The start-up tickle (its ``session`` authenticates the WebSocket); ``None`` if not asked for
    #: or if it failed (the keep-alive tickles again a minute later).
    tickle: m.Tickle | None = None


def _accounts_after_init(state: SessionState, *, retry: bool) -> Op[m.IServerAccounts]:
    """Right after ``ssodh/init`` the gateway sometimes still answers ``no bridge`` (ibind #104):
    wait a moment and ask again, a few times."""
    for _ in range(3 if retry else 0):
        try:
            return (yield from accounts(state))
        except BrokerageSessionError:
            yield Sleep(max(state.poll_interval, 0.01))
    return (yield from accounts(state))


def open_session(
    state: SessionState,
    *,
    take_over: bool,
    suppress: Sequence[str],
    load_portfolio: bool = True,
    tickle_after: bool = False,
) -> Op[StartupResult]:
    """auth status -> ``ssodh/init`` when needed -> ``/iserver/accounts`` -> ``/portfolio/accounts``
    -> question suppression -> (``tickle_after``) one ``/tickle``, the first of the keep-alive, which
    also yields the WebSocket session. A 401 raises :class:`NotAuthenticatedError` (a human must log in).
    A competing session is taken over only when ``take_over``; otherwise
    :class:`CompetingSessionError` is raised and nothing is changed."""
    status = yield from auth_status()
    initialized = False
    if not status.authenticated or status.competing:
        if status.competing and not take_over:
            raise CompetingSessionError(
                "another platform (TWS, IBKR Mobile, another gateway) holds the brokerage session; "
                "competing_policy is 'wait': log out there, or set competing_policy='take_over'"
            )
        yield from init_session(state, compete=take_over or bool(status.competing))
        status = yield from wait_authenticated(interval=state.poll_interval)
        initialized = True
        if not status.authenticated:
            detail = status.fail or status.message or "no reason given"
            raise BrokerageSessionError(f"ssodh/init did not open the brokerage session ({detail})")
    accts = yield from _accounts_after_init(state, retry=initialized)
    if load_portfolio:
        yield from portfolio_accounts(state)
    yield from suppress_questions(suppress)
    first_tickle: m.Tickle | None = None
    if tickle_after:
        try:
            first_tickle = yield from tickle()
        except GatewayError as exc:  # the session is open; a missed tickle is retried by the keep-alive
            log.warning("start-up tickle failed: %s", mask_text(str(exc)))
    return StartupResult(status=status, accounts=accts, initialized=initialized, tickle=first_tickle)
