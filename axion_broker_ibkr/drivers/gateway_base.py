"""What the sync and async gateways share: the keep-alive round as an I/O-free operation
(:func:`keepalive_op`) and :class:`GatewayBase` (listeners, the status built from an answer or an
error). The two gateways are :mod:`axion_broker_ibkr.gateway`'s ``IBKRGateway`` (generated,
``gateway_sync.py``) and ``AsyncIBKRGateway`` (``gateway_async.py``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from attrs import define, evolve

from .. import models as m
from ..config import takes_over_competing
from ..errors import (
    BrokerageSessionError,
    CompetingSessionError,
    GatewayConnectionError,
    NotAuthenticatedError,
    UntrustedCertificateError,
)
from ..masking import mask_text
from ..ops import effects, iserver
from .client_base import ClientBase

log = logging.getLogger("axion_broker_ibkr.gateway")  # the public module's name, as before


@define(frozen=True, kw_only=True)
class KeepaliveResult:
    auth: m.AuthStatus
    reauthenticated: bool = False


def keepalive_op(
    state: effects.SessionState, *, take_over: bool, suppress: tuple[str, ...]
) -> effects.Op[KeepaliveResult]:
    """One keep-alive round: tickle; re-open the brokerage session if it dropped (unless another
    platform holds it and the policy is ``wait``)."""
    auth: m.AuthStatus | None = None
    try:
        tickle = yield from iserver.tickle()
        if tickle.iserver is not None:
            auth = tickle.iserver.auth_status
    except BrokerageSessionError:
        auth = None
    if auth is None:
        auth = yield from iserver.auth_status()
    if auth.authenticated and not auth.competing:
        return KeepaliveResult(auth=auth)
    if auth.competing and not take_over:
        log.warning("another platform holds the brokerage session; competing_policy is 'wait'")
        return KeepaliveResult(auth=auth)
    result = yield from iserver.open_session(state, take_over=take_over, suppress=suppress)
    return KeepaliveResult(auth=result.status, reauthenticated=True)


class GatewayBase:
    """State and decisions shared by :class:`IBKRGateway` and :class:`AsyncIBKRGateway`."""

    def __init__(self, client: ClientBase, *, interval: float | None = None) -> None:
        self.client = client
        self.interval = client.config.keepalive_interval if interval is None else interval
        self._status: m.GatewayStatus | None = None
        self.last_tickle: dt.datetime | None = None
        self._listeners: list[Callable[[m.GatewayStatus], Any]] = []

    def add_listener(self, listener: Callable[[m.GatewayStatus], Any]) -> Callable[[], None]:
        """Call ``listener(status)`` after every keep-alive round (:meth:`tick`); the async gateway
        runs it in a worker thread, so it may block (a database write). Returns a remover."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _notify(self, status: m.GatewayStatus) -> None:
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:  # a listener's failure never stops the keep-alive
                log.exception("gateway status listener failed")

    @property
    def status(self) -> m.GatewayStatus:
        """The last status seen (``check`` refreshes it)."""
        return self._status if self._status is not None else self._build(None, None)

    @property
    def _take_over(self) -> bool:
        return takes_over_competing(self.client.config)

    def _build(self, auth: m.AuthStatus | None, error: Exception | None) -> m.GatewayStatus:
        client = self.client
        now = dt.datetime.now(dt.UTC)
        status = m.GatewayStatus(
            mode=client.mode,
            url=client.base_url,
            last_checked=now,
            last_tickle=self.last_tickle,
            reauthentications=client.reauthentications,
            login_url=None if client.mode == "oauth" else client.login_url,
            selected_account=client.account_id,
            oauth_token_expires_at=getattr(client, "oauth_token_expires_at", None),
            oauth_refreshes=getattr(client, "oauth_refreshes", 0),
        )
        if auth is not None:
            info = auth.server_info
            status = evolve(
                status,
                reachable=True,
                sso_session=True,
                connected=bool(auth.connected),
                authenticated=bool(auth.authenticated),
                competing=bool(auth.competing),
                message=mask_text(auth.message or ""),
                fail=mask_text(auth.fail or ""),
                server_name=info.server_name if info else None,
                server_version=info.server_version if info else None,
            )
            if status.competing:
                status = evolve(
                    status, message=status.message or "another platform holds the brokerage session"
                )
        elif isinstance(error, UntrustedCertificateError):
            fp = error.fingerprint
            status = evolve(
                status,
                reachable=True,
                trusted=False,
                certificate_fingerprint=f"sha256:{fp}" if fp else None,
                message=str(error),
            )
        elif isinstance(error, NotAuthenticatedError):
            status = evolve(status, reachable=True, message=str(error))
        elif isinstance(error, CompetingSessionError):
            status = evolve(
                status, reachable=True, sso_session=True, connected=True, competing=True, message=str(error)
            )
        elif isinstance(error, BrokerageSessionError):
            status = evolve(status, reachable=True, sso_session=True, connected=True, message=str(error))
        elif isinstance(error, GatewayConnectionError):  # not reached, or no usable answer
            status = evolve(status, message=str(error))
        elif error is not None:
            status = evolve(status, reachable=True, message=mask_text(str(error)))
        self._status = status
        return status

    def _after_round(self, result: KeepaliveResult) -> m.GatewayStatus:
        self.last_tickle = dt.datetime.now(dt.UTC)
        if result.reauthenticated:
            self.client._note_reauth()
        return self._build(result.auth, None)
