"""IBKRGateway / AsyncIBKRGateway over the mock: status mapping, start-up sequence, keep-alive."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.gateway import AsyncIBKRGateway, IBKRGateway
from tests.client.conftest import Router, call, make_client, reply
from tests.conftest import load_fixture

AUTH = load_fixture("iserver_auth_status")
TICKLE = load_fixture("tickle")


def gateway_for(kind: str, router: Router, **config: Any) -> IBKRGateway | AsyncIBKRGateway:
    client = make_client(kind, router, **config)
    client.state.poll_interval = 0.0
    if kind == "sync":
        return IBKRGateway(client, interval=0.01)  # type: ignore[arg-type]
    return AsyncIBKRGateway(client, interval=0.01)  # type: ignore[arg-type]


async def test_healthy_status_carries_mode_and_server(kind: str, router: Router) -> None:
    router.on("POST", "/iserver/auth/status", AUTH)
    gw = gateway_for(kind, router)
    status = await call(gw.check())
    assert status.healthy
    assert status.mode == "gateway"
    assert status.server_name == "JifN19053"
    assert status.selected_account == "U1234567"
    assert status.last_checked is not None


async def test_401_is_reported_with_the_login_url_not_raised(kind: str, router: Router) -> None:
    router.on("POST", "/iserver/auth/status", reply(401))
    gw = gateway_for(kind, router)
    status = await call(gw.check())
    assert not status.healthy and status.reachable and not status.sso_session
    assert "log in to the gateway in a browser at https://localhost:5000/" in status.message
    assert status.login_url == "https://localhost:5000/"


async def test_unreachable_gateway(kind: str, router: Router) -> None:
    router.on("POST", "/iserver/auth/status", httpx.ConnectError("refused"))
    status = await call(gateway_for(kind, router).check())
    assert status.reachable is False and "could not reach" in status.message


async def test_start_runs_the_reference_sequence(kind: str, router: Router) -> None:
    unauth = load_fixture("iserver_auth_status_unauthenticated")
    router.on("POST", "/iserver/auth/status", {**unauth, "competing": False}, AUTH)
    router.on("POST", "/iserver/auth/ssodh/init", AUTH)
    router.fixture("GET", "/portfolio/accounts", "portfolio_accounts")
    router.on("POST", "/iserver/questions/suppress", {"status": "submitted"})
    router.on("POST", "/tickle", TICKLE)
    gw = gateway_for(kind, router, suppress_questions=["o163", "o354"])
    assert gw.status.last_tickle is None
    status = await call(gw.start(keepalive=False))
    assert status.healthy
    assert router.paths() == [
        "/iserver/auth/status",
        "/iserver/auth/ssodh/init",
        "/iserver/auth/status",
        "/iserver/accounts",
        "/portfolio/accounts",
        "/iserver/questions/suppress",
        "/tickle",  # the first keep-alive round: the Gateway tab never shows "never" after start
    ]
    suppress = router.calls[-2]
    assert b"o163" in suppress.content and b"o354" in suppress.content
    assert status.last_tickle is not None and gw.status.last_tickle == status.last_tickle


async def test_start_survives_a_failed_first_tickle(kind: str, router: Router) -> None:
    router.on("POST", "/iserver/auth/status", AUTH)
    router.fixture("GET", "/portfolio/accounts", "portfolio_accounts")
    router.on("POST", "/tickle", reply(503, {"error": "busy"}))
    gw = gateway_for(kind, router, max_attempts=1)
    status = await call(gw.start(keepalive=False))
    assert status.healthy and status.last_tickle is None  # honest: no tickle answered yet
    result = await call(gw.client.connect())
    assert result.tickle is None and result.status.authenticated


async def test_tick_reopens_a_dropped_brokerage_session(kind: str, router: Router) -> None:
    dropped = {
        **TICKLE,
        "iserver": {
            "tickle": True,
            "authStatus": {"authenticated": False, "competing": False, "connected": True},
        },
    }
    router.on("POST", "/tickle", dropped, TICKLE)
    router.on(
        "POST", "/iserver/auth/status", {"authenticated": False, "competing": False, "connected": True}, AUTH
    )
    router.on("POST", "/iserver/auth/ssodh/init", AUTH)
    router.on("GET", "/portfolio/accounts", [])
    gw = gateway_for(kind, router)
    status = await call(gw.tick())
    assert status.authenticated and status.reauthentications == 1
    assert router.count("POST", "/iserver/auth/ssodh/init") == 1
    again = await call(gw.tick())
    assert again.authenticated and again.reauthentications == 1
    assert again.last_tickle is not None


async def test_competing_session_waits_by_default_and_can_be_taken_over(kind: str, router: Router) -> None:
    competing = {"authenticated": False, "competing": True, "connected": True}
    router.on("POST", "/tickle", {**TICKLE, "iserver": {"authStatus": competing}})
    router.on("POST", "/iserver/auth/status", competing)
    gw = gateway_for(kind, router)
    status = await call(gw.tick())
    assert status.competing and not status.healthy
    assert router.count("POST", "/iserver/auth/ssodh/init") == 0
    router.routes[("POST", "/v1/api/iserver/auth/status")] = [competing, AUTH]
    router.on("POST", "/iserver/auth/ssodh/init", AUTH)
    router.on("GET", "/portfolio/accounts", [])
    taken = await call(gw.take_over())
    assert taken.healthy
    init = next(r for r in router.calls if r.url.path.endswith("/ssodh/init"))
    assert b"true" in init.content.split(b"compete")[1]


async def test_keepalive_loop_tickles_until_stopped(kind: str, router: Router) -> None:
    router.on("POST", "/tickle", TICKLE)
    gw = gateway_for(kind, router)
    gw.start_keepalive()
    import asyncio

    for _ in range(500):
        if router.count("POST", "/tickle") >= 2:
            break
        await asyncio.sleep(0.01)
    stopped = gw.stop()
    if inspect.isawaitable(stopped):
        await stopped
    assert router.count("POST", "/tickle") >= 2
    count = router.count("POST", "/tickle")
    await asyncio.sleep(0.05)
    assert router.count("POST", "/tickle") == count


@pytest.mark.parametrize("interval", [0.5])
def test_default_interval_comes_from_config(interval: float, router: Router) -> None:
    client = make_client("sync", router, keepalive_interval=60.0)
    assert IBKRGateway(client).interval == 60.0  # type: ignore[arg-type]
    assert IBKRGateway(client, interval=interval).interval == interval  # type: ignore[arg-type]
