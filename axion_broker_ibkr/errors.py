"""Exception hierarchy of the IBKR plugin.

Every error the package raises derives from :class:`IBKRError`. Errors about bad input also derive
from :class:`ValueError` (the host contract requires it for order translation), and they always name
the offending field. Errors that come from the gateway carry the HTTP status, the method and path
of the request, and IBKR's own message, never a session token or an unmasked account id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
    """The Client Portal Gateway answered with an error (or not at all)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        path: str | None = None,
        body: Any = None,
    ) -> None:
        self.status_code = status_code
        self.method = method
        self.path = path
        self.body = body
        where = f" ({method} {path} -> {status_code})" if method and path else ""
        super().__init__(f"{message}{where}")


class NotAuthenticatedError(GatewayError):
    """HTTP 401: no SSO session. A human must log in to the gateway in a browser."""


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
    again, ``window`` names the outage."""

    def __init__(self, message: str, *, retry_at: float, window: str) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.window = window


class GatewayUnavailableError(GatewayError):
    """The gateway did not answer (connection refused, TLS failure, timeout) or answered 5xx."""


class OrderRejectedError(IBKRError):
    """IBKR rejected the order (HTTP 200 with ``error``), or a question was refused.

    ``transcript`` holds the question/answer exchange that led here, for the order log.
    """

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

    def __init__(self, message: str, *, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(message)


class LiveTradingNotAllowedError(IBKRError):
    """An order for a live (non-paper) account without ``allow_live_trading`` set."""


class ModeError(IBKRError):
    """The requested operation is not allowed in the current mode (e.g. a fallback to the simulator
    for an order that was meant for a real gateway)."""


class ModificationMismatchError(IBKRError, ValueError):
    """A modification that does not fit the logged order (another order id, contract or side):
    it is refused before anything is sent."""


class JournalProtocolError(IBKRError, TypeError):
    """An object given as the order journal lacks methods of the
    :class:`~axion_broker_ibkr.journal.OrderJournal` protocol (``missing`` names them): the client
    refuses it rather than send an order or a modification it could not log first."""

    def __init__(self, journal: object, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            f"order journal {type(journal).__name__} does not implement OrderJournal: missing "
            + ", ".join(self.missing)
        )
