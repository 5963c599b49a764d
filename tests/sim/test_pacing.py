"""Pacing (REFERENCE §7): 10 req/s global, the per-endpoint table, 5 concurrent history; 429 answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from axion_broker_ibkr.sim import SimServer

from .conftest import AAPL, client_for, trust


def test_orders_endpoint_allows_one_call_per_five_seconds(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(rate_scale=1.0)
    with client_for(sim) as client:
        client.get("/iserver/accounts")
        assert client.get("/iserver/account/orders").status_code == 200
        second = client.get("/iserver/account/orders")
        assert second.status_code == 429
        assert "error" in second.json()


def test_rate_scale_multiplies_the_allowance(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(rate_scale=3.0)
    with client_for(sim) as client:
        client.get("/iserver/accounts")
        codes = [client.get("/iserver/account/trades").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_global_limit_of_ten_per_second(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(rate_scale=1.0)
    with client_for(sim) as client:
        codes = [client.get("/trsrv/stocks", params={"symbols": "AAPL"}).status_code for _ in range(40)]
    assert codes[:10] == [200] * 10
    assert 429 in codes


def test_admin_paths_are_not_paced(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(rate_scale=1.0)
    for _ in range(30):
        sim.admin.state()
    assert sim.admin.state()["request_counts"] == {}


def test_more_than_five_concurrent_history_requests_get_429(fsim: SimServer) -> None:
    fsim.admin.config(history_delay_ms=400)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=fsim.base_url, verify=trust(fsim), timeout=10) as client:
            params: dict[str, str | int] = {"conid": AAPL, "bar": "1h", "period": "1d"}
            answers = await asyncio.gather(
                *(client.get("/iserver/marketdata/history", params=params) for _ in range(8))
            )
        return [a.status_code for a in answers]

    fsim.admin.config(rate_scale=1.0)
    codes = asyncio.run(burst())
    assert codes.count(200) >= 1
    assert codes.count(200) <= 5
    assert codes.count(429) == 8 - codes.count(200)


def test_penalty_box_is_off_by_default_and_can_be_switched_on(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(rate_scale=1.0)
    with client_for(sim) as client:
        client.get("/iserver/accounts")
        client.get("/iserver/account/orders")
        assert client.get("/iserver/account/orders").status_code == 429
        assert client.get("/portfolio/accounts").status_code == 200  # no penalty box by default
        sim.admin.config(penalty_box_s=600)
        assert client.get("/iserver/account/orders").status_code == 429
        boxed = client.get("/trsrv/stocks", params={"symbols": "AAPL"})
        assert boxed.status_code == 429
        assert "penalty box" in boxed.json()["error"]
