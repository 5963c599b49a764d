"""Session models: authentication status, tickle, and the gateway status the plugin reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from attrs import define


@define(frozen=True, kw_only=True)
class ServerInfo:
    server_name: str | None = None
    server_version: str | None = None


@define(frozen=True, kw_only=True)
class AuthStatus:
    """``POST /iserver/auth/status`` (also ``ssodh/init``, ``tickle.iserver.authStatus``, ws ``sts``)."""

    authenticated: bool | None = None
    connected: bool | None = None
    competing: bool | None = None
    message: str | None = None
    # Real payloads carry ``fail`` at top level; the OpenAPI puts it under serverInfo [conflict]:
    # the converter reads both and prefers the top level.
    fail: str | None = None
    mac: str | None = None
    hardware_info: str | None = None
    server_info: ServerInfo | None = None


@define(frozen=True, kw_only=True)
class TickleIServer:
    auth_status: AuthStatus | None = None
    tickle: bool | None = None


@define(frozen=True, kw_only=True)
class Tickle:
    """``POST /tickle``. ``session`` authenticates the WebSocket; treat it as a secret."""

    session: str | None = None
    sso_expires: int | None = None
    collission: bool | None = None  # sic, IBKR's spelling
    user_id: int | None = None
    hmds: dict[str, Any] | None = None
    iserver: TickleIServer | None = None


@define(frozen=True, kw_only=True)
class GatewayStatus:
    """What :class:`~axion_broker_ibkr.gateway.IBKRGateway` reports about the gateway.

    ``mode`` says whether this is a real gateway or the embedded simulator; it is on every status.
    """

    mode: str
    url: str
    connected: bool = False
    authenticated: bool = False
    competing: bool = False
    reachable: bool = False
    sso_session: bool = False
    message: str = ""
    fail: str = ""
    server_name: str | None = None
    server_version: str | None = None
    selected_account: str | None = None
    last_checked: dt.datetime | None = None
    last_tickle: dt.datetime | None = None
    reauthentications: int = 0
    login_url: str | None = None
    #: SHA-256 (``sha256:<hex>``) of the certificate the gateway presented when it is not trusted
    #: (``trusted=False``; ``axion-ibkr trust`` pins it), else ``None``.
    certificate_fingerprint: str | None = None
    trusted: bool = True
    #: ``oauth`` mode: when the live session token expires (epoch seconds, IBKR's clock), and how
    #: many times it was replaced by a new one; ``None`` / 0 in the other modes.
    oauth_token_expires_at: float | None = None
    oauth_refreshes: int = 0

    @property
    def healthy(self) -> bool:
        return self.reachable and self.connected and self.authenticated and not self.competing
