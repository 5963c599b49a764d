# GENERATED FILE, do not edit: made from axion_broker_ibkr/drivers/gateway_async.py by scripts/unasync.py.
# Edit gateway_async.py, then run `python scripts/unasync.py` (`--check` verifies; the test suite runs it).
"""``IBKRGateway``: health and keep-alive for a synchronous :class:`IBKRClient` (a daemon thread).

Import it from :mod:`axion_broker_ibkr.gateway`."""

from __future__ import annotations

import datetime as dt
import logging

from .. import models as m
from ..client import IBKRClient
from ..errors import GatewayError
from ..ops import iserver
from .gateway_base import GatewayBase, keepalive_op
from .primitives import Repeater, run_blocking

log = logging.getLogger("axion_broker_ibkr.gateway")  # the public module's name


class IBKRGateway(GatewayBase):
    """Health and keep-alive for a synchronous :class:`IBKRClient` (keep-alive on a daemon thread)."""

    client: IBKRClient

    def __init__(self, client: IBKRClient, *, interval: float | None = None) -> None:
        super().__init__(client, interval=interval)
        self._keepalive = Repeater("ibkr-keepalive")

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
            op = keepalive_op(
                self.client.state, take_over=self._take_over, suppress=self.client.config.auto_confirm
            )
            result = self.client.run(op)
        except GatewayError as exc:
            status = self._build(None, exc)
        else:
            status = self._after_round(result)
        if self._listeners:  # each listener runs here, on the keep-alive's thread
            run_blocking(self._notify, status)
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
            suppress = self.client.config.auto_confirm
            op = iserver.open_session(self.client.state, take_over=True, suppress=suppress)
            self.client.run(op)
            self.client._note_reauth()
        except GatewayError as exc:
            return self._build(None, exc)
        return self.check()

    def start_keepalive(self) -> None:
        self._keepalive.start(self._round, lambda: self.interval)

    def _round(self) -> None:
        try:
            self.tick()
        except Exception:  # keep the keep-alive alive; the status says what went wrong
            log.exception("keep-alive round failed")

    def stop(self) -> None:
        self._keepalive.stop()

    def __enter__(self) -> IBKRGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
