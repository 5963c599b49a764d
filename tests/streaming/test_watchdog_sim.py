"""The per-topic watchdog against the simulator over real sockets (issue 12.6, issue 16.2).

* ``sor`` silent (a build 10.46 capture): a placed and cancelled order still reaches Cancelled in
  the stream's order state within a few seconds (``ntf`` refresh, live-orders polling);
* ``sor`` muted by someone else's filtered live-orders call: the same, and the stream clears the
  mute (one ``force=true`` call) so that later changes come through ``sor`` again;
* a quote subscription that went silent on an open socket is re-sent;
* socket down -> every subscribed topic is polled over REST -> socket back -> live again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.streaming import IBKRStreaming, OrderEvent, QuoteEvent, StreamChannel

pytest.importorskip("axion_broker_ibkr.sim")
pytestmark = pytest.mark.timeout(60)

from axion_broker_ibkr.client import AsyncIBKRClient  # noqa: E402
from axion_broker_ibkr.config import IBKRConfig  # noqa: E402
from axion_broker_ibkr.drivers.pacing import Pacer  # noqa: E402
from axion_broker_ibkr.sim import SimServer  # noqa: E402

from .test_sim import AAPL, FAST, SCALE, admin, fresh_quote, limit_buy  # noqa: E402
from .waiting import until  # noqa: E402

#: watchdog intervals shortened alike (the simulator's pacing is scaled by SCALE as well)
WATCH: dict[str, Any] = {**FAST, "orders_silence": 0.5, "pnl_silence": 3.0, "poll_after": 0.3,
         "ntf_grace": 0.2, "quote_poll_interval": 0.2}  # fmt: skip
#: "within a few seconds": the bound of every wait for an order state below
FEW_SECONDS = 5.0


@pytest.fixture
def sor_mode() -> str:
    return "stops_after_filter"


@pytest.fixture
def watch_sim(sor_mode: str) -> Iterator[SimServer]:
    server = SimServer(port=0, seed=17, heartbeat_interval=0.2, rate_scale=SCALE, sor_mode=sor_mode)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(watch_sim: SimServer) -> AsyncIterator[AsyncIBKRClient]:
    config = IBKRConfig(mode="sim", sim_url=watch_sim.root_url, ssl_verify=watch_sim.cert_fingerprint)
    c = AsyncIBKRClient(config, pacer=Pacer(600, scale=SCALE))
    yield c
    await c.aclose()


@pytest.fixture
async def stream(client: AsyncIBKRClient) -> AsyncIterator[IBKRStreaming]:
    s = IBKRStreaming(client, **WATCH)
    await s.start()
    await s.wait_connected(20)
    yield s
    await s.stop()


async def place_resting(stream: IBKRStreaming, client: AsyncIBKRClient, coid: str) -> int:
    """A limit buy 2 % under the market (it rests); returns its order id once the stream knows it."""
    last = (await fresh_quote(stream, AAPL.conid)).quote.last
    assert last is not None
    result = await client.place_order(limit_buy(2, round(last * 0.98, 2), coid), AAPL)
    order_id = int(str(result.order_id))
    await until(lambda: stream.order(order_id) is not None, f"order {coid} in the stream", FEW_SECONDS)
    return order_id


def status_of(stream: IBKRStreaming, order_id: int) -> str | None:
    order = stream.order(order_id)
    return None if order is None else order.status


async def sim_state(sim: SimServer) -> dict[str, Any]:
    return dict(await admin(sim, "state"))


@pytest.mark.parametrize("sor_mode", ["silent"])
async def test_silent_sor_place_and_cancel_reach_cancelled(
    stream: IBKRStreaming, client: AsyncIBKRClient, watch_sim: SimServer
) -> None:
    await stream.subscribe_quotes([AAPL.conid])
    await stream.subscribe_orders()
    events = stream.events(StreamChannel.ORDERS)
    order_id = await place_resting(stream, client, "AX-WD-SILENT")
    await client.cancel_order(order_id)
    await until(lambda: status_of(stream, order_id) == "Cancelled", "Cancelled without sor", FEW_SECONDS)
    seen = [e for e in events.drain() if isinstance(e, OrderEvent) and e.order_id == order_id]
    assert seen and all(e.source == "rest" for e in seen)  # no sor frame ever brought it
    assert seen[-1].order.status == "Cancelled"
    stats = stream.stats()
    assert stats["frames"].get("orders", 0) == 0  # the simulator really sent no sor
    assert stats.get("order_notices", 0) >= 1  # ntf frames started the refreshes
    assert (await sim_state(watch_sim))["ws_counts"].get("filtered_live_orders", 0) == 0
    assert set(stream.health()) == {"quote", "orders"}


@pytest.mark.parametrize("sor_mode", ["silent"])
async def test_silent_sor_a_partial_then_full_fill_reach_the_order_state(
    stream: IBKRStreaming, client: AsyncIBKRClient, watch_sim: SimServer
) -> None:
    await stream.subscribe_quotes([AAPL.conid])
    await stream.subscribe_orders()
    order_id = await place_resting(stream, client, "AX-WD-SILENT-FILL")
    await until(lambda: stream.health()["orders"]["state"] == "silent", "a working order, sor quiet")
    # a partial fill leaves the status Submitted (no ntf): only live-orders polling can see it
    await admin(watch_sim, "fill", order_id, 1)

    def filled(quantity: float) -> bool:
        order = stream.order(order_id)
        return order is not None and order.filled_quantity == quantity

    await until(lambda: filled(1.0), "the partial fill without sor or ntf", FEW_SECONDS)
    assert status_of(stream, order_id) == "Submitted"
    await admin(watch_sim, "fill", order_id)
    await until(lambda: status_of(stream, order_id) == "Filled", "Filled without sor", FEW_SECONDS)
    assert filled(2.0) and stream.stats()["orders_polls"] >= 1


async def test_sor_muted_by_a_filtered_call_place_and_cancel_reach_cancelled(
    stream: IBKRStreaming, client: AsyncIBKRClient, watch_sim: SimServer
) -> None:
    await stream.subscribe_quotes([AAPL.conid])
    await stream.subscribe_orders()
    events = stream.events(StreamChannel.ORDERS)
    kept: list[Any] = []
    first = await place_resting(stream, client, "AX-WD-MUTED-1")
    await until(
        lambda: any(isinstance(e, OrderEvent) and e.source == "ws" for e in _keep(events, kept)),
        "the order through sor before the mute",
    )
    # the client filters locally: asking it for submitted orders sends no filtered call
    submitted = await client.live_orders(filters=["Submitted"])
    assert [o.order_id for o in submitted] == [first]
    assert (await sim_state(watch_sim))["ws_counts"].get("filtered_live_orders", 0) == 0
    # another program behind the same gateway makes a filtered call: sor stops (REFERENCE §4.8)
    async with httpx.AsyncClient(base_url=watch_sim.base_url, verify=client.ssl_context or True) as other:
        answer = await other.get("/iserver/account/orders", params={"filters": "submitted"})
        assert answer.status_code == 200
    await client.cancel_order(first)
    await until(lambda: status_of(stream, first) == "Cancelled", "Cancelled while sor is muted", FEW_SECONDS)

    async def unmuted() -> bool:
        return not (await sim_state(watch_sim))["sor"]["suppressed"]

    await until(unmuted, "the stream clears the mute with force=true", FEW_SECONDS, interval=0.1)
    assert stream.stats()["order_force_refreshes"] >= 1
    kept.clear()
    second = await place_resting(stream, client, "AX-WD-MUTED-2")
    await until(
        lambda: any(
            isinstance(e, OrderEvent) and e.order_id == second and e.source == "ws"
            for e in _keep(events, kept)
        ),
        "sor delivers again after the mute was cleared",
        FEW_SECONDS,
    )
    # the stream's own calls were never filtered: the one filtered call is the other program's
    assert (await sim_state(watch_sim))["ws_counts"]["filtered_live_orders"] == 1


def _keep(events: Any, store: list[Any]) -> list[Any]:
    store.extend(events.drain())
    return store


async def test_watchdog_resubscribes_a_silent_quote_topic(
    stream: IBKRStreaming, watch_sim: SimServer
) -> None:
    await stream.subscribe_quotes([AAPL.conid])
    await fresh_quote(stream, AAPL.conid)
    assert stream.health()["quote"]["state"] == "live"
    # the simulator stops smd frames 0.5 s (sim clock) after each (re)send unless renewed
    await asyncio.to_thread(watch_sim.admin.config, smd_ttl_s=0.5)
    connects = stream.stats()["connects"]
    await until(lambda: stream.health()["quote"]["resubscribes"] >= 2, "a silent smd re-sent (twice)")
    after = await fresh_quote(stream, AAPL.conid)
    assert after.quote.last is not None
    health = stream.health()["quote"]
    assert health["last_message_age"] is not None and health["last_message_age"] < FAST["quote_silence"]
    assert stream.stats()["connects"] == connects  # re-sent on the same socket, no reconnect


async def test_socket_down_polls_rest_and_goes_live_when_the_socket_is_back(
    stream: IBKRStreaming, client: AsyncIBKRClient, watch_sim: SimServer
) -> None:
    await stream.subscribe_quotes([AAPL.conid])
    await stream.subscribe_orders()
    await stream.subscribe_pnl()
    order_id = await place_resting(stream, client, "AX-WD-DOWN")
    await until(lambda: stream.health().get("pnl", {}).get("last_message_age") is not None, "first spl")
    assert {h["state"] for h in stream.health().values()} == {"live"}

    await asyncio.to_thread(watch_sim.admin.websockets, False)
    await until(lambda: not stream.connected, "socket down")

    def all_polling() -> bool:
        health = stream.health()
        return set(health) == {"quote", "orders", "pnl"} and all(
            h["state"] == "polling" for h in health.values()
        )

    await until(all_polling, "every topic polled over REST", FEW_SECONDS)
    quotes = stream.events(StreamChannel.QUOTE)
    known = stream.quote(AAPL.conid)
    assert known is not None and known.last is not None
    higher = round(known.last * 1.05, 2)  # away from the resting buy: it must not fill
    await asyncio.to_thread(watch_sim.admin.set_price, AAPL.conid, higher)
    await until(
        lambda: any(isinstance(e, QuoteEvent) and e.quote.last == higher for e in quotes.drain()),
        "a quote change through snapshots while the socket is down",
        FEW_SECONDS,
    )
    await admin(watch_sim, "fill", order_id)  # no sor, no str: only polling can see it
    await until(lambda: status_of(stream, order_id) == "Filled", "the fill by polling", FEW_SECONDS)
    stats = stream.stats()
    assert stats["quote_polls"] >= 1 and stats["orders_polls"] >= 1 and stats["pnl_polls"] >= 1
    assert not stream.connected

    await asyncio.to_thread(watch_sim.admin.websockets, True)
    await stream.wait_connected(20)
    await until(lambda: {h["state"] for h in stream.health().values()} == {"live"}, "live again")
    await until(lambda: not stream.watch[StreamChannel.QUOTE].busy, "a poll begun while down has ended")
    polls = stream.stats()["quote_polls"]
    await fresh_quote(stream, AAPL.conid)
    assert stream.stats()["quote_polls"] == polls  # quotes come through the socket again


async def test_a_topic_whose_rest_fallback_fails_too_is_down(
    stream: IBKRStreaming, watch_sim: SimServer
) -> None:
    await stream.subscribe_quotes([AAPL.conid])
    await stream.subscribe_orders()
    await fresh_quote(stream, AAPL.conid)
    await asyncio.to_thread(watch_sim.admin.fail, 503, 10**6, "/iserver/marketdata")
    await asyncio.to_thread(watch_sim.admin.websockets, False)

    def states() -> dict[str, str]:
        return {name: h["state"] for name, h in stream.health().items()}

    def snapshots_failed() -> bool:
        return stream.stats().get("quote_poll_errors", 0) >= 1

    await until(snapshots_failed, "a snapshot poll failed", FEW_SECONDS)
    await until(lambda: states() == {"quote": "down", "orders": "polling"}, "quotes down, orders polled")
    await asyncio.to_thread(watch_sim.admin.fail, 503, 0)  # snapshots answer again
    await until(lambda: states() == {"quote": "polling", "orders": "polling"}, "quotes polled again")
    await asyncio.to_thread(watch_sim.admin.websockets, True)
    await until(lambda: states() == {"quote": "live", "orders": "live"}, "live again", 20)
