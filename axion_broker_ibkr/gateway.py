"""``IBKRGateway`` / ``AsyncIBKRGateway``: the Client Portal Gateway's health, kept alive.

* :meth:`check` answers a :class:`~axion_broker_ibkr.models.GatewayStatus` (never raises for a
  gateway condition: a 401 becomes "log in to the gateway in a browser at <url>", an unreachable
  gateway ``reachable=False``), with the mode on it.
* :meth:`start` runs IBKR's start-up sequence (REFERENCE §1.7: auth status -> ``ssodh/init`` when
  needed -> ``/iserver/accounts`` -> ``/portfolio/accounts`` -> question suppression) and starts the
  keep-alive: a ``/tickle`` about once a minute that re-opens the brokerage session when it drops
  (``authenticated: false`` / ``no bridge``) and applies the competing-session policy (``wait``:
  report it and leave the other session alone; ``take_over``: ``ssodh/init`` with ``compete``).

The decisions are an I/O-free operation (:func:`keepalive_op`) driven by either client.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from attrs import define, evolve

from . import core
from . import models as m
from .client import AsyncIBKRClient, IBKRClient
from .clientbase import ClientBase
from .config import takes_over_competing
from .core import UntrustedCertificateError
from .errors import (
    BrokerageSessionError,
    CompetingSessionError,
    GatewayConnectionError,
    GatewayError,
    NotAuthenticatedError,
)
from .masking import mask_text

log = logging.getLogger(__name__)


@define(frozen=True, kw_only=True)
class KeepaliveResult:
    auth: m.AuthStatus
    reauthenticated: bool = False


def keepalive_op(
    state: core.SessionState, *, take_over: bool, suppress: tuple[str, ...]
) -> core.Op[KeepaliveResult]:
    """One keep-alive round: tickle; re-open the brokerage session if it dropped (unless another
    platform holds it and the policy is ``wait``)."""
    auth: m.AuthStatus | None = None
    try:
        tickle = yield from core.tickle()
        if tickle.iserver is not None:
            auth = tickle.iserver.auth_status
    except BrokerageSessionError:
        auth = None
    if auth is None:
        auth = yield from core.auth_status()
    if auth.authenticated and not auth.competing:
        return KeepaliveResult(auth=auth)
    if auth.competing and not take_over:
        log.warning("another platform holds the brokerage session; competing_policy is 'wait'")
        return KeepaliveResult(auth=auth)
    result = yield from core.open_session(state, take_over=take_over, suppress=suppress)
    return KeepaliveResult(auth=result.status, reauthenticated=True)


class _GatewayBase:
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


class IBKRGateway(_GatewayBase):
    """Health and keep-alive for a synchronous :class:`IBKRClient` (keep-alive on a daemon thread)."""

    client: IBKRClient

    def __init__(self, client: IBKRClient, *, interval: float | None = None) -> None:
        super().__init__(client, interval=interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> m.GatewayStatus:
        try:
            auth = self.client.auth_status()
            if auth.authenticated and self.client.state.accounts is None:
                self.client.accounts()
        except GatewayError as exc:
            return self._build(None, exc)
        return self._build(auth, None)

    def start(self, *, keepalive: bool = True) -> m.GatewayStatus:
        """Run the start-up sequence, then keep the session alive. Returns the status either way."""
        try:
            result = self.client.connect()
        except GatewayError as exc:
            status = self._build(None, exc)
        else:
            if result.tickle is not None:
                self.last_tickle = dt.datetime.now(dt.UTC)
            status = self._build(result.status, None)
        if keepalive:
            self.start_keepalive()
        return status

    def tick(self) -> m.GatewayStatus:
        """One keep-alive round now."""
        try:
            result = self.client.run(
                keepalive_op(
                    self.client.state, take_over=self._take_over, suppress=self.client.config.auto_confirm
                )
            )
        except GatewayError as exc:
            status = self._build(None, exc)
        else:
            status = self._after_round(result)
        self._notify(status)
        return status

    def reauthenticate(self) -> m.GatewayStatus:
        try:
            self.client.reauthenticate()
        except GatewayError as exc:
            return self._build(None, exc)
        return self.check()

    def take_over(self) -> m.GatewayStatus:
        """Take the brokerage session from another platform (it gets logged out there)."""
        try:
            self.client.run(
                core.open_session(self.client.state, take_over=True, suppress=self.client.config.auto_confirm)
            )
            self.client._note_reauth()
        except GatewayError as exc:
            return self._build(None, exc)
        return self.check()

    def start_keepalive(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ibkr-keepalive", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # keep the keep-alive alive; the status says what went wrong
                log.exception("keep-alive round failed")

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)

    def __enter__(self) -> IBKRGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AsyncIBKRGateway(_GatewayBase):
    """Health and keep-alive for an :class:`AsyncIBKRClient` (keep-alive as an asyncio task)."""

    client: AsyncIBKRClient

    def __init__(self, client: AsyncIBKRClient, *, interval: float | None = None) -> None:
        super().__init__(client, interval=interval)
        self._task: asyncio.Task[Any] | None = None

    async def check(self) -> m.GatewayStatus:
        try:
            auth = await self.client.auth_status()
            if auth.authenticated and self.client.state.accounts is None:
                await self.client.accounts()
        except GatewayError as exc:
            return self._build(None, exc)
        return self._build(auth, None)

    async def start(self, *, keepalive: bool = True) -> m.GatewayStatus:
        try:
            result = await self.client.connect()
        except GatewayError as exc:
            status = self._build(None, exc)
        else:
            if result.tickle is not None:
                self.last_tickle = dt.datetime.now(dt.UTC)
            status = self._build(result.status, None)
        if keepalive:
            self.start_keepalive()
        return status

    async def tick(self) -> m.GatewayStatus:
        try:
            op = keepalive_op(
                self.client.state, take_over=self._take_over, suppress=self.client.config.auto_confirm
            )
            result = await self.client.run(op)
        except GatewayError as exc:
            status = self._build(None, exc)
        else:
            status = self._after_round(result)
        if self._listeners:
            await asyncio.to_thread(self._notify, status)
        return status

    async def reauthenticate(self) -> m.GatewayStatus:
        try:
            await self.client.reauthenticate()
        except GatewayError as exc:
            return self._build(None, exc)
        return await self.check()

    async def take_over(self) -> m.GatewayStatus:
        try:
            op = core.open_session(
                self.client.state, take_over=True, suppress=self.client.config.auto_confirm
            )
            await self.client.run(op)
            self.client._note_reauth()
        except GatewayError as exc:
            return self._build(None, exc)
        return await self.check()

    def start_keepalive(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="ibkr-keepalive")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:
                log.exception("keep-alive round failed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> AsyncIBKRGateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


__all__ = ["AsyncIBKRGateway", "GatewayStatus", "IBKRGateway", "KeepaliveResult", "keepalive_op"]
GatewayStatus = m.GatewayStatus
