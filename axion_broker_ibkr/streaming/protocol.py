"""What the stream needs from the REST client (``AsyncIBKRClient`` provides all of it)."""

from __future__ import annotations

import ssl
from typing import Protocol

from .. import models as m


class StreamClient(Protocol):
    """The subset of :class:`~axion_broker_ibkr.client.AsyncIBKRClient` used by the stream."""

    @property
    def ws_url(self) -> str: ...

    @property
    def ssl_context(self) -> ssl.SSLContext | None: ...

    async def tickle(self) -> m.Tickle: ...

    async def auth_status(self) -> m.AuthStatus: ...

    async def init_session(self, *, compete: bool = ...) -> m.AuthStatus: ...

    async def live_orders(self) -> list[m.Order]: ...

    async def trades(self, *, days: int | None = ...) -> list[m.Trade]: ...
