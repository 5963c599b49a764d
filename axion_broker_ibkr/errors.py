"""Exception hierarchy of the IBKR plugin.

Every error the package raises derives from :class:`IBKRError`. Errors about bad input also derive
from :class:`ValueError` (the host contract requires it for order translation), and they always name
the offending field. Errors that come from the gateway carry the HTTP status, the method and path
of the request, and IBKR's own message, never a session token or an unmasked account id.

Errors on the order path say whether the order (or modification) left, in ``delivery``:

* ``"not_sent"``: it never reached the gateway (connection refused, TLS failure, a check before
  the POST); it was not placed and may be sent again under the same cOID.
* ``"refused"``: the gateway or IBKR answered and did not take it (4xx, 401, 429, a rejection, a
  question not answered yes); nothing is live at IBKR.
* ``"ambiguous"``: it may or may not be at IBKR (timeout, connection lost after sending, 5xx);
  the order flow looks for its cOID and never re-sends it blindly.

The order flow (:mod:`axion_broker_ibkr.ops.orderpath`) decides on that value alone, so the order of
``except`` clauses cannot change what the order log says. At the top of the gateway errors the
hierarchy splits, as openai-python splits connection errors from status errors: a
:class:`GatewayConnectionError` is "no usable answer" (:class:`NotSentError` and
:class:`GatewayUnavailableError` are *siblings* under it, so an ``except GatewayUnavailableError``
can never take a never-sent order for a possibly-sent one); every other :class:`GatewayError` is an
answer that refused the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal, get_args

#: Whether a failed order/modification left: see the module docstring.
Delivery = Literal["not_sent", "refused", "ambiguous"]
NOT_SENT: Final = "not_sent"
REFUSED: Final = "refused"
AMBIGUOUS: Final = "ambiguous"
DELIVERIES: Final[frozenset[str]] = frozenset(get_args(Delivery))


class IBKRError(Exception):
    """Base class of every error raised by ``axion_broker_ibkr``."""


class ConfigError(IBKRError, ValueError):
    """A configuration value is missing or invalid; ``key`` names it."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"invalid IBKR config {key!r}: {reason}")


class OrderValidationError(IBKRError, ValueError):
    """An order cannot be translated; ``field`` names the offending field. No payload was built."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ArgumentError(IBKRError, ValueError):
    """A client method's argument is invalid; ``field`` names it. Nothing was sent."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class UnsupportedAssetError(OrderValidationError):
    """The asset type is not tradable through IBKR by this plugin (crypto, mutual funds, ...)."""


class WireFormatError(IBKRError, ValueError):
    """A gateway payload could not be parsed into the expected model."""


class ResolveError(IBKRError, LookupError):
    """A symbol could not be resolved to exactly one contract."""

    def __init__(self, message: str, candidates: Sequence[Any] = ()) -> None:
        self.candidates = list(candidates)
        super().__init__(message)


class ContractNotFoundError(ResolveError):
    """No contract matches the symbol and details."""


class AmbiguousContractError(ResolveError):
    """Several contracts match; ``candidates`` lists them so the caller can narrow the request."""


class GatewayError(IBKRError):
    """The Client Portal Gateway answered with an error (or not at all).

    ``delivery`` (class default ``"refused"``: the gateway answered and did not take the request)
    may be given per instance."""

    delivery: Delivery = "refused"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        path: str | None = None,
        body: Any = None,
        delivery: Delivery | None = None,
    ) -> None:
        if delivery is not None:
            if delivery not in DELIVERIES:
                raise ValueError(f"delivery: expected one of {sorted(DELIVERIES)}, got {delivery!r}")
            self.delivery = delivery
        self.status_code = status_code
        self.method = method
        self.path = path
        self.body = body
        where = f" ({method} {path} -> {status_code})" if method and path else ""
        super().__init__(f"{message}{where}")


class NotAuthenticatedError(GatewayError):
    """HTTP 401: no SSO session. A human must log in to the gateway in a browser."""


class OAuthError(NotAuthenticatedError):
    """OAuth 1.0a (``mode="oauth"``): IBKR refused the live session token request or a signed
    request (invalid consumer, signature, timestamp, token), or its answer did not validate. The
    message says what IBKR said; nothing secret is in it."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status_code=status)


class BrokerageSessionError(GatewayError):
    """The brokerage (iserver) session is missing: ``no bridge`` or ``authenticated: false``."""


class SessionPreconditionError(BrokerageSessionError):
    """IBKR refused the request because the session's start-up sequence was not run in this
    brokerage session ("Please query /accounts first", "Please query /portfolio/accounts first",
    typically after an SSO re-login). Nothing was done; the client runs the start-up sequence
    again by itself and retries, so this reaches a caller only if that did not help."""


class CompetingSessionError(GatewayError):
    """Another platform (TWS, mobile, another gateway) holds the brokerage session."""


class RateLimitedError(GatewayError):
    """HTTP 429: IBKR's pacing was exceeded; the client backs off instead of retrying."""


class ResetWindowError(GatewayError):
    """An order (or modification) held because IBKR's daily reset or Saturday maintenance is
    about to begin, under way, or just over without the brokerage session back. Nothing was sent
    and nothing was logged; ``retry_at`` (epoch seconds, the gateway's clock) says when to try
    again, ``window`` names the outage (``delivery="not_sent"``: a check before the POST)."""

    delivery: Delivery = "not_sent"

    def __init__(self, message: str, *, retry_at: float, window: str) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.window = window


class GatewayConnectionError(GatewayError):
    """No usable answer from the gateway: it could not be reached (:class:`NotSentError`), or it
    did not answer in time / dropped the connection / answered 5xx (:class:`GatewayUnavailableError`).
    Catch this for "the gateway does not answer"; the order flow reads ``delivery``."""

    delivery: Delivery = "ambiguous"


class GatewayUnavailableError(GatewayConnectionError):
    """The request may have reached the gateway but no answer came back (timeout, connection lost
    after sending) or it answered 5xx. For an order this is ambiguous (``delivery="ambiguous"``).
    Not a parent of :class:`NotSentError`."""

    delivery: Delivery = "ambiguous"


class NotSentError(GatewayConnectionError):
    """The request never reached the gateway (connection refused, TLS failure, pool timeout).

    For an order this is unambiguous: it was not placed (``delivery="not_sent"``)."""

    delivery: Delivery = "not_sent"


class UntrustedCertificateError(NotSentError):
    """The gateway's TLS certificate is not trusted (self-signed, another pin, changed since the
    first use). ``fingerprint`` is the presented certificate's SHA-256 (hex), when it could be read;
    the message names it and the setting that pins it. Nothing was sent."""

    def __init__(self, message: str, *, fingerprint: str | None = None) -> None:
        super().__init__(message)
        self.fingerprint = fingerprint


class OrderRejectedError(IBKRError):
    """IBKR rejected the order (HTTP 200 with ``error``), or a question was refused.

    ``transcript`` holds the question/answer exchange that led here, for the order log. IBKR
    answered, so nothing is live there: ``delivery="refused"``.
    """

    delivery: Delivery = "refused"

    def __init__(self, message: str, *, transcript: Sequence[Any] = (), client_order_id: str | None = None):
        self.message = message
        self.transcript = list(transcript)
        self.client_order_id = client_order_id
        super().__init__(message)


class QuestionRefusedError(OrderRejectedError):
    """IBKR asked a question (``o163`` ...) that the question policy does not allow answering yes."""

    def __init__(
        self,
        message: str,
        *,
        message_ids: Sequence[str] = (),
        transcript: Sequence[Any] = (),
        client_order_id: str | None = None,
    ) -> None:
        self.message_ids = list(message_ids)
        super().__init__(message, transcript=transcript, client_order_id=client_order_id)


class OrderStateUnknownError(IBKRError):
    """An order POST failed ambiguously and the order's cOID could not be found at the broker.

    The order is *not* re-sent automatically; the order log keeps it as ``unknown_at_broker``.
    """

    delivery: Delivery = "ambiguous"

    def __init__(self, message: str, *, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(message)


class LiveTradingNotAllowedError(IBKRError):
    """An order for a live (non-paper) account without ``allow_live_trading`` set (checked before
    anything is sent)."""

    delivery: Delivery = "not_sent"


class ModeError(IBKRError):
    """The requested operation is not allowed in the current mode (e.g. a fallback to the simulator
    for an order that was meant for a real gateway). Checked before anything is sent."""

    delivery: Delivery = "not_sent"


class ModificationMismatchError(IBKRError, ValueError):
    """A modification that does not fit the logged order (another order id, contract or side):
    it is refused before anything is sent."""

    delivery: Delivery = "not_sent"


class JournalProtocolError(IBKRError, TypeError):
    """An object given as the order journal lacks methods of the
    :class:`~axion_broker_ibkr.ops.journal.OrderJournal` protocol (``missing`` names them): the client
    refuses it rather than send an order or a modification it could not log first."""

    def __init__(self, journal: object, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            f"order journal {type(journal).__name__} does not implement OrderJournal: missing "
            + ", ".join(self.missing)
        )


class DuplicateOrderError(IBKRError, ValueError):
    """``record_pending`` for a cOID that is already in the order log: the order must not be sent."""

    delivery: Delivery = "not_sent"

    def __init__(self, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(
            f"client_order_id {client_order_id!r} is already in the order log; not sending it again"
        )


class UnknownOrderError(IBKRError, KeyError):
    """An update for a cOID that the order log does not hold."""

    def __init__(self, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(f"client_order_id {client_order_id!r} is not in the order log")

    def __str__(self) -> str:
        return str(self.args[0])


class StoreUnavailableError(IBKRError, RuntimeError):
    """The plugin's database (the order log) cannot be opened; no order is sent without it."""


def delivery_of(exc: BaseException) -> Delivery | None:
    """Whether the order/modification whose sending raised ``exc`` left: ``"not_sent"``,
    ``"refused"`` or ``"ambiguous"``; ``None`` for an error that does not say (a bug, a parse
    failure), which the order flow lets propagate untouched."""
    value = getattr(exc, "delivery", None)
    return value if value in DELIVERIES else None


class SubscriptionError(IBKRError, ValueError):
    """A streaming subscription request is invalid; the message names the offending argument."""


# --------------------------------------------------------------------------------------------
# The simulator's own errors: raised and answered inside ``axion_broker_ibkr.sim`` (the gateway's
# side of the wire, turned into the HTTP/WebSocket answers IBKR gives), never raised to a user of
# the client, hence not :class:`IBKRError`. Importable from their simulator modules as before.


class SimError(Exception):
    """Base class of the errors the simulator answers with (an HTTP status and IBKR's message)."""


class HistoryError(SimError):
    """A market-data history request the simulated gateway refuses (``status``, ``message``)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class TicketError(SimError):
    """A ticket the gateway refuses: ``status`` 200 carries ``{"error": ...}`` (business rejection),
    400/500 are malformed requests."""

    def __init__(self, message: str, status: int = 200) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


class AdminError(SimError, ValueError):
    """Bad input to the simulator's admin API; the message names the field."""


class OAuthRefused(SimError):
    """A request the simulator's OAuth layer refuses: ``status`` and the reason for IBKR's error body
    (``sim.api.oauth.refusal_body``)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
