"""Plain steps (axion_broker_ibkr.drivers.steps): one procedure, run by the sync and the async driver."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from axion_broker_ibkr.drivers.steps import Steps, arun_steps, blocking, call, run_steps


class _Source:
    """A sync or async 'client' method and a blocking function that says which thread ran it."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def value(self, x: int, *, plus: int = 0) -> int:
        return x + plus

    async def avalue(self, x: int, *, plus: int = 0) -> int:
        await asyncio.sleep(0)
        return x + plus

    def write(self, what: str) -> str:
        self.threads.append(threading.current_thread().name)
        return what.upper()

    def fail(self) -> None:
        raise OSError("disk full")


def _procedure(fetch: Any, source: _Source) -> Steps[tuple[int, str, str]]:
    got = yield call(fetch, 40, plus=2)
    written = yield blocking(source.write, "ok")
    try:
        yield blocking(source.fail)
    except OSError as exc:  # an error of a step is thrown back into the procedure
        handled = str(exc)
    return got, written, handled


def test_the_sync_driver_runs_every_step_in_the_calling_thread() -> None:
    source = _Source()
    assert run_steps(_procedure(source.value, source)) == (42, "OK", "disk full")
    assert source.threads == [threading.current_thread().name]


async def test_the_async_driver_awaits_calls_and_runs_blocking_work_off_the_loop() -> None:
    source = _Source()
    assert await arun_steps(_procedure(source.avalue, source)) == (42, "OK", "disk full")
    assert source.threads and source.threads[0] != threading.current_thread().name


def test_an_unhandled_step_error_leaves_the_driver() -> None:
    source = _Source()

    def procedure() -> Steps[None]:
        yield blocking(source.fail)

    with pytest.raises(OSError, match="disk full"):
        run_steps(procedure())
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(arun_steps(procedure()))
