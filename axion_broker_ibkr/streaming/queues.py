"""Per-consumer bounded event queue with a drop policy that never loses an order, fill or P&L event.

When the queue holds ``maxsize`` events and another arrives:

* a *droppable* event (quote, depth) evicts the oldest droppable event still queued (or is itself
  dropped when none is queued); every such loss is counted in ``dropped``. Since each quote event
  carries the merged quote, a later event still holds every field the dropped one had;
* any other event (orders, trades, P&L, system) is always queued, even past ``maxsize``
  (``overflow`` counts how often that happened).

Two internal deques ordered by a sequence number keep both operations O(1).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

from .events import DROPPABLE, StreamChannel, StreamEvent

E = TypeVar("E")


class EventQueue(Generic[E]):
    """The store part (no awaiting): ``put`` applies the drop policy, ``pop`` returns the oldest event."""

    def __init__(self, maxsize: int = 10_000, droppable: tuple[type, ...] = DROPPABLE) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize: must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._droppable = droppable
        self._seq = 0
        self._lossy: deque[tuple[int, E]] = deque()
        self._kept: deque[tuple[int, E]] = deque()
        self.dropped = 0
        self.overflow = 0
        self.delivered = 0

    def __len__(self) -> int:
        return len(self._lossy) + len(self._kept)

    def put(self, event: E) -> None:
        self._seq += 1
        lossy = isinstance(event, self._droppable)
        if len(self) >= self.maxsize:
            if lossy:
                self.dropped += 1
                if not self._lossy:
                    return  # nothing older to evict: this quote is the one lost
                self._lossy.popleft()
            else:
                self.overflow += 1
        (self._lossy if lossy else self._kept).append((self._seq, event))

    def pop(self) -> E:
        """Oldest event; raises ``IndexError`` when empty."""
        lossy, kept = self._lossy, self._kept
        source = lossy if lossy and (not kept or lossy[0][0] < kept[0][0]) else kept
        item = source.popleft()[1]
        self.delivered += 1
        return item


class AsyncEventQueue:
    """An :class:`EventQueue` for one consumer, filtered by channel, awaitable, closable."""

    def __init__(self, channels: frozenset[StreamChannel] | None, maxsize: int) -> None:
        self.channels = channels
        self.queue: EventQueue[StreamEvent] = EventQueue(maxsize)
        self._ready = asyncio.Event()
        self.closed = False

    def wants(self, event: StreamEvent) -> bool:
        return self.channels is None or event.channel in self.channels

    def put(self, event: StreamEvent) -> None:
        if not self.closed:
            self.queue.put(event)
            self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> StreamEvent | None:
        """Next event, or ``None`` once closed and drained."""
        while True:
            if len(self.queue):
                return self.queue.pop()
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
