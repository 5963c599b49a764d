"""The page's live state: orders, fills, P&L and quotes read from the running stream's state
objects (``IBKRStreaming.orders`` / ``.trades`` / ``.pnl`` / ``.quote``), REST snapshots when the
stream cannot run. Nothing here changes the stream; it subscribes a channel once and reads.

A REST fallback call that IBKR's pacing holds back runs under a spinner that names the wait
("IBKR allows one live-orders request per 5 s; 3 s left"), read from the client's pacer rule; a
trader's action runs under :func:`action` (its spinner, and a second one naming any pacing wait
of its requests, as the pacer tells it).

Priority: the page's background refreshes (positions following the P&L stream, snapshots until a
quote's first stream frame) go through :func:`refresh`, which reuses what the page has while the
client's global budget has no more than :data:`TRADER_RESERVE` requests of burst left, so a
trader's preview, send or search never queues behind them. IBKR's per-endpoint limits and the
budget shared with other processes are untouched: every request still books its slot.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import streamlit as st

from ..drivers.pacing import Wait, watch_waits
from ..models import Order, PnLRow, Quote, Trade
from ..streaming import StreamChannel
from . import vm_trading
from .page_cache import cached, is_fresh, wait_left

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


#: Requests of the global budget's burst a background refresh leaves to the trader's actions
#: (a preview is about three: contract rules, what-if, the account).
TRADER_RESERVE = 4


def spare(session: DashboardSession) -> bool:
    """Whether a background refresh may spend the budget now: more than :data:`TRADER_RESERVE`
    requests of burst left (with a burst smaller than that: one free slot, and none held)."""
    pacer = session.client.pacer
    keep = min(TRADER_RESERVE, pacer.burst - 1)
    return pacer.headroom() > keep


def refresh(
    session: DashboardSession, name: str, loader: Callable[[], T], ttl: float, patience: float = 30.0
) -> T:
    """``cached(name, loader, ttl)`` for a background refresh: once ``name`` was fetched, a stale
    value is kept (not re-read), at most ``patience`` seconds past ``ttl``, while the budget is
    not :func:`spare`. The first read always happens."""
    if not is_fresh(name, ttl) and is_fresh(name, ttl + patience) and not spare(session):
        ttl += patience
    return cached(name, loader, ttl)


@contextlib.contextmanager
def action(text: str) -> Iterator[None]:
    """``st.spinner(text)`` around a trader's action; when one of its requests waits for pacing,
    a second spinner names that wait (``waiting for IBKR's pacing: /iserver/marketdata/history
    allows 5 concurrent``) until the next wait or the end of the action."""
    with st.spinner(text), contextlib.ExitStack() as shown:

        def told(wait: Wait) -> None:
            shown.close()  # the wait before this one is over
            shown.enter_context(st.spinner(wait.text))

        with watch_waits(told):
            yield


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
    snap = refresh(session, f"quote:{conid}", lambda: session.client.snapshot([conid]), 2.0)
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
