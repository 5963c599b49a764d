"""What the stream is subscribed to, the frames that (un)subscribe it, and when to refresh ``smd``.

The registry is the single source of what to re-send after a reconnect. ``smd`` subscriptions are
re-sent before IBKR's ~15-minute expiry, and also when a quote subscription has been silent for too
long (the expiry is silent: frames simply stop). Pure data, no I/O; the clock is passed in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from attrs import define, field

from ..errors import SubscriptionError
from ..wire.convert import DEFAULT_QUOTE_FIELDS
from .events import StreamChannel

__all__ = ["Registry", "Subscription", "SubscriptionError", "quote_subscription"]


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


@define(kw_only=True)
class Subscription:
    """One active subscription. ``key`` identifies it in the registry."""

    channel: StreamChannel
    target: str = ""  # conid (QUOTE/DEPTH), account (DEPTH)
    fields: tuple[str, ...] = ()
    account: str | None = None
    exchange: str | None = None
    days: int = 1
    sent_at: float | None = None  # clock time of the last (re)send
    first_sent_at: float | None = None  # clock time of the first send on the current socket
    last_data: float | None = None  # clock time of the last frame for it
    sends: int = 0

    @property
    def key(self) -> tuple[StreamChannel, str]:
        return (self.channel, self.target)

    def subscribe_frame(self) -> str:
        ch = self.channel
        if ch is StreamChannel.QUOTE:
            return f"smd+{self.target}+{_compact({'fields': list(self.fields)})}"
        if ch is StreamChannel.TRADES:
            return f"str+{_compact({'realtimeUpdatesOnly': False, 'days': self.days})}"
        if ch is StreamChannel.DEPTH:
            tail = f"+{self.exchange}" if self.exchange else ""
            return f"sbd+{self.account}+{self.target}{tail}"
        if ch is StreamChannel.ORDERS:
            return "sor+{}"
        if ch is StreamChannel.PNL:
            return "spl+{}"
        raise SubscriptionError(f"channel: {ch.value!r} cannot be subscribed")

    def unsubscribe_frame(self) -> str:
        return {
            StreamChannel.QUOTE: f"umd+{self.target}+{{}}",
            StreamChannel.TRADES: "utr",
            StreamChannel.DEPTH: f"ubd+{self.account}",
            StreamChannel.ORDERS: "uor+{}",
            StreamChannel.PNL: "upl+{}",
        }[self.channel]


def quote_subscription(conid: int | str, fields: Sequence[str | int] | None = None) -> Subscription:
    """Validate a quote request: conid (``8314`` or ``"8314@SMART"``) and field ids sent as strings."""
    target = str(conid).strip()
    number = target.partition("@")[0]
    if not number.isdigit() or int(number) <= 0:
        raise SubscriptionError(f"conid: expected a positive integer (optionally @EXCHANGE), got {conid!r}")
    chosen = tuple(str(f).strip() for f in (fields if fields is not None else DEFAULT_QUOTE_FIELDS))
    if not chosen:
        raise SubscriptionError("fields: at least one market-data field id is needed")
    bad = [f for f in chosen if not f.isdigit()]
    if bad:
        raise SubscriptionError(f"fields: field ids are numbers such as '31', got {bad!r}")
    return Subscription(channel=StreamChannel.QUOTE, target=target, fields=tuple(dict.fromkeys(chosen)))


@define
class Registry:
    """Active subscriptions in the order they were made (re-sent in that order)."""

    _subs: dict[tuple[StreamChannel, str], Subscription] = field(factory=dict)

    def add(self, sub: Subscription) -> Subscription:
        """Add or replace; a quote re-subscription extends the field list instead of narrowing it."""
        old = self._subs.get(sub.key)
        if old is not None and sub.channel is StreamChannel.QUOTE:
            sub.fields = tuple(dict.fromkeys((*old.fields, *sub.fields)))
        self._subs[sub.key] = sub
        return sub

    def remove(self, channel: StreamChannel, target: str = "") -> Subscription | None:
        return self._subs.pop((channel, target), None)

    def get(self, channel: StreamChannel, target: str = "") -> Subscription | None:
        return self._subs.get((channel, target))

    def active(self, channel: StreamChannel | None = None) -> list[Subscription]:
        return [s for s in self._subs.values() if channel is None or s.channel is channel]

    def __len__(self) -> int:
        return len(self._subs)

    def mark_data(self, channel: StreamChannel, target: str, now: float) -> None:
        sub = self._subs.get((channel, target))
        if sub is not None:
            sub.last_data = now

    def due_quote_refresh(self, now: float, refresh_after: float, silence: float) -> list[Subscription]:
        """Quote subscriptions to re-send: sent ``refresh_after`` ago, or silent for ``silence`` seconds."""
        due: list[Subscription] = []
        for sub in self.active(StreamChannel.QUOTE):
            if sub.sent_at is None:
                continue
            if now - sub.sent_at >= refresh_after:
                due.append(sub)
                continue
            last = sub.last_data if sub.last_data is not None else sub.sent_at
            if now - max(last, sub.sent_at) >= silence:
                due.append(sub)
        return due

    def reset_sent(self, subs: Iterable[Subscription] | None = None) -> None:
        """Mark subscriptions as not sent (a new socket carries none of them)."""
        for sub in subs if subs is not None else self._subs.values():
            sub.sent_at = None
            sub.first_sent_at = None
            sub.last_data = None
