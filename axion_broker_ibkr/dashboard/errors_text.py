"""Errors -> plain words for the page (IBKR's own message kept, account ids masked)."""

from __future__ import annotations

from collections.abc import Callable

from .. import errors as e
from ..masking import mask_text


def _body_message(exc: e.GatewayError) -> str:
    body = exc.body
    if isinstance(body, dict):
        for key in ("error", "message", "fail"):
            if body.get(key):
                return str(body[key])
    return str(exc)


def _gateway(exc: e.GatewayError) -> str:
    return f"The gateway answered with an error: {_body_message(exc)}"


def _resolve(exc: e.ResolveError) -> str:
    text = str(exc)
    if exc.candidates:
        shown = ", ".join(str(c) for c in exc.candidates[:5])
        more = f" (and {len(exc.candidates) - 5} more)" if len(exc.candidates) > 5 else ""
        text += f". Candidates: {shown}{more}"
    return text


def _rejected(exc: BaseException) -> str:
    text = str(exc)
    return text if text.startswith("IBKR rejected") else f"IBKR rejected the order: {text}"


# Most specific first: the first matching class wins.
_EXPLAINERS: tuple[tuple[type[BaseException], Callable[[BaseException], str]], ...] = (
    (e.NotAuthenticatedError, lambda x: "Not logged in: the gateway has no SSO session. Log in through "
     "the browser (Gateway tab has the link and steps)."),
    (e.CompetingSessionError, lambda x: "Another platform (TWS, IBKR Mobile, another gateway) holds the "
     "brokerage session. Take it over on the Gateway tab, or close the other session."),
    (e.BrokerageSessionError, lambda x: "The brokerage session is not open. Press Re-authenticate on the "
     "Gateway tab and try again."),
    (e.RateLimitedError, lambda x: "IBKR's pacing limit was reached; the plugin is backing off. Wait a "
     "few seconds and try again (retrying at once makes IBKR block longer)."),
    (e.GatewayConnectionError, lambda x: f"The gateway does not answer: {x}"),
    (e.QuestionRefusedError, lambda x: f"IBKR asked for a confirmation that was not given: {x}"),
    (e.OrderRejectedError, lambda x: _rejected(x)),
    (e.OrderStateUnknownError, lambda x: f"The order's fate is unknown; it was NOT re-sent. Check live "
     f"orders before trying again. ({x})"),
    (e.LiveTradingNotAllowedError, lambda x: f"Live trading is not enabled for this account: {x}"),
    (e.ModeError, lambda x: f"Not allowed in this mode: {x}"),
    (e.OrderValidationError, lambda x: f"The order is not valid: {x}"),
    (e.ResolveError, lambda x: _resolve(x)),  # type: ignore[arg-type]
    (e.ConfigError, lambda x: f"Configuration problem: {x}"),
    (e.GatewayError, lambda x: _gateway(x)),  # type: ignore[arg-type]
)  # fmt: skip


def explain(exc: BaseException) -> str:
    """A sentence a trader understands, with IBKR's own text where there is one."""
    for cls, explainer in _EXPLAINERS:
        if isinstance(exc, cls):
            return mask_text(explainer(exc))
    if isinstance(exc, ValueError):
        return mask_text(f"Invalid input: {exc}")
    return mask_text(f"Unexpected error ({type(exc).__name__}): {exc}")
