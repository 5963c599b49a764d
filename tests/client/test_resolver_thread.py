"""The async resolver never touches its persistent cache on the event loop's thread (a SQLite lookup
would block every other coroutine); the sync resolver keeps reading it inline. Same answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

from axion_broker_ibkr.client import AsyncIBKRClient
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.resolver import AsyncContractResolver
from axion_broker_ibkr.store.memory import MemoryContractCache
from tests.client.conftest import Router, make_client


class ThreadRecordingCache(MemoryContractCache):
    """A persistent cache stand-in that notes which thread each call ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[tuple[str, int]] = []

    def get(self, key: str) -> IBKRContract | None:
        self.threads.append(("get", threading.get_ident()))
        return super().get(key)

    def put(self, key: str, contract: IBKRContract, expires_at: dt.datetime | None = None) -> None:
        self.threads.append(("put", threading.get_ident()))
        super().put(key, contract, expires_at)


def _client(router: Router) -> AsyncIBKRClient:
    client = make_client("async", router)
    assert isinstance(client, AsyncIBKRClient)
    return client


async def test_cache_reads_and_writes_run_off_the_event_loop(router: Router) -> None:
    router.fixture("GET", "/trsrv/stocks", "trsrv_stocks")
    loop_thread = threading.get_ident()
    cache = ThreadRecordingCache()
    cold = AsyncContractResolver(_client(router), cache=cache)
    first = await cold.resolve("AAPL", "stock")
    assert [call for call, _ in cache.threads] == ["get", "put"]
    assert all(ident != loop_thread for _, ident in cache.threads)
    assert router.count("GET", "/trsrv/stocks") == 1

    # Another resolver (a restart) over the same cache: served from it, no request, off the loop.
    cache.threads.clear()
    warm = AsyncContractResolver(_client(router), cache=cache)
    again = await warm.resolve("aapl", "stock")
    assert again == first and router.count("GET", "/trsrv/stocks") == 1
    assert [call for call, _ in cache.threads] == ["get"] and cache.threads[0][1] != loop_thread
    # Now in the in-memory front: the persistent cache is not asked again.
    cache.threads.clear()
    assert await warm.resolve("AAPL", "stock") == first
    assert cache.threads == []


async def test_many_stocks_are_read_in_one_thread_hop_and_saved_after(router: Router) -> None:
    router.fixture("GET", "/trsrv/stocks", "trsrv_stocks")
    loop_thread = threading.get_ident()
    cache = ThreadRecordingCache()
    resolver = AsyncContractResolver(_client(router), cache=cache)
    found = await resolver.resolve_stocks(["AAPL", "aapl"])
    assert list(found) == ["AAPL"]
    assert [call for call, _ in cache.threads] == ["get", "put"]
    assert all(ident != loop_thread for _, ident in cache.threads)


async def test_the_loop_keeps_running_while_the_cache_is_slow(router: Router) -> None:
    router.fixture("GET", "/trsrv/stocks", "trsrv_stocks")

    class SlowCache(MemoryContractCache):
        def get(self, key: str) -> IBKRContract | None:
            threading.Event().wait(0.3)  # a slow disk
            return super().get(key)

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    try:
        await AsyncContractResolver(_client(router), cache=SlowCache()).resolve("AAPL", "stock")
    finally:
        task.cancel()
    assert ticks >= 10  # the loop ran other work during the 0.3 s lookup
