"""follow_stream: order and trade events from the stream update the order log."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from axion_broker_ibkr.store import Store
from axion_broker_ibkr.store.follow import follow_stream
from axion_broker_ibkr.streaming.events import StreamChannel

from .helpers import entry, order, trade


def order_event(o: Any) -> Any:
    """Only what follow_stream reads of an OrderEvent (its other fields belong to streaming)."""
    return SimpleNamespace(channel=StreamChannel.ORDERS, order_id=o.order_id, order=o)


def trade_event(t: Any) -> Any:
    return SimpleNamespace(channel=StreamChannel.TRADES, trade=t)


class FakeStream:
    """Holds callbacks like IBKRStreaming.on and delivers events to them."""

    def __init__(self) -> None:
        self.callbacks: dict[Any, list[Callable[[Any], Any]]] = {}

    def on(self, channel: Any, callback: Callable[[Any], Any]) -> Callable[[], None]:
        self.callbacks.setdefault(channel, []).append(callback)
        return lambda: self.callbacks[channel].remove(callback)

    async def deliver(self, event: Any) -> list[Any]:
        results = []
        for cb in list(self.callbacks.get(event.channel, [])):
            result = cb(event)
            results.append(await result if inspect.isawaitable(result) else result)
        return results


async def test_events_update_the_log_off_the_event_loop(store: Store) -> None:
    store.journal.record_pending(entry("c-1"))
    stream = FakeStream()
    stop = follow_stream(store.journal, stream)
    o = order("c-1", "Submitted", order_id=42)
    assert await stream.deliver(order_event(o)) == [True]
    assert await stream.deliver(trade_event(trade("c-1", "e1", 10.0, 187.0, order_id=42))) == [True]
    got = store.journal.get("c-1")
    assert got is not None
    assert (got.status, got.order_id, got.filled_quantity) == ("filled", "42", 10.0)

    stop()
    assert stream.callbacks == {StreamChannel.ORDERS: [], StreamChannel.TRADES: []}


async def test_inline_mode_and_foreign_orders(store: Store) -> None:
    stream = FakeStream()
    follow_stream(store.journal, stream, offload=False)
    o = order("placed-in-tws", "Submitted", order_id=7)
    assert await stream.deliver(order_event(o)) == [False]
    assert store.journal.entries() == []
