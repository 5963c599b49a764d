"""Error mapping, retries, 429 back-off and automatic re-opening of the brokerage session."""

from __future__ import annotations

import httpx
import pytest

from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.errors import (
    BrokerageSessionError,
    CompetingSessionError,
    GatewayError,
    GatewayUnavailableError,
    NotAuthenticatedError,
    RateLimitedError,
)
from tests.client.conftest import Router, call, make_client, reply
from tests.conftest import load_fixture

NO_BRIDGE = reply(400, {"error": "Bad Request: no bridge", "statusCode": 400})


async def test_401_says_log_in_with_the_url(kind: str, router: Router) -> None:
    router.on("POST", "/iserver/auth/status", reply(401))
    client = make_client(kind, router, gateway_port=5001)
    with pytest.raises(
        NotAuthenticatedError, match=r"log in to the gateway in a browser at https://localhost:5001/"
    ):
        await call(client.auth_status())
    assert router.count("POST", "/iserver/auth/status") == 1  # not retried


async def test_idempotent_get_is_retried_on_5xx_and_timeouts(kind: str, router: Router) -> None:
    router.on(
        "GET",
        "/trsrv/stocks",
        reply(503, {"error": "busy"}),
        httpx.ReadTimeout("slow"),
        load_fixture("trsrv_stocks"),
    )
    client = make_client(kind, router)
    stocks = await call(client.stocks(["AAPL"]))
    assert "AAPL" in stocks
    assert router.count("GET", "/trsrv/stocks") == 3


async def test_retries_are_bounded(kind: str, router: Router) -> None:
    router.on("GET", "/trsrv/stocks", reply(502, {"error": "bad gateway"}))
    client = make_client(kind, router)
    with pytest.raises(GatewayUnavailableError, match="bad gateway") as info:
        await call(client.stocks(["AAPL"]))
    assert info.value.status_code == 502 and info.value.path == "/trsrv/stocks"
    assert router.count("GET", "/trsrv/stocks") == 3


async def test_4xx_is_not_retried_and_names_the_request(kind: str, router: Router) -> None:
    router.on("GET", "/iserver/contract/1/info", reply(400, {"error": "invalid conid"}))
    client = make_client(kind, router)
    with pytest.raises(GatewayError, match=r"invalid conid.*GET /iserver/contract/1/info -> 400"):
        await call(client.contract_info(1))
    assert router.count("GET", "/iserver/contract/1/info") == 1


async def test_429_stops_this_clients_traffic_instead_of_retrying(kind: str, router: Router) -> None:
    router.on("GET", "/trsrv/stocks", reply(429, {"error": "Too many requests"}))
    client = make_client(kind, router)
    with pytest.raises(RateLimitedError):
        await call(client.stocks(["AAPL"]))
    with pytest.raises(RateLimitedError, match="backing off"):
        await call(client.stocks(["AAPL"]))
    with pytest.raises(RateLimitedError, match="backing off"):
        await call(client.contract_info(265598))
    assert len(router.calls) == 1  # nothing else left the client
    assert client.pacer.blocked_for > 0


async def test_429_retry_after_reaches_the_pacer_through_the_driver(kind: str, router: Router) -> None:
    # requestpolicy decides "tell the pacer Retry-After seconds"; the driver does it.
    router.on("GET", "/trsrv/stocks", reply(429, {"error": "Too many requests"}, **{"Retry-After": "30"}))
    client = make_client(kind, router, pacer=Pacer(600, rate_limit_backoff=600.0))
    with pytest.raises(RateLimitedError):
        await call(client.stocks(["AAPL"]))
    assert 25.0 < client.pacer.blocked_for <= 30.0  # IBKR's 30 s, not the 600 s default back-off
    assert len(router.calls) == 1


async def test_lost_brokerage_session_is_reopened_and_the_read_repeated(kind: str, router: Router) -> None:
    unauth = load_fixture("iserver_auth_status_unauthenticated")
    auth = load_fixture("iserver_auth_status")
    router.on("GET", "/trsrv/futures", NO_BRIDGE, load_fixture("trsrv_futures"))
    router.on("POST", "/iserver/auth/status", {**unauth, "competing": False}, auth)
    router.on("POST", "/iserver/auth/ssodh/init", auth)
    router.fixture("GET", "/portfolio/accounts", "portfolio_accounts")
    router.on("POST", "/iserver/questions/suppress", {"status": "submitted"})
    client = make_client(kind, router, suppress_questions=["o163"])
    fut = await call(client.futures(["ES"]))
    assert "ES" in fut
    assert client.reauthentications == 1
    assert router.paths() == [
        "/trsrv/futures",
        "/iserver/auth/status",
        "/iserver/auth/ssodh/init",
        "/iserver/auth/status",
        "/iserver/accounts",
        "/portfolio/accounts",
        "/iserver/questions/suppress",
        "/trsrv/futures",
    ]


async def test_competing_session_is_not_taken_over_under_the_wait_policy(kind: str, router: Router) -> None:
    router.on("GET", "/trsrv/futures", NO_BRIDGE)
    router.on("POST", "/iserver/auth/status", {"authenticated": False, "competing": True, "connected": True})
    client = make_client(kind, router)
    with pytest.raises(CompetingSessionError, match="competing_policy"):
        await call(client.futures(["ES"]))
    assert router.count("POST", "/iserver/auth/ssodh/init") == 0


async def test_take_over_policy_competes(kind: str, router: Router) -> None:
    auth = load_fixture("iserver_auth_status")
    router.on(
        "POST", "/iserver/auth/status", {"authenticated": False, "competing": True, "connected": True}, auth
    )
    router.on("POST", "/iserver/auth/ssodh/init", auth)
    router.on("GET", "/portfolio/accounts", [])
    router.fixture("POST", "/tickle", "tickle")
    client = make_client(kind, router, competing_policy="take_over")
    result = await call(client.connect())
    assert result.initialized and result.status.authenticated
    init = next(r for r in router.calls if r.url.path.endswith("/ssodh/init"))
    assert b'"compete": true' in init.content or b'"compete":true' in init.content


async def test_session_that_cannot_be_reopened_says_why(kind: str, router: Router) -> None:
    router.on(
        "POST",
        "/iserver/auth/status",
        {"authenticated": False, "connected": False, "fail": "Session expired"},
    )
    router.on("POST", "/iserver/auth/ssodh/init", {"authenticated": False, "connected": False})
    client = make_client(kind, router)
    client.state.poll_interval = 0.0
    from axion_broker_ibkr.ops import iserver

    gen = iserver.wait_authenticated(attempts=2, interval=0.0)
    status = await call(client.run(gen))
    assert status.authenticated is False
    with pytest.raises(BrokerageSessionError, match="Session expired"):
        await call(
            client.run(iserver.open_session(client.state, take_over=False, suppress=(), load_portfolio=False))
        )


async def test_connection_refused_is_reported_as_not_sent(kind: str, router: Router) -> None:
    router.on("GET", "/trsrv/stocks", httpx.ConnectError("refused"))
    client = make_client(kind, router)
    from axion_broker_ibkr.errors import NotSentError

    with pytest.raises(NotSentError, match="could not reach"):
        await call(client.stocks(["AAPL"]))


async def test_history_runs_at_most_five_at_once() -> None:
    import asyncio

    running = 0
    peak = 0
    body = load_fixture("marketdata_history")

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return reply(200, body)

    from axion_broker_ibkr.client import AsyncIBKRClient
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.models import IServerAccounts
    from tests.client.conftest import fast_pacer

    transport = httpx.MockTransport(answer)
    client = AsyncIBKRClient(IBKRConfig(mode="gateway"), transport=transport, pacer=fast_pacer())
    client.state.accounts = IServerAccounts(accounts=["DU1"], selected_account="DU1")  # already called
    results = await asyncio.gather(*(client.history(265598, bar="1h", period="1w") for _ in range(12)))
    assert len(results) == 12 and all(r.bars for r in results)
    assert peak == 5


async def test_no_bridge_right_after_init_is_waited_out(kind: str, router: Router) -> None:
    auth = load_fixture("iserver_auth_status")
    router.on(
        "POST", "/iserver/auth/status", {"authenticated": False, "competing": False, "connected": True}, auth
    )
    router.on("POST", "/iserver/auth/ssodh/init", auth)
    router.routes[("GET", "/v1/api/iserver/accounts")] = [NO_BRIDGE, load_fixture("iserver_accounts")]
    router.on("GET", "/portfolio/accounts", [])
    router.fixture("POST", "/tickle", "tickle")
    client = make_client(kind, router)
    client.state.poll_interval = 0.0
    result = await call(client.connect())
    assert result.initialized and result.accounts is not None
    assert router.count("GET", "/iserver/accounts") == 2
