"""A bracket and an OCO pair through the reference host's adapter: one POST, the parent's result with
every leg, the order log following the stream (entry fill activates the exits, the take-profit's
fill cancels the stop), and cancelling the parent cancels the group."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.host.multi_broker import MultiBroker
from tests.streaming.waiting import until

from .test_adapter_via_host import host_config

pytestmark = pytest.mark.timeout(90)

ALL = ["o163", "o354", "o10151", "o403"]
FAST: dict[str, Any] = {"tick": 0.05, "tic_interval": 1.0, "tickle_interval": 2.0, "heartbeat_timeout": 1.0,
        "backoff_base": 0.05, "backoff_cap": 0.3}  # fmt: skip


@pytest.fixture
def group_sim() -> Iterator[Any]:
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=17, heartbeat_interval=0.2, rate_scale=1000.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _statuses(adapter: Any, coids: list[str]) -> list[str | None]:
    return [getattr(adapter.store.journal.get(c), "status", None) for c in coids]


async def test_a_bracket_through_the_host_follows_the_stream(group_sim: Any, tmp_path: Path) -> None:
    host = MultiBroker()
    db = f"sqlite:///{tmp_path / 'log.sqlite'}"
    adapter = host.adapter("ibkr", host_config(group_sim, database_url=db, auto_confirm=ALL))
    assert await adapter.connect()
    stream = adapter.stream(**FAST)
    try:
        await stream.start()
        await stream.wait_connected(20)
        await stream.subscribe_orders()
        group_sim.admin.set_price(265598, 200.0)
        bracket = {"symbol": "AAPL", "asset_type": "stock", "side": "buy", "qty": 5, "order_type": "limit",
                   "limit_price": 195.0, "time_in_force": "gtc", "client_order_id": "HB-1",
                   "take_profit": {"limit_price": 210.0}, "stop_loss": {"stop_price": 185.0}}  # fmt: skip
        result = await host.place("ibkr", bracket)
        assert result["status"] == "open" and result["group_id"] == "HB-1"
        legs = result["legs"]
        coids = [leg["client_order_id"] for leg in legs]
        assert coids == ["HB-1", "HB-1.tp", "HB-1.sl"] and all(leg["order_id"] for leg in legs)
        assert result["order_id"] == legs[0]["order_id"]
        assert _statuses(adapter, coids) == ["open", "open", "open"]

        await asyncio.to_thread(group_sim.admin.fill, legs[0]["order_id"])
        await until(lambda: _statuses(adapter, coids)[0] == "filled", "entry filled in the log")
        await asyncio.to_thread(group_sim.admin.fill, legs[1]["order_id"])
        await asyncio.to_thread(group_sim.admin.tick)
        await until(lambda: _statuses(adapter, coids) == ["filled", "filled", "canceled"], "exits settled")

        # A second bracket, cancelled through its parent: the whole group goes.
        second = await host.place("ibkr", {**bracket, "client_order_id": "HB-2"})
        assert await adapter.cancel_order(second["order_id"]) is True
        await asyncio.to_thread(group_sim.admin.tick)
        ids = {leg["order_id"] for leg in second["legs"]}
        book = [o["status"] for o in group_sim.admin.state()["orders"] if str(o["orderId"]) in ids]
        assert book == ["Cancelled"] * 3  # the parent's cancel took its children with it
        await until(lambda: _statuses(adapter, ["HB-2", "HB-2.tp", "HB-2.sl"]) == ["canceled"] * 3, "log")

        oco = {"client_order_id": "HO-1", "oco": [
            {"symbol": "AAPL", "asset_type": "stock", "side": "sell", "qty": 5, "order_type": "limit",
             "limit_price": 215.0},
            {"symbol": "AAPL", "asset_type": "stock", "side": "sell", "qty": 5, "order_type": "stop",
             "stop_price": 180.0},
        ]}  # fmt: skip
        pair = await host.place("ibkr", oco)
        pair_coids = [leg["client_order_id"] for leg in pair["legs"]]
        assert pair["status"] == "open" and pair_coids == ["HO-1.o1", "HO-1.o2"]
        await asyncio.to_thread(group_sim.admin.fill, pair["legs"][0]["order_id"])
        await until(lambda: _statuses(adapter, pair_coids) == ["filled", "canceled"], "OCO settled")

        bad = await host.place(
            "ibkr", {**bracket, "client_order_id": "HB-3", "stop_loss": {"stop_price": 199.0}}
        )
        assert bad["status"] == "rejected" and "stop_loss.stop_price" in bad["message"]
        assert adapter.store.journal.get("HB-3") is None  # nothing logged, nothing sent
    finally:
        await stream.stop()
        await adapter.disconnect()
        await asyncio.sleep(0)
