"""The drivers' paired primitives: each sync one next to its async twin.

``client_sync.py`` is generated from ``client_async.py`` by ``scripts/unasync.py`` (plain token
substitutions, ``AsyncSemaphores`` -> ``Semaphores``, ``arun_blocking`` -> ``run_blocking``, ...).
Where the two drivers really differ (threads versus the event loop), the difference lives here,
so the client files themselves differ only by those substitutions. Keep every pair's signatures
identical but for ``async``."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
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
