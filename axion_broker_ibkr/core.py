"""The I/O-free core shared by :class:`~axion_broker_ibkr.client.IBKRClient` and
:class:`~axion_broker_ibkr.client.AsyncIBKRClient`.

Every API operation is a generator (the shape of httpx's auth flows): it *yields* effects —
:class:`Request` (send this, give me the :class:`Response`), :class:`Sleep`, and the order
journal's :class:`RecordPending` / :class:`RecordResult` — and *returns* the parsed result. The two
clients only execute effects (pacing, retries, HTTP, sleeping, journal writes), so request
building, response parsing, the snapshot pre-flight and the order question loop are written once
and cannot drift between them. Errors raised while executing an effect are thrown back into the
generator, which is how the order flow reacts to an ambiguous POST failure.

The operations are split by topic: session, portfolio and order monitoring here, market data in
:mod:`axion_broker_ibkr.core_market`, contract lookups in :mod:`axion_broker_ibkr.core_secdef`,
the order flow in :mod:`axion_broker_ibkr.orderflow`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from attrs import define, evolve, field

from . import convert
from . import models as m
from .errors import (
    ArgumentError,
    BrokerageSessionError,
    CompetingSessionError,
    GatewayError,
    GatewayUnavailableError,
    NotAuthenticatedError,
    OrderRejectedError,
    RateLimitedError,
    SessionPreconditionError,
    WireFormatError,
)
from .errors import NotSentError as NotSentError  # re-exported (it lives in errors.py)
from .errors import UntrustedCertificateError as UntrustedCertificateError  # re-exported
from .journal import JournalEntry, Modification, ModificationRef, Settlement
from .masking import mask_text
from .orders.status import FILTER_CODES, IBKR_STATUSES, status_info

T = TypeVar("T")
log = logging.getLogger("axion_broker_ibkr.client")

# --------------------------------------------------------------------------------------------
# Effects


@define(frozen=True, kw_only=True)
class Request:
    """One HTTP request relative to the API base. ``ok_statuses`` are non-2xx answers handed back
    to the operation instead of raised. ``idempotent`` requests may be retried by the client."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    idempotent: bool = True
    ok_statuses: frozenset[int] = frozenset()


@define(frozen=True)
class Response:
    status_code: int
    data: Any = None
    text: str = ""


@define(frozen=True)
class Sleep:
    seconds: float


@define(frozen=True)
class RecordPending:
    """Write-ahead: the journal entry must be durable before the order POST (else: do not send)."""

    entry: JournalEntry


class _Settles:
    """``status``: the settlement's (:class:`RecordResult` and :class:`SettleModification`)."""

    __slots__ = ()
    settlement: Settlement

    @property
    def status(self) -> str:
        return self.settlement.status


@define(frozen=True)
class RecordResult(_Settles):
    """Settle order ``client_order_id``'s row with ``settlement`` (status, IBKR's status word, order
    id, fills, message, transcript: :class:`~axion_broker_ibkr.journal.Settlement`)."""

    client_order_id: str
    settlement: Settlement


@define(frozen=True, kw_only=True)
class FindOrder:
    """Look up the order-log entry of IBKR order ``order_id``: the client sends back the
    :class:`JournalEntry`, or ``None`` (no journal, or the order is not in the log)."""

    order_id: str


@define(frozen=True, kw_only=True)
class RecordOrderStatus:
    """IBKR's status of order ``order_id`` (a status read after a cancel): the order's row takes
    the vocabulary's log status for it (never moved back out of a terminal one) and ``ibkr_status``."""

    order_id: str
    ibkr_status: str
    filled_quantity: float | None = None
    total_size: float | None = None
    avg_fill_price: float | None = None


@define(frozen=True)
class RecordModification:
    """Write-ahead for a modification: durable before the POST (else: do not send). The client
    sends back a :class:`~axion_broker_ibkr.journal.ModificationRef`, or ``None`` when it has no
    journal (then there is nothing to settle)."""

    modification: Modification


@define(frozen=True)
class SettleModification(_Settles):
    """Settle a recorded modification: ``accepted`` (the order's row takes the new terms),
    ``rejected`` / ``refused`` / ``not_sent`` (the row keeps its terms; the message says why), or
    ``unknown_at_broker`` (the answer was lost; the row keeps its terms until the stream or a
    status read says otherwise). Only the settlement's status, IBKR status, message and transcript
    apply to a modification record."""

    ref: ModificationRef
    settlement: Settlement


@define(frozen=True, kw_only=True)
class FindEntry:
    """Look up the order-log row of cOID ``client_order_id`` (the legs of an order group, by their
    derived ids): the client sends back the :class:`JournalEntry`, or ``None``."""

    client_order_id: str


JournalEffect = (
    RecordPending
    | RecordResult
    | RecordModification
    | SettleModification
    | FindOrder
    | FindEntry
    | RecordOrderStatus
)
Effect = Request | Sleep | JournalEffect
Op = Generator[Effect, Any, T]


@define
class SessionState:
    """What the core remembers about the current brokerage session (reset on re-authentication)."""

    accounts: m.IServerAccounts | None = None
    portfolio_ready: bool = False
    orders_primed: bool = False
    searched: set[str] = field(factory=set)  # underlyings searched this session (secdef rule)
    #: Gap between auth-status polls after ssodh/init (ibind/IBeam use about 1 s).
    poll_interval: float = 1.0

    def reset(self) -> None:
        self.accounts = None
        self.portfolio_ready = False
        self.orders_primed = False
        self.searched.clear()


# --------------------------------------------------------------------------------------------
# Status -> exception (one function, used by both clients)


#: A real gateway's answer for a path it does not serve (404, text/html; see sim/api/http.py).
_HTML_TAG = re.compile(r"<[^>]+>")


def error_text(data: Any, text: str) -> str:
    if isinstance(data, Mapping):
        for key in ("error", "message", "detail"):
            if data.get(key):
                return str(data[key])
    stripped = text.strip()
    if stripped.startswith("<"):  # an HTML page ("<html><body><h1>Resource not found</h1>...")
        stripped = " ".join(_HTML_TAG.sub(" ", stripped).split())
    return stripped[:300]


def error_for(req: Request, resp: Response, *, login_url: str) -> GatewayError:
    """Map a non-2xx answer to the exception class that says what to do about it."""
    message = mask_text(error_text(resp.data, resp.text))
    status = resp.status_code
    kwargs: dict[str, Any] = {
        "status_code": status,
        "method": req.method,
        "path": mask_text(req.path),
        "body": None,
    }
    lowered = message.lower()
    if status == 401:
        return NotAuthenticatedError(
            f"not logged in to the Client Portal Gateway: log in to the gateway in a browser at {login_url}",
            **kwargs,
        )
    if status == 429:
        return RateLimitedError(f"IBKR rate limit hit: {message or 'Too Many Requests'}", **kwargs)
    if "please query" in lowered and "first" in lowered:
        return SessionPreconditionError(
            f"the brokerage session needs IBKR's start-up sequence again ({message})", **kwargs
        )
    if "no bridge" in lowered or "not authenticated" in lowered:
        return BrokerageSessionError(
            f"the brokerage session is not open ({message}); it needs ssodh/init", **kwargs
        )
    if "competing" in lowered:
        return CompetingSessionError(f"another platform holds the brokerage session ({message})", **kwargs)
    if status >= 500:
        return GatewayUnavailableError(f"gateway error: {message or 'no details'}", **kwargs)
    if status == 404 and resp.data is None:
        return GatewayError(
            f"the gateway does not serve this path ({message or 'not found'}); its version may not have it",
            **kwargs,
        )
    return GatewayError(f"gateway refused the request: {message or 'no details'}", **kwargs)


def is_success(req: Request, resp: Response) -> bool:
    return 200 <= resp.status_code < 300 or resp.status_code in req.ok_statuses


def get(path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Request:
    """A GET :class:`Request` (``None`` parameters left out, booleans as ``true``/``false``)."""
    return Request(method="GET", path=path, params=_params(params), **kw)


def post(path: str, body: Any = None, **kw: Any) -> Request:
    """A POST :class:`Request`; ``idempotent=False`` for anything that may place or change an order."""
    # A POST must carry a body (else 411): send {} when there is nothing to say.
    return Request(method="POST", path=path, json={} if body is None else body, **kw)


def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def call(req: Request) -> Generator[Effect, Any, Any]:
    """Send ``req`` (one :class:`Request` effect) and return the answer's JSON data."""
    resp: Response = yield req
    return resp.data


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
