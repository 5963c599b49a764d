"""Faults injected through the simulator's admin paths: pacing, 429, retries, re-auth, competing
sessions, 401, an order POST that never answers, and the three modes."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.client import AsyncIBKRClient, IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.errors import (
    CompetingSessionError,
    GatewayError,
    ModeError,
    NotAuthenticatedError,
    NotSentError,
    RateLimitedError,
)
from axion_broker_ibkr.gateway import AsyncIBKRGateway, IBKRGateway
from tests.client.conftest import SIM_SCALE, call, sim_client, sim_config

AAPL = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"}


def order(price: float) -> dict[str, Any]:
    return {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit", "limit_price": price,
            "time_in_force": "day", "asset_type": "stock"}  # fmt: skip


def gateway(client: Any) -> Any:
    return IBKRGateway(client) if isinstance(client, IBKRClient) else AsyncIBKRGateway(client)


async def test_pacing_keeps_the_1_per_5s_endpoints_below_the_limit(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    for _ in range(4):
        await call(client.pnl())
        await call(client.live_orders())
        await call(client.trades())
    await call(client.portfolio_accounts())
    await call(client.portfolio_accounts())
    assert client.pacer.blocked_for == 0.0  # no 429 came back
    await call(client.close())


async def test_unpaced_client_hits_the_sims_limit(kind: str, fault_sim: Any) -> None:
    """The control for the test above: without the per-endpoint table the sim answers 429."""
    fault_sim.admin.config(rate_scale=1.0)  # IBKR's real allowance: 1 pnl request per 5 s
    client = sim_client(kind, fault_sim)
    client.pacer = Pacer(600, scale=SIM_SCALE, rules=())
    await call(client.pnl())
    with pytest.raises(RateLimitedError):
        await call(client.pnl())
    await call(client.close())


async def test_429_stops_traffic_instead_of_retrying(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim, rate_limit_backoff=3000.0)
    await call(client.accounts())
    fault_sim.admin.fail(status=429, count=2, path_prefix="/trsrv")
    with pytest.raises(RateLimitedError):
        await call(client.stocks(["AAPL"]))
    with pytest.raises(RateLimitedError, match="backing off"):
        await call(client.stocks(["AAPL"]))
    assert fault_sim.admin.state()["faults"]["fail_count"] == 1  # the second call never left
    await call(client.close())


async def test_5xx_on_a_read_is_retried(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    fault_sim.admin.fail(status=503, count=2, path_prefix="/trsrv/stocks")
    stocks = await call(client.stocks(["AAPL"]))
    assert stocks["AAPL"]
    assert fault_sim.admin.state()["faults"]["fail_count"] == 0
    await call(client.close())


async def test_5xx_on_an_order_is_not_retried_but_looked_up(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    bid = (await call(client.snapshot([265598])))[0].bid
    fault_sim.admin.fail(status=500, count=1, path_prefix="/iserver/account/DU1234567/orders")
    from axion_broker_ibkr.errors import OrderStateUnknownError

    with pytest.raises(OrderStateUnknownError, match="NOT re-sent") as info:
        await call(client.place_order(order(round(bid * 0.99, 2)), AAPL))
    state = fault_sim.admin.state()
    assert not [o for o in state["orders"] if o.get("order_ref") == info.value.client_order_id]
    entry = client.journal.get(info.value.client_order_id)  # type: ignore[union-attr]
    assert entry is not None and entry.status == "unknown_at_broker"
    await call(client.close())


async def test_order_post_that_never_answers_is_found_by_coid(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim, request_timeout=1.0)
    bid = (await call(client.snapshot([265598])))[0].bid
    fault_sim.admin.timeout_next_order()
    result = await call(client.place_order(order(round(bid * 0.99, 2)), AAPL))
    assert result.status == "open" and result.order_id
    assert "found at IBKR by its cOID" in result.message
    placed = [o for o in fault_sim.admin.state()["orders"] if o.get("order_ref") == result.client_order_id]
    assert len(placed) == 1  # exactly once
    await call(client.close())


async def test_dropped_brokerage_session_is_reopened(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    await call(client.connect())
    fault_sim.admin.drop_brokerage()
    quotes = await call(client.snapshot([265598]))
    assert quotes[0].has_data
    assert client.reauthentications == 1
    assert fault_sim.admin.state()["session"]["brokerage"] is True
    await call(client.close())


async def test_keepalive_reopens_the_session(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    gw = gateway(client)
    assert (await call(gw.start(keepalive=False))).healthy
    fault_sim.admin.drop_brokerage(timed_out=True)
    status = await call(gw.tick())
    assert status.healthy and status.reauthentications == 1 and status.mode == "sim"
    await call(client.close())


async def test_competing_session_wait_then_take_over(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    await call(client.connect())
    fault_sim.admin.competing(True)
    with pytest.raises(CompetingSessionError):
        await call(client.snapshot([265598]))
    gw = gateway(client)
    status = await call(gw.check())
    assert status.competing and not status.healthy
    assert fault_sim.admin.state()["session"]["competing"] is True  # left alone under "wait"
    taken = await call(gw.take_over())
    assert taken.healthy
    assert (await call(client.snapshot([265598])))[0].has_data
    await call(client.close())


async def test_logged_out_gateway_says_log_in_with_the_url(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    fault_sim.admin.logout()
    with pytest.raises(
        NotAuthenticatedError, match=r"log in to the gateway in a browser at https://127\.0\.0\.1:\d+/"
    ):
        await call(client.positions())
    status = await call(gateway(client).check())
    assert not status.sso_session and "log in" in status.message
    await call(client.close())


# ------------------------------------------------------------------------------------- modes


def _cls(kind: str) -> type[IBKRClient] | type[AsyncIBKRClient]:
    return IBKRClient if kind == "sync" else AsyncIBKRClient


def _port(sim: Any) -> int:
    return int(sim.root_url.rsplit(":", 1)[1])


async def test_gateway_mode_with_a_pinned_certificate(kind: str, fast_sim: Any) -> None:
    cfg = IBKRConfig(mode="gateway", gateway_host="127.0.0.1", gateway_port=_port(fast_sim),
                     ssl_verify=fast_sim.cert_fingerprint, max_requests_per_minute=600)  # fmt: skip
    client = _cls(kind)(cfg)
    assert (await call(client.auth_status())).authenticated
    assert client.mode == "gateway"
    await call(client.close())


async def test_wrong_pin_refuses_to_connect(kind: str, fast_sim: Any) -> None:
    cfg = IBKRConfig(
        mode="gateway",
        gateway_host="127.0.0.1",
        gateway_port=_port(fast_sim),
        ssl_verify="sha256:" + "0" * 64,
    )
    client = _cls(kind)(cfg)
    with pytest.raises(GatewayError, match="not the pinned"):
        await call(client.auth_status())


async def test_default_verification_rejects_the_self_signed_certificate(kind: str, fast_sim: Any) -> None:
    cfg = IBKRConfig(mode="gateway", gateway_host="127.0.0.1", gateway_port=_port(fast_sim))
    client = _cls(kind)(cfg, retry=None)
    with pytest.raises(NotSentError):
        await call(client.auth_status())
    await call(client.close())


async def test_gateway_mode_never_falls_back(kind: str) -> None:
    cfg = IBKRConfig(
        mode="gateway", gateway_host="127.0.0.1", gateway_port=9, ssl_verify="sha256:" + "1" * 64
    )
    client = _cls(kind)(cfg)
    with pytest.raises(GatewayError):
        await call(client.auth_status())
    assert client.mode == "gateway"


async def test_auto_mode_uses_an_authenticated_gateway(kind: str, fast_sim: Any) -> None:
    cfg = IBKRConfig(mode="auto", gateway_host="127.0.0.1", gateway_port=_port(fast_sim),
                     ssl_verify=fast_sim.cert_fingerprint)  # fmt: skip
    client = _cls(kind)(cfg)
    assert client.mode == "auto"
    await call(client.auth_status())
    assert client.mode == "gateway" and not client.is_fallback
    await call(client.close())


async def test_auto_mode_logged_out_gateway_says_log_in_and_never_falls_back(
    kind: str, fault_sim: Any
) -> None:
    fault_sim.admin.logout()  # the "real" gateway answers 401: it is still the gateway
    cfg = IBKRConfig(mode="auto", gateway_host="127.0.0.1", gateway_port=_port(fault_sim),
                     ssl_verify=fault_sim.cert_fingerprint)  # fmt: skip
    client = _cls(kind)(cfg)
    with pytest.raises(
        NotAuthenticatedError, match=r"log in to the gateway in a browser at https://127\.0\.0\.1"
    ):
        await call(client.auth_status())
    assert client.mode == "gateway" and not client.is_fallback
    await call(client.close())


async def test_auto_mode_falls_back_loudly_only_when_nothing_listens_and_keeps_real_orders_away(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    cfg = IBKRConfig(mode="auto", gateway_host="127.0.0.1", gateway_port=free, account_id="DU1234567")
    client = _cls(kind)(cfg)
    with caplog.at_level("WARNING"):
        status = await call(client.auth_status())
    assert status.authenticated  # the embedded simulator answered
    assert client.mode == "sim" and client.is_fallback
    assert "nothing accepts connections" in client.mode_reason
    assert any("SIMULATOR" in r.getMessage() for r in caplog.records)
    with pytest.raises(ModeError, match="fell back to the simulator"):
        await call(client.place_order(order(100.0), AAPL))
    await call(client.close())


async def test_sim_mode_config_attaches(kind: str, fast_sim: Any) -> None:
    client = _cls(kind)(sim_config(fast_sim))
    assert client.mode == "sim" and client.base_url == fast_sim.base_url
    await call(client.close())


async def test_auto_mode_fallback_refuses_an_account_named_in_the_order(kind: str) -> None:
    """No account configured: the guard must still read the account the order names."""
    import socket

    from axion_broker_ibkr.store.memory import MemoryJournal

    with socket.socket() as sock:  # a port nothing listens on: auto falls back to the simulator
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    cfg = IBKRConfig(mode="auto", gateway_host="127.0.0.1", gateway_port=free)
    assert cfg.account_id is None
    journal = MemoryJournal()
    client = _cls(kind)(cfg, journal=journal)
    try:
        await call(client.auth_status())
        assert client.mode == "sim" and client.is_fallback
        with pytest.raises(ModeError, match="fell back to the simulator"):
            await call(client.place_order({**order(100.0), "account_id": "DU1234567"}, AAPL))
        assert journal.entries() == []  # nothing logged, nothing sent
    finally:
        await call(client.close())
