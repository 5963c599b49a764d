"""Keep the order log current from the stream: ``sor`` order states and ``str`` executions.

    from axion_broker_ibkr.store.follow import follow_stream
    stop = follow_stream(store.journal, streaming)   # IBKRStreaming or SyncStreaming
    ...
    stop()

Database writes are blocking, so by default each event is applied in a worker thread and the
stream's event loop never waits on a disk flush. One worker per follow, so events are applied in
the order the stream delivered them: a filled quantity never decreases and a terminal status is
never undone anyway, but IBKR's status word (``ibkr_status``) would move back (``Submitted`` then a
late-applied ``PreSubmitted``) if two writes raced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from .sql_journal import SqlOrderJournal

log = logging.getLogger(__name__)


class EventSource(Protocol):
    """``IBKRStreaming.on`` / ``SyncStreaming.on``."""

    def on(self, channel: Any, callback: Callable[[Any], Any]) -> Callable[[], None]: ...


def follow_stream(
    journal: SqlOrderJournal, stream: EventSource, *, offload: bool = True
) -> Callable[[], None]:
    """Apply every order and trade event of ``stream`` to ``journal``; returns a function that stops."""
    from ..streaming.events import StreamChannel

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ibkr-order-log") if offload else None

    def run(fn: Callable[[Any], bool], arg: Any) -> Awaitable[bool] | bool:
        if writer is not None:
            return asyncio.wrap_future(writer.submit(fn, arg))
        return fn(arg)

    def on_order(event: Any) -> Awaitable[bool] | bool:
        return run(journal.apply_order, event.order)

    def on_trade(event: Any) -> Awaitable[bool] | bool:
        return run(journal.apply_trade, event.trade)

    removers = [stream.on(StreamChannel.ORDERS, on_order), stream.on(StreamChannel.TRADES, on_trade)]

    def stop() -> None:
        for remove in removers:
            remove()
        if writer is not None:
            writer.shutdown(wait=False)  # writes already queued still run, in order

    return stop
