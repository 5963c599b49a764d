"""A small synchronous wrapper for scripts: the asyncio stream runs in a background thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from .. import models as m
from .consumers import Callback, EventStream
from .events import StreamChannel, StreamEvent
from .protocol import StreamClient
from .stream import IBKRStreaming

T = TypeVar("T")


class SyncStreaming:
    """Run :class:`IBKRStreaming` on a background thread::

        with SyncStreaming(make_client) as s:
            s.subscribe_quotes([8314])
            for event in s.events(timeout=5): ...

    ``client`` is a :class:`StreamClient` or a zero-argument factory; a factory is called on the
    stream's own thread, so an ``httpx.AsyncClient`` inside it is created on the loop that uses it.
    Callbacks registered with :meth:`on` run on the stream's thread.
    """

    def __init__(self, client: StreamClient | Callable[[], StreamClient], **options: Any) -> None:
        self._client = client
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stream: IBKRStreaming | None = None
        self._owned_client: StreamClient | None = None

    # --------------------------------------------------------------------------------- control

    def start(self, connect_timeout: float | None = 30.0) -> SyncStreaming:
        """Start the thread and the stream; wait for the first connection when ``connect_timeout`` is set."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="ibkr-stream-sync", daemon=True)
        self._thread.start()
        try:
            self._stream = self._call(self._make_stream())
            if connect_timeout is not None:
                self._call(self.stream.wait_connected(connect_timeout))
        except BaseException:
            self.close()  # no thread left reconnecting behind a caller that gave up
            raise
        return self

    async def _make_stream(self) -> IBKRStreaming:
        if callable(self._client):
            client = self._client()
            self._owned_client = client
        else:
            client = self._client
        stream = IBKRStreaming(client, **self._options)
        await stream.start()
        return stream

    async def _stop(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
        owned, self._owned_client = self._owned_client, None
        closer = getattr(owned, "aclose", None)  # a client made by our factory is ours to close
        if closer is not None:
            await closer()

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._stop(), timeout=15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = self._stream = None

    def __enter__(self) -> SyncStreaming:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stream(self) -> IBKRStreaming:
        if self._stream is None:
            raise RuntimeError("SyncStreaming is not started; call start() or use it as a context manager")
        return self._stream

    def _submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        if self._loop is None:
            coro.close()
            raise RuntimeError("SyncStreaming is not started; call start() or use it as a context manager")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._submit(coro).result(timeout)

    # --------------------------------------------------------------------------- subscriptions

    def subscribe_quotes(
        self, conids: Iterable[int | str] | int | str, fields: Sequence[str | int] | None = None
    ) -> None:
        self._call(self.stream.subscribe_quotes(conids, fields))

    def unsubscribe_quotes(self, conids: Iterable[int | str] | int | str) -> None:
        self._call(self.stream.unsubscribe_quotes(conids))

    def subscribe_orders(self) -> None:
        self._call(self.stream.subscribe_orders())

    def subscribe_trades(self, days: int = 1) -> None:
        self._call(self.stream.subscribe_trades(days))

    def subscribe_depth(
        self, conid: int | str, account: str | None = None, exchange: str | None = None
    ) -> None:
        self._call(self.stream.subscribe_depth(conid, account, exchange))

    def subscribe_pnl(self) -> None:
        self._call(self.stream.subscribe_pnl())

    # ------------------------------------------------------------------------------- consumers

    def events(
        self, *channels: StreamChannel, timeout: float = 10.0, maxsize: int | None = None
    ) -> Iterator[StreamEvent]:
        """Iterate events; ends after ``timeout`` seconds without one, or when the stream closes."""
        consumer: EventStream = self._call(self._events(channels, maxsize))
        try:
            while True:
                event = self._call(consumer.get(timeout))
                if event is None:
                    return
                yield event
        finally:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(consumer.close)

    async def _events(self, channels: tuple[StreamChannel, ...], maxsize: int | None) -> EventStream:
        return self.stream.events(*channels, maxsize=maxsize)

    def on(self, channel: StreamChannel, callback: Callback) -> Callable[[], None]:
        """Register a callback (it runs on the stream's thread); returns a remover."""
        return self.stream.on(channel, callback)

    # ----------------------------------------------------------------------------------- state

    def stats(self) -> dict[str, Any]:
        return self._call(self._stats())

    async def _stats(self) -> dict[str, Any]:
        return self.stream.stats()

    def health(self) -> dict[str, dict[str, Any]]:
        """:meth:`IBKRStreaming.health`, read on the stream's thread."""
        return self._call(self._health())

    async def _health(self) -> dict[str, dict[str, Any]]:
        return self.stream.health()

    def quote(self, conid: int) -> m.Quote | None:
        return self.stream.quote(conid)

    def order(self, order_id: int) -> m.Order | None:
        return self.stream.order(order_id)
