"""``ibkr_connections``: one row per connection with its current state and last account sync,
and ``ibkr_connection_events``: every connect, disconnect, status change and sync, in order."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ..masking import is_paper_account, mask_account, mask_text
from ..models import GatewayStatus, Position, SummaryValue
from .models import IbkrConnection, IbkrConnectionEvent, utcnow

log = logging.getLogger(__name__)


def connection_key(
    mode: str, gateway_host: str | None, gateway_port: int | None, account_id: str | None
) -> str:
    """A stable ``connection_id``: the same gateway, mode and account map to the same row."""
    return f"{mode}:{gateway_host or '-'}:{gateway_port or '-'}:{account_id or '-'}"


def gateway_status_word(status: GatewayStatus) -> str:
    """One word for a :class:`GatewayStatus`: unreachable, competing, authenticated,
    unauthenticated (reachable, no brokerage session) or no_session (no SSO login)."""
    if not status.reachable:
        return "unreachable"
    if status.competing:
        return "competing"
    if status.connected and status.authenticated:
        return "authenticated"
    if status.sso_session or status.connected:
        return "unauthenticated"
    return "no_session"


def account_figures(summary: Mapping[str, SummaryValue], positions: Sequence[Position]) -> dict[str, Any]:
    """Net liquidation, buying power, base currency (``GET /portfolio/{acct}/summary``) and the
    number of open positions (non-zero rows of every positions page)."""

    def amount(key: str) -> float | None:
        value = summary.get(key)
        return None if value is None else value.amount

    net = summary.get("netliquidation")
    return {
        "net_liquidation": amount("netliquidation"),
        "buying_power": amount("buyingpower"),
        "base_currency": None if net is None else net.currency,
        "position_count": sum(1 for p in positions if p.position),
    }


class AccountSource(Protocol):
    """What :func:`sync_account` needs from :class:`~axion_broker_ibkr.client.IBKRClient`."""

    @property
    def account_id(self) -> str | None: ...

    def account_summary(self, account_id: str | None = None) -> dict[str, SummaryValue]: ...

    def positions(self, account_id: str | None = None) -> list[Position]: ...


class ConnectionRecorder:
    """Writes one connection's row and history. Each call is its own committed transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        mode: str,
        gateway_host: str | None = None,
        gateway_port: int | None = None,
        account_id: str | None = None,
        connection_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.mode = mode
        self.gateway_host = gateway_host
        self.gateway_port = gateway_port
        self.account_id = account_id
        self.connection_id = connection_id or connection_key(mode, gateway_host, gateway_port, account_id)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def connected(self, *, status: str = "connected", message: str | None = None) -> None:
        self._record("connect", status, message, connected=True)

    def disconnected(self, *, reason: str | None = None) -> None:
        self._record("disconnect", "disconnected", reason, disconnected=True)

    def status_changed(self, status: str, *, message: str | None = None, error: str | None = None) -> None:
        """A change of gateway state (authenticated, competing, reauthenticating, error ...).
        Recorded only when the status differs from the stored one, or carries an error."""
        with self._sessions() as session:
            current = session.scalar(
                select(IbkrConnection.status).where(IbkrConnection.connection_id == self.connection_id)
            )
        if current == status and error is None:
            return
        self._record("status", status, message, error=error)

    def account_synced(
        self,
        *,
        net_liquidation: float | None,
        buying_power: float | None,
        position_count: int | None,
        base_currency: str | None,
        account_id: str | None = None,
    ) -> None:
        details = {
            "net_liquidation": net_liquidation,
            "buying_power": buying_power,
            "position_count": position_count,
            "base_currency": base_currency,
        }
        with self._sessions.begin() as session:
            row = self._ensure(session, status="connected")
            if account_id:
                row.account_id = account_id
                row.account_type = "paper" if is_paper_account(account_id) else "live"
            row.net_liquidation = net_liquidation
            row.buying_power = buying_power
            row.position_count = position_count
            row.base_currency = base_currency
            row.last_sync_at = utcnow()
            session.add(
                IbkrConnectionEvent(
                    connection_id=self.connection_id, event="account_sync", status=row.status, details=details
                )
            )
        log.info("account sync recorded for %s", mask_account(account_id or self.account_id))

    def current(self) -> IbkrConnection | None:
        with self._sessions() as session:
            return session.scalar(
                select(IbkrConnection).where(IbkrConnection.connection_id == self.connection_id)
            )

    def events(self) -> list[IbkrConnectionEvent]:
        with self._sessions() as session:
            stmt = (
                select(IbkrConnectionEvent)
                .where(IbkrConnectionEvent.connection_id == self.connection_id)
                .order_by(IbkrConnectionEvent.id)
            )
            return list(session.scalars(stmt))

    # -- helpers ----------------------------------------------------------------------------------

    def _ensure(self, session: Session, *, status: str) -> IbkrConnection:
        row = session.scalar(
            select(IbkrConnection).where(IbkrConnection.connection_id == self.connection_id).with_for_update()
        )
        if row is None:
            row = IbkrConnection(
                connection_id=self.connection_id,
                account_id=self.account_id,
                account_type=None
                if self.account_id is None
                else ("paper" if is_paper_account(self.account_id) else "live"),
                status=status,
                mode=self.mode,
                gateway_host=self.gateway_host,
                gateway_port=self.gateway_port,
            )
            session.add(row)
            session.flush()
        return row

    def _record(
        self,
        event: str,
        status: str,
        message: str | None,
        *,
        connected: bool = False,
        disconnected: bool = False,
        error: str | None = None,
    ) -> None:
        details: dict[str, Any] = {}
        if error:
            details["error"] = mask_text(error)
        with self._sessions.begin() as session:
            row = self._ensure(session, status=status)
            row.status = status
            now = utcnow()
            if connected:
                row.connected_at = now
                row.error_message = None
            if disconnected:
                row.disconnected_at = now
            if error is not None:
                row.error_message = mask_text(error)
            session.add(
                IbkrConnectionEvent(
                    connection_id=self.connection_id,
                    event=event,
                    status=status,
                    message=None if message is None else mask_text(message),
                    details=details,
                )
            )
        log.info("connection %s: %s (%s)", mask_text(self.connection_id), event, status)


def record_gateway_status(recorder: ConnectionRecorder, status: GatewayStatus) -> None:
    """Record a :class:`GatewayStatus` (from ``IBKRGateway``) when its state word changes."""
    word = gateway_status_word(status)
    error = status.fail or None
    recorder.status_changed(word, message=status.message or None, error=error)


def sync_account(recorder: ConnectionRecorder, client: AccountSource, account_id: str | None = None) -> None:
    """Fetch the account's summary and positions through ``client`` and record the sync."""
    account = account_id or client.account_id
    figures = account_figures(client.account_summary(account), client.positions(account))
    recorder.account_synced(account_id=account, **figures)
