"""Helpers for the client tests: a strict MockTransport router over ``fixtures/cpapi``, and a
fixture that hands each test both clients (sync and async) in turn."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.client import AsyncIBKRClient, IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import Pacer, RetryPolicy
from tests.conftest import load_fixture

Handler = Callable[[httpx.Request], httpx.Response]


def reply(status: int = 200, body: Any = None, **headers: str) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json", **headers}
    )


class Router:
    """Routes ``(METHOD, path)`` to queued answers; any route it was not told about FAILS the test."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Any]] = {}
        self.calls: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Any) -> Router:
        """Each answer: a JSON body (status 200), an ``httpx.Response``, a callable(request) or an
        exception instance to raise. The last answer repeats."""
        self.routes.setdefault((method.upper(), "/v1/api" + path), []).extend(answers)
        return self

    def fixture(self, method: str, path: str, name: str) -> Router:
        return self.on(method, path, load_fixture(name))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        key = (request.method, request.url.path)
        queue = self.routes.get(key)
        if not queue and key == ("POST", "/v1/api/iserver/contract/rules"):
            # Contract rules a test did not script: IBKR's "no rules" answer (the static table decides).
            return httpx.Response(200, json={"error": "no contract rules in this mock"})
        if not queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, httpx.Response):  # a fresh copy: answers may repeat across clients
            return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)
        return reply(200, answer)

    def paths(self, method: str | None = None) -> list[str]:
        return [
            r.url.path.removeprefix("/v1/api") for r in self.calls if method is None or r.method == method
        ]

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.calls if r.method == method and r.url.path == "/v1/api" + path)


def fast_pacer() -> Pacer:
    return Pacer(600, scale=10_000.0, rate_limit_backoff=60.0)


def no_wait_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


def make_client(kind: str, router: Router, **config: Any) -> IBKRClient | AsyncIBKRClient:
    pacer = config.pop("pacer", None) or fast_pacer()
    cfg = IBKRConfig(**{"mode": "gateway", **config})
    cls = IBKRClient if kind == "sync" else AsyncIBKRClient
    return cls(cfg, transport=httpx.MockTransport(router), pacer=pacer, retry=no_wait_retry())


async def call(value: Any) -> Any:
    """Await the async client's coroutine, pass the sync client's result through."""
    if inspect.isawaitable(value):
        return await value
    return value


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def router() -> Router:
    r = Router()
    r.fixture("GET", "/iserver/accounts", "iserver_accounts")
    return r


# --------------------------------------------------------------------------------------------
# The simulator, with pacing allowances scaled (the client's pacer is scaled to match)

SIM_SCALE = 100.0


@contextmanager
def running_sim(seed: int) -> Iterator[Any]:
    """A simulator on a free port with pacing allowances scaled by :data:`SIM_SCALE`."""
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=seed, rate_scale=SIM_SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fast_sim() -> Iterator[Any]:
    """A simulator shared by a module's read-mostly tests (rate_scale 100)."""
    with running_sim(seed=5) as server:
        yield server


@pytest.fixture
def fault_sim() -> Iterator[Any]:
    """A simulator of this test's own, for fault injection through the admin paths."""
    with running_sim(seed=13) as server:
        yield server


def sim_config(sim: Any, **config: Any) -> IBKRConfig:
    base: dict[str, Any] = {
        "mode": "sim",
        "sim_url": sim.root_url,
        "ssl_verify": sim.cert_fingerprint,
        "max_requests_per_minute": 600,
        "request_timeout": 5.0,
    }
    return IBKRConfig(**{**base, **config})


def sim_client(kind: str, sim: Any, **config: Any) -> IBKRClient | AsyncIBKRClient:
    from axion_broker_ibkr.store.memory import MemoryJournal

    cls = IBKRClient if kind == "sync" else AsyncIBKRClient
    client = cls(
        sim_config(sim, **config),
        pacer=Pacer(600, scale=SIM_SCALE),
        journal=MemoryJournal(),
        retry=no_wait_retry(),
    )
    client.state.poll_interval = 0.05
    return client


#: AAPL as a resolved stock contract (what the sim tests order against).
AAPL_STOCK: dict[str, Any] = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"}


async def aapl_limit(client: IBKRClient | AsyncIBKRClient, bid_factor: float, **keys: Any) -> dict[str, Any]:
    """A host order dict: buy 1 AAPL at ``bid_factor`` x the simulator's current bid (0.95: far
    enough to draw IBKR's o163 price question; 0.99: near enough to rest without one)."""
    quote = (await call(client.snapshot([265598])))[0]
    order = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
             "limit_price": round(quote.bid * bid_factor, 2)}  # fmt: skip
    return {**order, **keys}
