"""The page's live state: orders, fills, P&L and quotes read from the running stream's state
objects (``IBKRStreaming.orders`` / ``.trades`` / ``.pnl`` / ``.quote``), REST snapshots when the
stream cannot run. Nothing here changes the stream; it subscribes a channel once and reads.

A REST fallback call that IBKR's pacing holds back runs under a spinner that names the wait
("IBKR allows one live-orders request per 5 s; 3 s left"), read from the client's pacer rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import streamlit as st

from ..models import Order, PnLRow, Quote, Trade
from ..streaming import StreamChannel
from . import vm_trading
from .state import cached, is_fresh, wait_left

if TYPE_CHECKING:
    from ..streaming import IBKRStreaming
    from .factory import DashboardSession

T = TypeVar("T")

#: How often the live tables re-read the stream's state (the stream itself pushes at once).
LIVE_EVERY = 0.5
ORDERS_TTL = 6.0
#: IBKR allows one live-orders / trades request per 5 s; the page keeps a margin over it.
ORDERS_SPACING = 5.5
TRADE_DAYS = 7
#: (cache name, endpoint name in the spinner, request path of the pacer rule)
_ENDPOINTS = {
    "orders:live": ("live-orders", "/iserver/account/orders"),
    "orders:trades": ("trades", "/iserver/account/trades"),
    "acct:pnl": ("P&L", "/iserver/account/pnl/partitioned"),
}


def stream_of(session: DashboardSession) -> IBKRStreaming | None:
    """The session's running stream (started on first use), ``None`` when it cannot run."""
    sync = session.streaming()
    if sync is None:
        return None
    try:
        return sync.stream
    except RuntimeError:  # closed under us
        return None


def _subscribed(stream: IBKRStreaming, channel: StreamChannel) -> bool:
    return stream.registry.get(channel) is not None


def paced(session: DashboardSession, name: str, loader: Callable[[], T], ttl: float, spacing: float) -> T:
    """``cached(name, loader, ttl, spacing)``; when IBKR's pacing makes it wait, under a spinner
    naming the wait and the rule (the pacer's own rule for the endpoint, its 429 back-off)."""
    if is_fresh(name, ttl):
        return cached(name, loader, ttl, spacing)
    pacer = session.client.pacer
    endpoint, path = _ENDPOINTS.get(name, (name, ""))
    rule = pacer.rule_for("GET", path) if path else None
    left = max(wait_left(name, spacing), pacer.blocked_for)
    if left > 0.05:
        interval = rule.min_interval if rule is not None else spacing
        with st.spinner(vm_trading.pacing_text(endpoint, interval, left)):
            return cached(name, loader, ttl, spacing)
    return cached(name, loader, ttl, spacing)


def orders(session: DashboardSession) -> tuple[list[Order], str]:
    """Live orders and where they come from (``"stream"`` or ``"rest"``)."""
    stream = stream_of(session)
    if stream is not None and _subscribed(stream, StreamChannel.ORDERS):
        return list(stream.orders.values()), "stream"
    return paced(session, "orders:live", session.client.live_orders, ORDERS_TTL, ORDERS_SPACING), "rest"


def trades(session: DashboardSession) -> tuple[list[Trade], str]:
    """Recent executions: the stream's ``str`` channel (subscribed once, with a back-fill of
    :data:`TRADE_DAYS` days), else the REST list."""
    stream = stream_of(session)
    if stream is not None:
        sync = session.running_stream
        if not _subscribed(stream, StreamChannel.TRADES) and sync is not None:
            with st.spinner(f"Subscribing to executions (back-fill of {TRADE_DAYS} days of trades)…"):
                sync.subscribe_trades(TRADE_DAYS)
        return stream.trades, "stream"

    def load() -> list[Trade]:
        return session.client.trades()

    return paced(session, "orders:trades", load, ORDERS_TTL, ORDERS_SPACING), "rest"


def pnl(session: DashboardSession) -> dict[str, PnLRow] | None:
    """The stream's partitioned P&L (subscribed once); ``None`` without a stream or before its
    first ``spl`` frame (the caller then reads REST)."""
    stream = stream_of(session)
    sync = session.running_stream
    if stream is None or sync is None:
        return None
    if not _subscribed(stream, StreamChannel.PNL):
        sync.subscribe_pnl()
    rows = stream.pnl
    return rows or None


def quote(session: DashboardSession, conid: int) -> tuple[Quote | None, str]:
    """The latest quote of one contract: the stream (subscribed here), a REST snapshot until its
    first frame arrives or when there is no stream."""
    stream = stream_of(session)
    sync = session.running_stream
    if stream is not None and sync is not None:
        sync.subscribe_quotes([conid])
        got = stream.quote(conid)
        if got is not None and got.has_data:
            return got, "stream"
    snap = cached(f"quote:{conid}", lambda: session.client.snapshot([conid]), 2.0)
    return (snap[0] if snap else None), "snapshot"


def await_order(
    session: DashboardSession, order_id: int, done: Callable[[Order | None], bool], timeout: float = 2.0
) -> Order | None:
    """Wait (at most ``timeout``) until the stream's state of ``order_id`` satisfies ``done``, so the
    page drawn next shows what IBKR just acknowledged. Without a stream: returns at once."""
    stream = stream_of(session)
    if stream is None:
        return None
    deadline = time.monotonic() + timeout
    order = stream.order(order_id)
    while not done(order) and time.monotonic() < deadline:
        time.sleep(0.05)
        order = stream.order(order_id)
    return order
