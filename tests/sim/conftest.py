"""Fixtures of the simulator tests: simulators with scaled pacing, HTTPS clients that trust them."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.sim import SimServer

ACCT = "DU1234567"
OTHER = "DU7654321"
AAPL, IBM, SPY, EURUSD = 265598, 8314, 756733, 12087792
#: Pacing allowances multiplied by this in tests that are not about pacing.
FAST = 1000.0


def client_for(sim: SimServer, timeout: float = 10.0) -> httpx.Client:
    """An HTTPS client that verifies the simulator's own certificate (proves it is usable)."""
    return httpx.Client(base_url=sim.base_url, verify=trust(sim), timeout=timeout)


def trust(sim: SimServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sim.cert_path))


@pytest.fixture
def fsim() -> Iterator[SimServer]:
    """A simulator of this test's own (faults, clock, logins), pacing scaled out of the way."""
    with SimServer(port=0, seed=5, rate_scale=FAST) as server:
        yield server


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimServer]]:
    """Start simulators with custom arguments; all are stopped at the end of the test."""
    started: list[SimServer] = []

    def make(**kwargs: Any) -> SimServer:
        kwargs.setdefault("port", 0)
        kwargs.setdefault("rate_scale", FAST)
        server = SimServer(**kwargs)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def api(fsim: SimServer) -> Iterator[httpx.Client]:
    """Client of ``fsim`` with ``/iserver/accounts`` and ``/portfolio/accounts`` already called."""
    with client_for(fsim) as client:
        assert client.get("/iserver/accounts").status_code == 200
        assert client.get("/portfolio/accounts").status_code == 200
        yield client


def place(client: httpx.Client, order: dict[str, Any], acct: str = ACCT, confirm: bool = True) -> Any:
    """Place one order, confirming every question; returns the final answer's JSON."""
    response = client.post(f"/iserver/account/{acct}/orders", json={"orders": [order]})
    assert response.status_code == 200, response.text
    body = response.json()
    rounds = 0
    while confirm and isinstance(body, list) and body and "id" in body[0] and "order_id" not in body[0]:
        rounds += 1
        assert rounds < 10, "question loop did not end"
        answer = client.post(f"/iserver/reply/{body[0]['id']}", json={"confirmed": True})
        assert answer.status_code == 200, answer.text
        body = answer.json()
    return body


def order_id_of(answer: Any) -> int:
    assert isinstance(answer, list) and "order_id" in answer[0], answer
    return int(answer[0]["order_id"])


def live_orders(client: httpx.Client) -> list[dict[str, Any]]:
    """``/iserver/account/orders`` the way a careful client reads it (pre-flight, then the list)."""
    client.get("/iserver/account/orders")
    response = client.get("/iserver/account/orders")
    assert response.status_code == 200, response.text
    orders: list[dict[str, Any]] = response.json()["orders"]
    return orders
