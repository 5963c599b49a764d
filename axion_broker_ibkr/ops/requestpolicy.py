"""The request loop as an I/O-free operation: what happens to one :class:`~.core.Request`.

Every decision the clients make about one request lives here, over plain values: the answer as
an :class:`Answer` (status, headers, parsed body, when it came) or the failure as a
:class:`TransportFailure` (its ``kind``: ``connect``, ``tls``, ``read-timeout`` ...). Nothing here
reads an ``httpx`` object, sleeps, locks or touches the pacer; the drivers
(:mod:`.client_async`, and :mod:`.client_sync` generated from it) convert at their boundary and
then only execute what :func:`request_flow` yields:

* :class:`Send` -> pace, lease, send; send back the :class:`Answer` or :class:`TransportFailure`;
* :class:`~.core.Sleep` -> wait (a retry's back-off);
* :class:`Penalize` -> tell the pacer about an HTTP 429 (it blocks the gateway's traffic for
  ``Retry-After`` seconds, or its own doubling back-off);
* :class:`Reauthenticate` -> run IBKR's start-up sequence again (once per request);
* :class:`Untrusted` -> raise the untrusted-certificate error (building it fetches the presented
  certificate, which is I/O).

The shape is httpx's auth flows (a generator that yields requests and receives responses); the
retry rule is a pure function of (request, outcome, attempt), as githubkit's ``retry.py``.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, Protocol, get_args

from attrs import define, field

from ..errors import (
    BrokerageSessionError,
    GatewayConnectionError,
    GatewayError,
    GatewayUnavailableError,
    NotSentError,
    OAuthError,
    SessionPreconditionError,
)
from ..masking import mask_text
from . import effects

#: Requests that (re)build the session: never trigger an automatic re-authentication themselves.
SESSION_PATHS = frozenset(
    {"/iserver/auth/status", "/iserver/auth/ssodh/init", "/tickle", "/iserver/reauthenticate",
     "/iserver/accounts", "/portfolio/accounts", "/iserver/questions/suppress", "/logout"}
)  # fmt: skip
#: The start-up sequence's account reads. They are also the FIRST call of most operations
#: (``iserver.ensure_accounts`` before a secdef search, an order, a snapshot), so after IBKR dropped the
#: brokerage session (the nightly reset, a timeout) a "no bridge" answer to one of them re-opens the
#: session, except while the start-up sequence itself is running (it would re-enter itself).
ACCOUNT_SESSION_PATHS = frozenset({"/iserver/accounts", "/portfolio/accounts"})
#: Answers that say whether the brokerage session is authenticated.
AUTH_PATHS = frozenset({"/iserver/auth/status", "/tickle", "/iserver/auth/ssodh/init"})

# --------------------------------------------------------------------------------------------
# Outcomes (plain values made by the driver from what its HTTP library gave)

#: Transport failure kinds. A request that failed with one of :data:`NOT_SENT_KINDS` never left
#: (the connection was refused or not made, the TLS handshake failed, no pool slot, a bad URL):
#: ``delivery="not_sent"``. Any other kind may have reached the gateway: ``"ambiguous"``.
FailureKind = Literal[
    "connect", "connect-timeout", "pool-timeout", "unsupported-protocol", "tls", "certificate",
    "read-timeout", "write-timeout", "timeout", "read", "write", "protocol", "other",
]  # fmt: skip
KINDS: Final[frozenset[str]] = frozenset(get_args(FailureKind))
NOT_SENT_KINDS: Final[frozenset[str]] = frozenset(
    {"connect", "connect-timeout", "pool-timeout", "unsupported-protocol", "tls", "certificate"}
)
TIMEOUT_KINDS: Final[frozenset[str]] = frozenset({"read-timeout", "write-timeout", "timeout"})


@define(frozen=True, kw_only=True)
class Answer:
    """The gateway's answer: status, headers (names lower-cased), the JSON body (``None`` when
    empty or not JSON, then ``text`` holds it) and when it arrived (epoch seconds, our clock)."""

    status_code: int
    headers: Mapping[str, str] = field(factory=dict)
    data: Any = None
    text: str = ""
    received_at: float = 0.0

    @property
    def response(self) -> effects.Response:
        """What the operations receive."""
        return effects.Response(self.status_code, self.data, self.text)


@define(frozen=True, kw_only=True)
class TransportFailure:
    """No answer: ``kind`` (one of :data:`KINDS`) says where it failed; ``name`` and ``detail``
    are the library's exception name and text (for the message). ``cause`` is the library's
    exception itself, opaque here: the driver chains the raised error to it and reads the
    certificate from it (:class:`Untrusted`); no decision looks at it."""

    kind: FailureKind
    name: str = ""
    detail: str = ""
    cause: BaseException | None = field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {sorted(KINDS)}, got {self.kind!r}")

    @property
    def sent(self) -> bool:
        """False when the request certainly never reached the gateway."""
        return self.kind not in NOT_SENT_KINDS


Outcome = Answer | TransportFailure

# --------------------------------------------------------------------------------------------
# Steps (what the driver executes)


@define(frozen=True)
class Send:
    """Pace, lease and send ``request`` (attempt ``attempt``, 1 for the first); send back the
    :data:`Outcome`. The pacer may refuse before sending (its 429 back-off): that error propagates."""

    request: effects.Request
    attempt: int


@define(frozen=True)
class Penalize:
    """An HTTP 429 came back: tell the pacer, which blocks the gateway's traffic for
    ``retry_after`` seconds when IBKR said so, else for its own (doubling) back-off."""

    request: effects.Request
    retry_after: float | None


@define(frozen=True)
class Reauthenticate:
    """Open the brokerage session again (IBKR's start-up sequence), then the request is retried."""


@define(frozen=True)
class Untrusted:
    """The gateway's certificate was not trusted: raise the error that names the presented
    certificate (the driver fetches it) and the setting that pins it. Never retried."""

    failure: TransportFailure


Step = Send | effects.Sleep | Penalize | Reauthenticate | Untrusted
Flow = Generator[Step, Any, effects.Response]

# --------------------------------------------------------------------------------------------
# Decisions


class RetryRule(Protocol):
    """When an idempotent request is tried again (:class:`~.pacing.RetryPolicy`)."""

    def should_retry(self, attempt: int, *, status: int | None = None, timeout: bool = False) -> bool: ...

    def delay(self, attempt: int) -> float: ...


@define(frozen=True, kw_only=True)
class Policy:
    """What the decisions need to know about the client, as values: its retry rule, its login and
    API addresses (for messages), whether requests are OAuth-signed, and whether the start-up
    sequence is running now (its own account reads must not re-authenticate)."""

    retry: RetryRule
    login_url: str = ""
    base_url: str = ""
    oauth: bool = False
    rebuilding_session: bool = False


Action = Literal["return", "retry", "reauth", "untrusted", "raise"]


@define(frozen=True)
class Decision:
    """What to do with one attempt's outcome: ``return``, ``retry`` (after ``delay``),
    ``reauth`` (open the brokerage session again, then retry), ``untrusted`` or ``raise``
    (``error``). ``penalize`` (an HTTP 429): tell the pacer first, with ``retry_after``."""

    action: Action
    delay: float = 0.0
    error: Exception | None = None
    penalize: bool = False
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds: delta-seconds, or an HTTP date measured from ``now``."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def server_offset(answer: Answer) -> float | None:
    """The gateway's clock minus ours, from its ``Date`` header (1 s grain: +0.5 s), or ``None``."""
    date = answer.headers.get("date")
    if not date:
        return None
    try:
        return parsedate_to_datetime(date).timestamp() + 0.5 - answer.received_at
    except (TypeError, ValueError):
        return None


def says_authenticated(req: effects.Request, resp: effects.Response) -> bool:
    """Whether the answer to a session read says the brokerage session is authenticated (and not
    competing)."""
    if req.path not in AUTH_PATHS or not isinstance(resp.data, Mapping):
        return False
    data: Any = resp.data
    if req.path == "/tickle":
        data = (data.get("iserver") or {}).get("authStatus") or {}
    return isinstance(data, Mapping) and data.get("authenticated") is True and not data.get("competing")


def status_error(req: effects.Request, resp: effects.Response, policy: Policy) -> GatewayError:
    """The exception for a non-success answer (an OAuth-signed request's 401 is IBKR refusing the
    signature, not a missing browser login)."""
    if resp.status_code == 401 and policy.oauth:
        body = resp.data if isinstance(resp.data, dict) else {}
        said = mask_text(str(body.get("error") or "no reason given"))
        return OAuthError(
            f"IBKR refused the OAuth-signed request {req.method} {mask_text(req.path)}: {said}", status=401
        )
    return effects.error_for(req, resp, login_url=policy.login_url)


def transport_error(
    req: effects.Request, failure: TransportFailure, policy: Policy
) -> GatewayConnectionError:
    """The exception for a request that got no answer: :class:`NotSentError` when it never left
    (``delivery="not_sent"``), else :class:`GatewayUnavailableError` (``"ambiguous"``)."""
    path = mask_text(req.path)
    if not failure.sent:
        return NotSentError(
            f"could not reach the gateway at {policy.base_url} ({failure.name}: {failure.detail})",
            method=req.method,
            path=path,
        )
    if failure.kind in TIMEOUT_KINDS:
        message = f"no answer in time from the gateway ({failure.name})"
    else:
        message = f"connection to the gateway failed during {req.method} {path}: {failure.detail}"
    return GatewayUnavailableError(message, method=req.method, path=path)


def decide(
    req: effects.Request, outcome: Outcome, attempt: int, policy: Policy, *, reauthed: bool = False
) -> Decision:
    """The retry rule: a pure function of the request, the attempt's outcome, the attempt number
    (1 for the first) and whether this request already re-authenticated once (a retry's delay
    takes the rule's own jitter)."""
    if isinstance(outcome, TransportFailure):
        if outcome.kind == "certificate":  # never heals by retrying
            return Decision("untrusted")
        if req.idempotent and policy.retry.should_retry(attempt, timeout=True):
            return Decision("retry", policy.retry.delay(attempt))
        return Decision("raise", error=transport_error(req, outcome, policy))
    resp = outcome.response
    if effects.is_success(req, resp):
        return Decision("return")
    error = status_error(req, resp, policy)
    if isinstance(error, OAuthError):
        return Decision("raise", error=error)
    if resp.status_code == 429:  # never retried into IBKR's penalty box
        after = parse_retry_after(outcome.headers.get("retry-after"), outcome.received_at)
        return Decision("raise", error=error, penalize=True, retry_after=after)
    if req.idempotent and policy.retry.should_retry(attempt, status=resp.status_code):
        return Decision("retry", policy.retry.delay(attempt))
    # A precondition refusal ("Please query /accounts first") did nothing: safe to re-run the
    # start-up sequence and retry even for an order (same cOID).
    if (
        isinstance(error, BrokerageSessionError)
        and (req.idempotent or isinstance(error, SessionPreconditionError))
        and not reauthed
        and (
            req.path not in SESSION_PATHS
            or (req.path in ACCOUNT_SESSION_PATHS and not policy.rebuilding_session)
        )
    ):
        return Decision("reauth")
    return Decision("raise", error=error)


def request_flow(req: effects.Request, policy: Policy) -> Flow:
    """One request from first attempt to its :class:`~.core.Response` (or its exception): yields
    the steps the driver executes, receives each :class:`Send`'s outcome."""
    attempt, reauthed = 0, False
    while True:
        attempt += 1
        outcome: Outcome = yield Send(req, attempt)
        decision = decide(req, outcome, attempt, policy, reauthed=reauthed)
        if decision.action == "return":
            assert isinstance(outcome, Answer)
            return outcome.response
        if decision.penalize:
            yield Penalize(req, decision.retry_after)
        if decision.action == "retry":
            yield effects.Sleep(decision.delay)
        elif decision.action == "reauth":
            reauthed = True
            yield Reauthenticate()
        elif decision.action == "untrusted":
            assert isinstance(outcome, TransportFailure)
            yield Untrusted(outcome)
            raise AssertionError("the driver raises the untrusted-certificate error")  # pragma: no cover
        else:
            assert decision.error is not None
            raise decision.error
