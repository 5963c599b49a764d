"""A bracket and an OCO pair through the reference host's adapter: one POST, the parent's result with
every leg, the order log following the stream (entry fill activates the exits, the take-profit's
fill cancels the stop), and cancelling the parent cancels the group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def _streaming(sim: Any, tmp_path: Path, **config: Any) -> AsyncIterator[tuple[MultiBroker, Any, Any]]:
    """The reference host with this plugin's adapter on ``sim`` (an SQLite order log of the test's
    own) and its order stream started and subscribed: ``(host, adapter, stream)``."""
    host = MultiBroker()
    db = f"sqlite:///{tmp_path / 'log.sqlite'}"
    adapter = host.adapter("ibkr", host_config(sim, database_url=db, auto_confirm=ALL, **config))
    assert await adapter.connect()
    stream = adapter.stream(**FAST)
    try:
        await stream.start()
        await stream.wait_connected(20)
        await stream.subscribe_orders()
        yield host, adapter, stream
    finally:
        await stream.stop()
        await adapter.disconnect()
        await asyncio.sleep(0)


def _statuses(adapter: Any, coids: list[str]) -> list[str | None]:
    return [getattr(adapter.store.journal.get(c), "status", None) for c in coids]


async def test_a_bracket_through_the_host_follows_the_stream(group_sim: Any, tmp_path: Path) -> None:
    async with _streaming(group_sim, tmp_path) as (host, adapter, _stream):
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


async def _host_bracket(adapter: Any, sim: Any, asset_type: str, coid: str, qty: float) -> dict[str, Any]:
    """A bracket around a working entry limit (2 % under the market) on ``asset_type``."""
    details: dict[str, Any] = {}
    terms: dict[str, Any] = {}
    symbol = {"stock": "AAPL", "option": "AAPL", "futures": "ES"}[asset_type]
    if asset_type == "option":
        sim.admin.set_price(265598, 200.0)
        expiry = (await adapter.client.search("AAPL", "STK"))[0].opt.split(";")[2]
        details = {"expiration": expiry, "strike": 210.0, "option_type": "put"}  # in the money
        terms = {"expiry": expiry, "strike": 210.0, "right": "P"}  # the resolver's words
    contract = await adapter.resolve(symbol, asset_type, terms)
    if asset_type == "futures":
        sim.admin.set_price(contract.conid, 5900.0)
    elif asset_type == "stock":
        sim.admin.set_price(contract.conid, 200.0)
    quote = (await adapter.client.snapshot([contract.conid], wait=3.0))[0]
    last = float(quote.bid or quote.last)
    step = float(contract.tick_size or 0.01)

    def grid(x: float) -> float:
        return round(round(x / step) * step, 4)

    return {"symbol": symbol, "asset_type": asset_type, **details, "side": "buy", "qty": qty,
            "order_type": "limit", "limit_price": grid(last * 0.98), "time_in_force": "gtc",
            "client_order_id": coid, "take_profit": {"limit_price": grid(last * 1.05)},
            "stop_loss": {"stop_price": grid(last * 0.93)}}  # fmt: skip


@pytest.mark.parametrize("asset_type", ["stock", "option", "futures"])
async def test_a_bracket_on_each_asset_class_fills_and_settles_through_the_stream(
    group_sim: Any, tmp_path: Path, asset_type: str
) -> None:
    """Issue 15's done-when: a bracket on a stock, an option and a future is placed; its entry fills,
    its take-profit fills and the stop-loss is cancelled, in the order log and on the stream."""
    async with _streaming(group_sim, tmp_path, futures_operator="desk-1") as (host, adapter, stream):
        coid = f"HA-{asset_type}"
        result = await host.place("ibkr", await _host_bracket(adapter, group_sim, asset_type, coid, 2))
        assert result["status"] == "open", result["message"]
        legs = result["legs"]
        coids = [leg["client_order_id"] for leg in legs]
        ids = [int(leg["order_id"]) for leg in legs]
        assert coids == [coid, f"{coid}.tp", f"{coid}.sl"]
        await until(lambda: all(stream.order(i) is not None for i in ids), "every leg on the stream")
        await asyncio.to_thread(group_sim.admin.fill, ids[0])
        await until(lambda: getattr(stream.order(ids[1]), "status", None) == "Submitted", "exits working")
        await asyncio.to_thread(group_sim.admin.fill, ids[1])
        await asyncio.to_thread(group_sim.admin.tick)
        await until(lambda: _statuses(adapter, coids) == ["filled", "filled", "canceled"], "log settled")
        await until(
            lambda: (
                [getattr(stream.order(i), "status", None) for i in ids] == ["Filled", "Filled", "Cancelled"]
            ),
            "stream settled",
        )
        assert [adapter.store.journal.get(c).filled_quantity for c in coids] == [2.0, 2.0, 0.0]


async def test_a_partial_entry_fill_sizes_the_exits_in_the_log_and_on_the_stream(
    group_sim: Any, tmp_path: Path
) -> None:
    """The simulator's reading (IBKR's is unconfirmed; the client takes IBKR's sizes either way): the
    exits keep the entry's size and cover what it has filled; one exit's fill reduces its sibling."""
    async with _streaming(group_sim, tmp_path) as (host, adapter, stream):
        journal = adapter.store.journal
        result = await host.place("ibkr", await _host_bracket(adapter, group_sim, "stock", "HP-1", 10))
        coids = [leg["client_order_id"] for leg in result["legs"]]
        ids = [int(leg["order_id"]) for leg in result["legs"]]
        await asyncio.to_thread(group_sim.admin.fill, ids[0], 4)
        await until(lambda: _statuses(adapter, coids)[0] == "partially_filled", "entry partly filled")
        await asyncio.to_thread(group_sim.admin.fill, ids[1])  # the take-profit sells what was bought
        await until(lambda: getattr(journal.get(coids[1]), "filled_quantity", 0) == 4.0, "tp partly filled")
        await until(lambda: getattr(journal.get(coids[2]), "quantity", 0) == 6.0, "stop reduced in the log")
        assert _statuses(adapter, coids) == ["partially_filled", "partially_filled", "open"]
        assert getattr(stream.order(ids[2]), "total_size", None) == 6.0  # and on the stream
        await asyncio.to_thread(group_sim.admin.fill, ids[0])  # the rest of the entry
        await asyncio.to_thread(group_sim.admin.fill, ids[1])
        await asyncio.to_thread(group_sim.admin.tick)
        await until(lambda: _statuses(adapter, coids) == ["filled", "filled", "canceled"], "group settled")
        assert [journal.get(c).filled_quantity for c in coids[:2]] == [10.0, 10.0]
