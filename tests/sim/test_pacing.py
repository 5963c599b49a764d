"""Pacing (REFERENCE §7): 10 req/s global, the per-endpoint table, 5 concurrent history; 429 answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.sim import SimServer
from axion_broker_ibkr.sim.api.pacing_gate import IBKR_PENALTY_SECONDS
from tests.conftest import skip_or_fail

from .conftest import AAPL, client_for, trust


def _ibind() -> Any:
    """ibind, the outside check (a test dependency): skipped locally without it, a failure in CI."""
    try:
        import ibind
    except ImportError:
        skip_or_fail("ibind is not installed (pip install -e '.[test]')")
    return ibind


def test_orders_endpoint_tolerates_a_burst_of_two_then_one_per_five_seconds(
    make_sim: Callable[..., SimServer],
) -> None:
    sim = make_sim(rate_scale=1.0)
    with client_for(sim) as client:
        client.get("/iserver/accounts")
        assert client.get("/iserver/account/orders").status_code == 200
        assert client.get("/iserver/account/orders").status_code == 200  # the bucket holds two
        third = client.get("/iserver/account/orders")
        assert third.status_code == 429
        assert "error" in third.json()


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
    counted = fsim.admin.state()["pacing"]["too_many_requests"]
    assert counted.get("/iserver/marketdata/history", 0) == codes.count(429)


def test_two_tickles_within_a_second_pass(make_sim: Callable[..., SimServer]) -> None:
    """ibind 0.2.2's WebSocket client calls /tickle twice within a second on every connect."""
    sim = make_sim(rate_scale=1.0)
    with client_for(sim) as client:
        first = client.post("/tickle", json={})
        time.sleep(0.2)
        second = client.post("/tickle", json={})
    assert (first.status_code, second.status_code) == (200, 200)
    assert sim.admin.state()["pacing"]["too_many_requests"] == {}


def test_two_live_orders_calls_a_quarter_second_apart_pass(make_sim: Callable[..., SimServer]) -> None:
    """ibind 0.2.2 calls live orders twice 0.25 s apart (the first call primes the gateway)."""
    sim = make_sim(rate_scale=1.0)
    with client_for(sim) as client:
        client.get("/iserver/accounts")
        first = client.get("/iserver/account/orders")
        time.sleep(0.25)
        second = client.get("/iserver/account/orders", params={"force": "true"})
    assert (first.status_code, second.status_code) == (200, 200)


def test_sustained_tickles_above_one_per_second_get_429(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(rate_scale=1.0, penalty_seconds=0)
    codes = []
    with client_for(sim) as client:
        for _ in range(12):  # 4 per second for 3 s: the burst of two is used up, then refused
            codes.append(client.post("/tickle", json={}).status_code)
            time.sleep(0.25)
    assert codes[:2] == [200, 200]
    assert codes.count(429) >= 5
    assert 1 <= codes[2:].count(200) <= 5  # the sustained rate of 1/s still gets through
    assert sim.admin.state()["pacing"]["too_many_requests"]["/tickle"] == codes.count(429)


def test_a_single_429_does_not_box_and_penalty_can_be_switched_off(
    make_sim: Callable[..., SimServer],
) -> None:
    sim = make_sim(rate_scale=1.0)
    with client_for(sim) as client:
        client.get("/iserver/accounts")
        for _ in range(2):
            client.get("/iserver/account/orders")
        assert client.get("/iserver/account/orders").status_code == 429
        assert client.get("/portfolio/accounts").status_code == 200  # one 429 is not a penalty
        sim.admin.config(penalty_seconds=0)
        for _ in range(5):
            assert client.get("/iserver/account/orders").status_code == 429
        assert client.get("/trsrv/stocks", params={"symbols": "AAPL"}).status_code == 200
    box = sim.admin.state()["pacing"]["penalty_box"]
    assert box["enabled"] is False
    assert box["active"] is False


def test_penalty_box_engages_after_repeated_429s_and_state_reports_it(
    make_sim: Callable[..., SimServer],
) -> None:
    sim = make_sim(rate_scale=1.0, penalty_seconds=1.5, penalty_strikes=3)
    with client_for(sim) as client:
        client.get("/iserver/accounts")
        codes = [client.get("/iserver/account/orders").status_code for _ in range(5)]
        assert codes == [200, 200, 429, 429, 429]  # the third 429 engages the box
        boxed = client.get("/trsrv/stocks", params={"symbols": "AAPL"})
        assert boxed.status_code == 429
        assert "penalty box" in boxed.json()["error"]
        pacing = sim.admin.state()["pacing"]
        assert pacing["penalty_box"]["enabled"] is True
        assert pacing["penalty_box"]["active"] is True
        assert pacing["penalty_box"]["seconds"] == 1.5
        assert pacing["penalty_box"]["times_engaged"] == 1
        assert pacing["too_many_requests"] == {"/iserver/account/orders": 3, "/trsrv/stocks": 1}
        assert pacing["too_many_requests_total"] == 4
        time.sleep(1.6)
        assert client.get("/trsrv/stocks", params={"symbols": "AAPL"}).status_code == 200
    assert sim.admin.state()["pacing"]["penalty_box"]["active"] is False


def test_penalty_box_length_is_configurable(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(rate_scale=1.0)
    answer = sim.admin.config(penalty_seconds=600, penalty_strikes=2)
    assert (answer["penalty_seconds"], answer["penalty_strikes"]) == (600, 2)
    assert IBKR_PENALTY_SECONDS == 600
    with pytest.raises(ConfigError, match="penalty_seconds"):
        SimServer(penalty_seconds=-1)
    with pytest.raises(ConfigError, match="penalty_strikes"):
        SimServer(penalty_strikes=0)


def test_ibinds_tickle_and_live_orders_patterns_pass_unmodified(
    make_sim: Callable[..., SimServer],
) -> None:
    """ibind's own REST client (unmodified): two tickles, then live orders twice 0.25 s apart."""
    ibind = _ibind()
    sim = make_sim(rate_scale=1.0)
    client = ibind.IbkrClient(url=sim.base_url.rstrip("/") + "/", cacert=str(sim.cert_path), use_session=True)
    try:
        assert client.tickle().data["session"]
        assert client.tickle().data["session"]
        client.receive_brokerage_accounts()
        first = client.live_orders()
        time.sleep(0.25)
        second = client.live_orders(force=True)
    finally:
        client.close()
    assert isinstance(first.data, dict)
    assert isinstance(second.data, dict)
    assert sim.admin.state()["pacing"]["too_many_requests"] == {}


def test_ibinds_websocket_client_connects_without_429(make_sim: Callable[..., SimServer]) -> None:
    """ibind 0.2.2's WebSocket client tickles twice within a second on connect; it must get in."""
    ibind = _ibind()
    sim = make_sim(rate_scale=1.0)
    client = ibind.IbkrClient(url=sim.base_url.rstrip("/") + "/", cacert=str(sim.cert_path))
    ws = ibind.IbkrWsClient(
        url=sim.base_url.replace("https://", "wss://", 1).rstrip("/") + "/ws",
        ibkr_client=client,
        cacert=str(sim.cert_path),
    )
    try:
        assert ws.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ws.is_authenticated():
            time.sleep(0.05)
        assert ws.is_authenticated()
    finally:
        ws.shutdown()
        client.close()
    assert sim.admin.state()["pacing"]["too_many_requests"] == {}
