"""Effects: what an operation yields (:class:`Request`, :class:`Sleep`, the order log's records) and
what it gets back (:class:`Response`), the session state the operations share, and the one
status -> exception mapping. The operations live beside this module; the drivers carry effects out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Mapping
from typing import Any, TypeVar

from attrs import define, field

from .. import models as m
from ..errors import (
    BrokerageSessionError,
    CompetingSessionError,
    GatewayError,
    GatewayUnavailableError,
    NotAuthenticatedError,
    RateLimitedError,
    SessionPreconditionError,
)
from ..masking import mask_text
from .journal import JournalEntry, Modification, ModificationRef, Settlement

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
    id, fills, message, transcript: :class:`~axion_broker_ibkr.ops.journal.Settlement`)."""

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
    sends back a :class:`~axion_broker_ibkr.ops.journal.ModificationRef`, or ``None`` when it has no
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
