"""``AsyncIBKRGateway``: health and keep-alive for an :class:`AsyncIBKRClient` (an asyncio task).

Import it from :mod:`axion_broker_ibkr.gateway`. This file is the one source: ``gateway_sync.py``
is generated from it by ``scripts/unasync.py``."""

from __future__ import annotations

import datetime as dt
import logging

from .. import models as m
from ..client import AsyncIBKRClient
from ..errors import GatewayError
from ..ops import iserver
from .gateway_base import GatewayBase, keepalive_op
from .primitives import AsyncRepeater, arun_blocking

log = logging.getLogger("axion_broker_ibkr.gateway")  # the public module's name


class AsyncIBKRGateway(GatewayBase):
    """Health and keep-alive for an :class:`AsyncIBKRClient` (keep-alive as an asyncio task)."""

    client: AsyncIBKRClient

    def __init__(self, client: AsyncIBKRClient, *, interval: float | None = None) -> None:
        super().__init__(client, interval=interval)
        self._keepalive = AsyncRepeater("ibkr-keepalive")

    async def check(self) -> m.GatewayStatus:
        try:
            auth = await self.client.auth_status()
            if auth.authenticated and self.client.state.accounts is None:
                await self.client.accounts()
        except GatewayError as exc:
            return self._build(None, exc)
        return self._build(auth, None)

    async def start(self, *, keepalive: bool = True) -> m.GatewayStatus:
        """Run the start-up sequence, then keep the session alive. Returns the status either way."""
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
        """One keep-alive round now."""
        try:
            op = keepalive_op(
                self.client.state, take_over=self._take_over, suppress=self.client.config.auto_confirm
            )
            result = await self.client.run(op)
        except GatewayError as exc:
            status = self._build(None, exc)
        else:
            status = self._after_round(result)
        if self._listeners:  # listeners may block (a database write): a worker thread
            await arun_blocking(self._notify, status)
        return status

    async def reauthenticate(self) -> m.GatewayStatus:
        try:
            await self.client.reauthenticate()
        except GatewayError as exc:
            return self._build(None, exc)
        return await self.check()

    async def take_over(self) -> m.GatewayStatus:
        """Take the brokerage session from another platform (it gets logged out there)."""
        try:
            suppress = self.client.config.auto_confirm
            op = iserver.open_session(self.client.state, take_over=True, suppress=suppress)
            await self.client.run(op)
            self.client._note_reauth()
        except GatewayError as exc:
            return self._build(None, exc)
        return await self.check()

    def start_keepalive(self) -> None:
        self._keepalive.start(self._round, lambda: self.interval)

    async def _round(self) -> None:
        try:
            await self.tick()
        except Exception:  # keep the keep-alive alive; the status says what went wrong
            log.exception("keep-alive round failed")

    async def stop(self) -> None:
        await self._keepalive.stop()

    async def __aenter__(self) -> AsyncIBKRGateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
