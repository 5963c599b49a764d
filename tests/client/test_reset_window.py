"""IBKR's nightly reset (about 01:00 in the server's region) and Saturday maintenance, on the
simulator's clock: the keep-alive survives them and orders around them are held, not sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.errors import ConfigError, ResetWindowError
from axion_broker_ibkr.gateway import IBKRGateway
from axion_broker_ibkr.ops.resets import ResetSchedule
from axion_broker_ibkr.sim import SimServer
from axion_broker_ibkr.store.memory import MemoryJournal

ZONE = "America/New_York"
STOCK = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"}


def _order(coid: str) -> dict[str, object]:
    return {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "market", "client_order_id": coid}


@pytest.fixture
def reset_sim() -> Iterator[SimServer]:
    server = SimServer(port=0, seed=9, resets=ResetSchedule(timezone=ZONE), idle_timeout=86400 * 3)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _move_to(sim: SimServer, hour: int, minute: int) -> None:
    """Advance the simulator's clock to the next ``hour:minute`` (server region's local time)."""
    now = sim.state.clock.now()
    local = dt.datetime.fromtimestamp(now, ZoneInfo(ZONE))
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while target.timestamp() <= now:
        target += dt.timedelta(days=1)
    sim.admin.advance_clock(target.timestamp() - now)


def _client(sim: SimServer) -> IBKRClient:
    config = IBKRConfig(
        mode="sim", sim_url=sim.root_url, ssl_verify=sim.cert_fingerprint, reset_timezone=ZONE,
        reset_hold_minutes=5, auto_confirm=("o354", "o163", "o10151"), max_requests_per_minute=600,
    )  # fmt: skip
    return IBKRClient(config, journal=MemoryJournal())


def _sim_orders(sim: SimServer) -> set[str]:
    return set(sim.state.engine.coids)


def test_orders_are_held_around_the_reset_and_the_keepalive_survives_it(reset_sim: SimServer) -> None:
    _move_to(reset_sim, 0, 50)
    with _client(reset_sim) as client:
        gateway = IBKRGateway(client)
        assert gateway.start(keepalive=False).authenticated
        assert client.place_order(_order("before-1"), STOCK).order_id  # 00:50: far enough ahead

        reset_sim.admin.advance_clock(9 * 60)  # 00:59
        assert gateway.tick().authenticated  # the keep-alive's round (it also reads the gateway's clock)
        with pytest.raises(ResetWindowError) as held:
            client.place_order(_order("at-0059"), STOCK)
        message = str(held.value)
        assert "daily reset (01:00-01:05 America/New_York) begins in" in message
        assert "nothing was sent" in message and "Retry after 01:06" in message
        assert "at-0059" not in _sim_orders(reset_sim)
        assert [e.client_order_id for e in client.journal.entries()] == ["before-1"]  # type: ignore[union-attr]

        reset_sim.admin.advance_clock(2 * 60)  # 01:01: the reset is under way
        status = gateway.tick()  # a keep-alive round: reports, does not die
        assert not status.authenticated
        assert reset_sim.state.outage is not None and not reset_sim.state.session.brokerage
        with pytest.raises(ResetWindowError, match="is under way"):
            client.place_order(_order("at-0101"), STOCK)

        reset_sim.admin.advance_clock(5 * 60)  # 01:06: the window is over
        status = gateway.tick()  # the keep-alive re-runs the start-up sequence
        assert status.authenticated
        assert reset_sim.state.session.brokerage and reset_sim.state.outage is None
        result = client.place_order(_order("after-0106"), STOCK)
        assert result.order_id and "after-0106" in _sim_orders(reset_sim)
    assert reset_sim.state.outages_seen == 1


def test_without_a_keepalive_the_order_after_the_reset_reopens_the_session(reset_sim: SimServer) -> None:
    _move_to(reset_sim, 0, 58)
    with _client(reset_sim) as client:
        client.connect()
        client.tickle()  # any answer carries the gateway's clock (its Date header)
        with pytest.raises(ResetWindowError):
            client.place_order(_order("held"), STOCK)
        reset_sim.admin.advance_clock(8 * 60)  # 01:06, nobody re-opened the session
        assert not client.auth_status().authenticated  # the reset took it down
        result = client.place_order(_order("goes"), STOCK)  # start-up sequence, then the order
        assert result.order_id and reset_sim.state.session.brokerage
        assert [e.client_order_id for e in client.journal.entries()] == ["goes"]  # type: ignore[union-attr]


def test_during_the_reset_the_session_cannot_be_opened(reset_sim: SimServer) -> None:
    _move_to(reset_sim, 1, 2)
    with _client(reset_sim) as client:
        status = client.auth_status()
        assert not status.authenticated
        assert "daily reset" in (status.fail or "")
        assert reset_sim.admin.state()["resets"]["outage"].startswith("IBKR's daily reset")


def test_the_saturday_maintenance_window() -> None:
    schedule = ResetSchedule(timezone=ZONE)
    tz = ZoneInfo(ZONE)
    saturday = dt.datetime(2026, 12, 5, 23, 30, tzinfo=tz)  # a Saturday
    window = schedule.active(saturday.timestamp())
    assert window is not None and window.kind == "IBKR's Saturday maintenance"
    assert schedule.active(dt.datetime(2026, 12, 4, 23, 30, tzinfo=tz).timestamp()) is None  # Friday
    hold = schedule.hold(dt.datetime(2026, 12, 5, 22, 57, tzinfo=tz).timestamp(), hold_minutes=5)
    assert hold is not None and "Saturday maintenance (23:00-00:00" in hold.message
    assert schedule.hold(saturday.timestamp(), hold_minutes=0) is None  # 0: never held
    # the daily reset on a day with a DST change is still at 01:00 local
    spring = dt.datetime(2027, 3, 14, 1, 2, tzinfo=tz)
    assert schedule.active(spring.timestamp()) is not None


def test_reset_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="reset_timezone"):
        IBKRConfig(reset_timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="reset_hold_minutes"):
        IBKRConfig(reset_hold_minutes=-1)
    assert IBKRConfig.from_env({"AXION_IBKR_RESET_HOLD_MINUTES": "0"}).reset_hold_minutes == 0


def test_the_keepalive_survives_the_saturday_maintenance(reset_sim: SimServer) -> None:
    now = reset_sim.state.clock.now()
    local = dt.datetime.fromtimestamp(now, ZoneInfo(ZONE))
    days = (5 - local.weekday()) % 7 or 7
    target = (local + dt.timedelta(days=days)).replace(hour=23, minute=10, second=0, microsecond=0)
    with _client(reset_sim) as client:
        gateway = IBKRGateway(client)
        assert gateway.start(keepalive=False).authenticated
        reset_sim.admin.advance_clock(target.timestamp() - now)  # Saturday 23:10
        assert not gateway.tick().authenticated
        assert reset_sim.state.outage is not None
        assert reset_sim.state.outage.kind == "IBKR's Saturday maintenance"
        with pytest.raises(ResetWindowError, match="Saturday maintenance"):
            client.place_order(_order("sat"), STOCK)
        reset_sim.admin.advance_clock(55 * 60)  # Sunday 00:05
        assert gateway.tick().authenticated
        assert client.place_order(_order("sun"), STOCK).order_id


async def test_the_host_gets_a_clear_rejection_and_no_order_log_row(reset_sim: SimServer) -> None:
    """The adapter through the reference host: a held order is ``rejected`` with the reason, not sent,
    and the order log has no row for it."""
    from tests.host.multi_broker import MultiBroker
    from tests.plugin.test_adapter_via_host import host_config

    _move_to(reset_sim, 0, 57)
    host = MultiBroker()
    config = host_config(reset_sim, database_url="memory", reset_timezone=ZONE, reset_hold_minutes=5,
                         auto_confirm=["o354", "o10151"])  # fmt: skip
    adapter = host.adapter("ibkr", config)
    try:
        assert await adapter.connect()
        order = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "market", "asset_type": "stock",
                 "client_order_id": "host-0057"}  # fmt: skip
        execution = await host.execute("ibkr", order)
        result = execution.result
        assert result["status"] == "rejected"
        assert "daily reset" in result["message"] and "nothing was sent" in result["message"]
        assert "host-0057" not in _sim_orders(reset_sim)
        assert adapter.client.journal.entries() == []
    finally:
        await adapter.disconnect()


async def test_the_async_client_holds_orders_and_modifications_too(reset_sim: SimServer) -> None:
    from axion_broker_ibkr.client import AsyncIBKRClient

    _move_to(reset_sim, 0, 50)
    config = _client(reset_sim).config
    client = AsyncIBKRClient(config, journal=MemoryJournal())
    try:
        await client.connect()
        quote = (await client.snapshot([265598]))[0]
        resting = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit",
                   "limit_price": round(quote.bid * 0.98, 2), "client_order_id": "rest-1"}  # fmt: skip
        placed = await client.place_order(resting, STOCK)
        assert placed.order_id
        reset_sim.admin.advance_clock(8 * 60)  # 00:58
        await client.tickle()
        with pytest.raises(ResetWindowError, match="begins in"):
            await client.place_order(_order("async-0058"), STOCK)
        with pytest.raises(ResetWindowError, match="daily reset"):
            await client.modify_order(str(placed.order_id), {**resting, "qty": 2}, STOCK)
        assert "async-0058" not in _sim_orders(reset_sim)
        order = reset_sim.state.engine.orders[int(str(placed.order_id))]
        assert order.ticket.quantity == 1  # the modification was not sent
    finally:
        await client.close()
