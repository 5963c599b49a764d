"""Consumers of the stream: bounded per-consumer queues (``events()``) and per-channel callbacks."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .events import StreamChannel, StreamEvent
from .queues import AsyncEventQueue

log = logging.getLogger(__name__)

Callback = Callable[[Any], Awaitable[None] | None]


class EventStream:
    """``async for event in stream.events(...)``: a consumer's bounded queue; ``close()`` to leave."""

    def __init__(self, owner: Dispatcher, queue: AsyncEventQueue) -> None:
        self._owner = owner
        self._queue = queue

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self

    async def __anext__(self) -> StreamEvent:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def get(self, timeout: float | None = None) -> StreamEvent | None:  # noqa: ASYNC109 (caller's API)
        """Next event, ``None`` on timeout or when the stream closed."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def drain(self) -> list[StreamEvent]:
        """Everything queued right now, oldest first, without waiting (for polling UIs)."""
        queue = self._queue.queue
        return [queue.pop() for _ in range(len(queue))]

    @property
    def dropped(self) -> int:
        """Quote/depth events this consumer lost because it fell behind."""
        return self._queue.queue.dropped

    def close(self) -> None:
        self._owner.remove(self._queue)


class Dispatcher:
    """Hands every event to each interested consumer queue and callback; owns the callback tasks."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._consumers: set[AsyncEventQueue] = set()
        self._callbacks: dict[StreamChannel, list[Callback]] = {ch: [] for ch in StreamChannel}
        self._tasks: set[asyncio.Future[Any]] = set()
        self.events = 0
        self.callback_errors = 0
        self._dropped_closed = 0
        self._overflow_closed = 0

    def events_stream(self, channels: tuple[StreamChannel, ...], maxsize: int | None) -> EventStream:
        queue = AsyncEventQueue(frozenset(channels) or None, maxsize or self.queue_size)
        self._consumers.add(queue)
        return EventStream(self, queue)

    def remove(self, queue: AsyncEventQueue) -> None:
        if queue in self._consumers:
            self._consumers.discard(queue)
            self._dropped_closed += queue.queue.dropped
            self._overflow_closed += queue.queue.overflow
        queue.close()

    def on(self, channel: StreamChannel, callback: Callback) -> Callable[[], None]:
        self._callbacks[channel].append(callback)
        return lambda: self._callbacks[channel].remove(callback)

    def dispatch(self, event: StreamEvent) -> None:
        self.events += 1
        for queue in self._consumers:
            if queue.wants(event):
                queue.put(event)
        for callback in self._callbacks[event.channel]:
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    self.spawn(self._await_callback(result))
            except Exception:
                self.callback_errors += 1
                log.exception("stream callback failed for %s", event.channel.value)

    async def _await_callback(self, result: Awaitable[None]) -> None:
        try:
            await result
        except Exception:
            self.callback_errors += 1
            log.exception("async stream callback failed")

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Cancel background tasks and end every consumer's iteration (after what is queued)."""
        for task in list(self._tasks):
            task.cancel()
        for queue in list(self._consumers):
            self.remove(queue)

    def stats(self) -> dict[str, int]:
        queues = [q.queue for q in self._consumers]
        return {
            "consumers": len(queues),
            "events": self.events,
            "dropped": sum(q.dropped for q in queues) + self._dropped_closed,
            "overflow": sum(q.overflow for q in queues) + self._overflow_closed,
            "queued": sum(len(q) for q in queues),
            "callback_errors": self.callback_errors,
        }
