"""``sor`` behaviours, ``ntf``/``blt`` frames and the websocket fault (issue 16.2), over real sockets.

* ``stops_after_filter`` (default; REFERENCE §4.8, ibind #129): a filtered live-orders call mutes
  ``sor`` until a ``force=true`` call;
* ``silent`` (a build 10.46 capture): no ``sor`` frame at all, only ``ntf`` for order events;
* ``unaffected``: filtered calls change nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.sim import SimServer

from .conftest import AAPL, ACCT, trust
from .test_websocket import connect, order, topic, until

Frame = dict[str, Any]
RESTING = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 150, "quantity": 5}


async def frames_for(ws: ClientConnection, seconds: float) -> list[Frame]:
    """Every JSON object frame that arrives within ``seconds`` (the socket keeps sending heartbeats)."""
    seen: list[Frame] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            break
        frame = json.loads(raw)
        if isinstance(frame, dict):
            seen.append(frame)
    return seen


async def closed_code(ws: ClientConnection) -> int | None:
    """Read until the server closes the socket; its close code."""
    async with asyncio.timeout(10):
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None


async def get(sim: SimServer, path: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim.base_url, verify=trust(sim)) as client:
        return await client.get(path, params=params)


async def cancel(sim: SimServer, order_id: int) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, verify=trust(sim)) as client:
        response = await client.delete(f"/iserver/account/{ACCT}/order/{order_id}")
        assert response.status_code == 200, response.text


def is_ntf_for(order_id: int, status: str) -> Callable[[Frame], bool]:
    def check(frame: Frame) -> bool:
        args = frame.get("args") or {}
        return (
            frame.get("topic") == "ntf"
            and f"Order {order_id} " in args.get("text", "")
            and (args.get("title") == f"Order {status}")
        )

    return check


async def test_silent_sor_sends_no_sor_frames_but_ntf_for_each_status(
    make_sim: Callable[..., SimServer],
) -> None:
    sim = make_sim(sor_mode="silent")
    sim.admin.pause_market()
    async with connect(sim) as ws:
        await ws.send("sor+{}")
        placed = await order(sim, RESTING)
        order_id = int(placed[0]["order_id"])
        submitted = await until(ws, is_ntf_for(order_id, "Submitted"))
        # documented shape (REFERENCE §6.3): args {id, text, title, url}
        assert set(submitted["args"]) == {"id", "text", "title", "url"}
        await cancel(sim, order_id)
        await asyncio.to_thread(sim.admin.tick)
        await until(ws, is_ntf_for(order_id, "Cancelled"))
        later = await frames_for(ws, 0.5)
    assert not any(f.get("topic") == "sor" for f in later)
    state = sim.admin.state()
    assert state["sor"]["mode"] == "silent"
    assert any(o["orderId"] == order_id and o["status"] == "Cancelled" for o in state["orders"])


async def test_default_sor_stops_after_a_filtered_call_until_force(fsim: SimServer) -> None:
    fsim.admin.pause_market()
    await get(fsim, "/iserver/accounts")
    await get(fsim, "/iserver/account/orders", accountId=ACCT)  # the pre-flight
    async with connect(fsim) as ws:
        await ws.send("sor+{}")
        first = int((await order(fsim, RESTING))[0]["order_id"])
        await until(ws, lambda f: f.get("topic") == "sor" and f["args"][0].get("orderId") == first)
        filtered = await get(fsim, "/iserver/account/orders", filters="submitted", accountId=ACCT)
        assert filtered.status_code == 200
        assert fsim.admin.state()["sor"]["suppressed"] is True
        await cancel(fsim, first)
        await until(ws, is_ntf_for(first, "PendingCancel"))  # ntf still flows; sor does not
        muted = await frames_for(ws, 0.4)
        assert not any(f.get("topic") == "sor" for f in muted)
        forced = await get(fsim, "/iserver/account/orders", force="true", accountId=ACCT)
        assert forced.json()["orders"] == []  # force answers empty by design
        assert fsim.admin.state()["sor"]["suppressed"] is False
        await asyncio.to_thread(fsim.admin.tick)
        back = await until(ws, topic("sor"))
        assert back["args"][0]["orderId"] == first and back["args"][0]["status"] == "Cancelled"
    assert fsim.admin.state()["ws_counts"]["filtered_live_orders"] == 1


async def test_unaffected_sor_keeps_flowing_after_a_filtered_call(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(sor_mode="unaffected", order_notifications=False)
    sim.admin.pause_market()
    await get(sim, "/iserver/accounts")
    await get(sim, "/iserver/account/orders", accountId=ACCT)
    async with connect(sim) as ws:
        await ws.send("sor+{}")
        order_id = int((await order(sim, RESTING))[0]["order_id"])
        await get(sim, "/iserver/account/orders", filters="submitted", accountId=ACCT)
        await cancel(sim, order_id)
        change = await until(
            ws, lambda f: f.get("topic") == "sor" and f["args"][0].get("status") == "PendingCancel"
        )
        assert change["args"][0]["orderId"] == order_id
        later = await frames_for(ws, 0.3)
    assert not any(f.get("topic") == "ntf" for f in later)  # order_notifications off


async def test_admin_notify_and_bulletin_send_ntf_and_blt(fsim: SimServer) -> None:
    async with connect(fsim) as ws:
        await until(ws, topic("act"))
        await asyncio.to_thread(fsim.admin.notify, "Market closes early", "Notice", "https://example.org")
        ntf = await until(ws, topic("ntf"))
        assert ntf["args"]["text"] == "Market closes early" and ntf["args"]["title"] == "Notice"
        assert ntf["args"]["url"] == "https://example.org" and ntf["args"]["id"]
        await asyncio.to_thread(fsim.admin.bulletin, "Exchange delayed")
        blt = await until(ws, topic("blt"))
        assert set(blt["args"]) == {"id", "message"} and blt["args"]["message"] == "Exchange delayed"
    with pytest.raises(ValueError, match="text"):
        fsim.admin.call("notify")
    with pytest.raises(ValueError, match="message"):
        fsim.admin.call("bulletin", message="")


async def test_websockets_fault_closes_and_refuses_sockets_while_rest_answers(fsim: SimServer) -> None:
    async with connect(fsim) as ws:
        await until(ws, topic("system"))
        await asyncio.to_thread(fsim.admin.websockets, False)
        assert await closed_code(ws) == 1001  # open sockets are closed
    with pytest.raises((websockets.InvalidStatus, websockets.ConnectionClosed)):
        async with connect(fsim) as ws:
            await ws.recv()
    assert (await get(fsim, "/iserver/accounts")).status_code == 200
    assert fsim.admin.state()["faults"]["websockets"] is False
    await asyncio.to_thread(fsim.admin.websockets, True)
    async with connect(fsim) as ws:
        await until(ws, topic("system"))


def test_sor_mode_is_validated(fsim: SimServer) -> None:
    with pytest.raises(ConfigError, match="sor_mode"):
        SimServer(sor_mode="quiet")
    with pytest.raises(ValueError, match="sor_mode"):
        fsim.admin.config(sor_mode="quiet")
    with pytest.raises(ValueError, match="order_notifications"):
        fsim.admin.config(order_notifications="yes")
    assert fsim.admin.config(sor_mode="silent")["sor_mode"] == "silent"
    fsim.admin.reset()
    assert fsim.admin.state()["sor"]["mode"] == "silent"  # an option, not state: survives reset


def test_cli_sim_passes_sor_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from axion_broker_ibkr import cli, sim

    seen: dict[str, Any] = {}
    monkeypatch.setattr(sim, "serve", lambda **kwargs: seen.update(kwargs) or 0)
    args = cli.build_parser().parse_args(["sim", "--port", "0", "--sor-mode", "silent"])
    assert args.func(args) == 0
    assert seen["sor_mode"] == "silent"
    default = cli.build_parser().parse_args(["sim"])
    assert default.sor_mode == "stops_after_filter"
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["sim", "--sor-mode", "quiet"])
