"""The drivers' paired primitives: each sync one next to its async twin.

``client_sync.py`` is generated from ``client_async.py`` by ``scripts/unasync.py`` (plain token
substitutions, ``AsyncSemaphores`` -> ``Semaphores``, ``arun_blocking`` -> ``run_blocking``, ...),
and so is ``gateway_sync.py`` from ``gateway_async.py`` (``AsyncRepeater`` -> ``Repeater``).
Where the two drivers really differ (threads versus the event loop), the difference lives here,
so the client files themselves differ only by those substitutions. Keep every pair's signatures
identical but for ``async``."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

#: ``pacer.max_concurrent(...)``: ``(name, count)`` or None (no concurrency limit).
Limit = tuple[str, int] | None


async def arun_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking ``fn`` (journal writes, certificate fetches, the TCP probe, starting the
    simulator) in a worker thread, so the event loop keeps running."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Sync twin of :func:`arun_blocking`: the calling thread simply does the blocking work."""
    return fn(*args, **kwargs)


class AsyncSemaphores:
    """The per-name concurrency slots of one async client (``asyncio.Semaphore``, created on
    first use; the event loop is single-threaded, so no lock guards the table)."""

    def __init__(self) -> None:
        self._table: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, limit: Limit) -> AsyncIterator[None]:
        """Hold one slot of ``limit`` for the block (no limit: nothing is held)."""
        if limit is None:
            yield
            return
        name, count = limit
        async with self._table.setdefault(name, asyncio.Semaphore(count)):
            yield


class Semaphores:
    """Sync twin of :class:`AsyncSemaphores` (``threading.BoundedSemaphore``; the table is
    guarded by a lock, as several threads may share one client)."""

    def __init__(self) -> None:
        self._table: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self, limit: Limit) -> Iterator[None]:
        """Hold one slot of ``limit`` for the block (no limit: nothing is held)."""
        if limit is None:
            yield
            return
        name, count = limit
        with self._lock:
            sem = self._table.setdefault(name, threading.BoundedSemaphore(count))
        with sem:
            yield


class AsyncRepeater:
    """Run ``fn()`` every ``interval()`` seconds as an asyncio task (``interval`` is read before
    each wait) until :meth:`stop`; :meth:`start` needs a running event loop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    def start(self, fn: Callable[[], Awaitable[None]], interval: Callable[[], float]) -> None:
        """Start, unless already running."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(fn, interval), name=self.name)

    async def _loop(self, fn: Callable[[], Awaitable[None]], interval: Callable[[], float]) -> None:
        while True:
            await asyncio.sleep(interval())
            await fn()

    async def stop(self) -> None:
        """Cancel the task and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Repeater:
    """Sync twin of :class:`AsyncRepeater`: a daemon thread waiting on an event between rounds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, fn: Callable[[], None], interval: Callable[[], float]) -> None:
        """Start, unless already running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(fn, interval), name=self.name, daemon=True)
        self._thread.start()

    def _loop(self, fn: Callable[[], None], interval: Callable[[], float]) -> None:
        while not self._stop.wait(interval()):
            fn()

    def stop(self) -> None:
        """Stop after the current round (waits up to 5 s for the thread)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
