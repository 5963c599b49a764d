"""Waiting for a condition in the streaming tests: polled, never a fixed sleep, never timed."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def until(
    predicate: Callable[[], bool | Awaitable[bool]], what: str, limit: float = 20.0, interval: float = 0.01
) -> None:
    """Poll until ``predicate()`` (a plain or an async check) holds.

    ``limit`` (seconds) only bounds a broken run, so that it fails naming ``what`` instead of
    hanging until the test's timeout; no timing is asserted.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(interval)
