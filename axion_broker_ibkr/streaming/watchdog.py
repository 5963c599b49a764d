"""Per-topic watchdog bookkeeping: when a topic counts as silent, and what its health reads. No I/O.

Each watched channel (quotes, orders, P&L) has an expected interval: a subscription that produced
nothing for longer is re-sent on the same socket; while the socket is down the stream polls the
topic over REST instead (snapshots, live orders, P&L, each at the rate IBKR allows that endpoint,
read from the client's pacer). ``IBKRStreaming.health()`` reports, per channel::

    {"state": "live" | "silent" | "polling" | "down",
     "last_message_age": seconds since the last update (socket or REST) or None,
     "resubscribes": how often the watchdog re-sent the subscription}

* ``live``: the socket is up and the topic is within its expected interval;
* ``silent``: the socket is up but the topic is quiet past its interval (re-sent; for orders, also
  polled over REST while orders are working);
* ``polling``: the socket is down and REST polling of the topic works;
* ``down``: the socket is down and polling does not (yet) work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from attrs import define

from .. import models as m
from ..wire.convert import WIRE_ORDER_ID
from .events import StreamChannel

#: The channels the watchdog looks after, in the order ``health()`` lists them.
WATCHED: tuple[StreamChannel, ...] = (StreamChannel.QUOTE, StreamChannel.ORDERS, StreamChannel.PNL)

#: "order" as a word (order, orders, ordered), not inside another one ("border")
_ORDER_WORD = re.compile(r"\border", re.IGNORECASE)

#: REST endpoint polled for each watched channel (paths as the pacer's rules name them).
POLL_PATHS: dict[StreamChannel, str] = {
    StreamChannel.QUOTE: "/iserver/marketdata/snapshot",
    StreamChannel.ORDERS: "/iserver/account/orders",
    StreamChannel.PNL: "/iserver/account/pnl/partitioned",
}


@runtime_checkable
class PollingClient(Protocol):
    """What REST polling needs beyond :class:`~.protocol.StreamClient` (``AsyncIBKRClient`` has it).

    A client without these still streams; it just cannot fall back to polling quotes and P&L.
    """

    async def snapshot(
        self, conids: Any, fields: Any = ..., *, wait: float | None = ...
    ) -> list[m.Quote]: ...

    async def pnl(self) -> dict[str, m.PnLRow]: ...

    async def live_orders(
        self, account_id: str | None = ..., filters: Any = ..., *, force: bool = ...
    ) -> list[m.Order]: ...


@define(kw_only=True)
class TopicWatch:
    """The watchdog's memory of one channel. Times are the stream's clock."""

    channel: StreamChannel
    expected: float  #: seconds of silence tolerated while subscribed
    last_message: float | None = None  #: last update through the socket or a poll
    resubscribes: int = 0
    polls: int = 0
    poll_errors: int = 0
    last_poll_ok: float | None = None  #: time of the last successful poll
    poll_failed: bool = False  #: the last poll attempt failed
    next_poll: float = 0.0
    busy: bool = False  #: a poll is in flight (polls of one channel never overlap)

    def heard(self, now: float) -> None:
        self.last_message = now

    def age(self, now: float) -> float | None:
        return None if self.last_message is None else round(max(0.0, now - self.last_message), 3)

    def polled(self, now: float, ok: bool) -> None:
        self.poll_failed = not ok
        if ok:
            self.polls += 1
            self.last_poll_ok = now
            self.heard(now)
        else:
            self.poll_errors += 1


def topic_state(connected: bool, silent: bool, watch: TopicWatch, down_since: float | None) -> str:
    """``live`` / ``silent`` while the socket is up; ``polling`` / ``down`` while it is not."""
    if connected:
        return "silent" if silent else "live"
    polled_since_down = watch.last_poll_ok is not None and (
        down_since is None or watch.last_poll_ok >= down_since
    )
    return "polling" if polled_since_down and not watch.poll_failed else "down"


def quiet_for(
    now: float, sent_at: float | None, last_data: float | None, since: float | None = None
) -> float:
    """Seconds a subscription has been quiet: since its last frame, its last (re)send, or ``since``."""
    marks = [t for t in (sent_at, last_data, since) if t is not None]
    return now - max(marks) if marks else 0.0


def is_order_notice(args: Any) -> bool:
    """Whether an ``ntf`` payload concerns an order.

    IBKR documents ``ntf`` as ``{"id","text","title","url"}``, with order prompts also carrying
    ``orderId``/``reqId``/``options`` (REFERENCE §4.11, §6.3); what a gateway writes into the text of
    an order notice is undocumented, so both readings are accepted: an ``orderId`` key, or the word
    "order" in the title or text. ``args`` may be one object or a list of them (public clients accept both).
    """
    items = args if isinstance(args, list) else [args]
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if item.get(WIRE_ORDER_ID) is not None or item.get("order_id") is not None:
            return True
        words = f"{item.get('title') or ''} {item.get('text') or ''}"
        if _ORDER_WORD.search(words):
            return True
    return False


def poll_interval(client: object, channel: StreamChannel, floor: float) -> float:
    """Seconds between two polls of ``channel``: the pacer's per-endpoint interval for its REST
    path (IBKR's rate, e.g. 1 / 5 s for live orders and P&L), never below ``floor``."""
    pacer = getattr(client, "pacer", None)
    rule_for = getattr(pacer, "rule_for", None)
    interval = 0.0
    if callable(rule_for):
        rule = rule_for("GET", POLL_PATHS[channel])
        min_interval = getattr(rule, "min_interval", 0.0) or 0.0
        scale = getattr(pacer, "scale", 1.0) or 1.0
        interval = float(min_interval) / float(scale)
    return max(interval, floor)


__all__ = [
    "POLL_PATHS",
    "WATCHED",
    "PollingClient",
    "TopicWatch",
    "is_order_notice",
    "poll_interval",
    "quiet_for",
    "topic_state",
]
