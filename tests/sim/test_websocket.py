"""The WebSocket (REFERENCE §6): session binding, unsolicited frames, topics and their deltas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from axion_broker_ibkr.sim import SimServer

from .conftest import AAPL, ACCT, IBM, trust

Frame = dict[str, Any]


async def rest(sim: SimServer) -> str:
    """Prepare a session the way a client does; returns the tickle ``session``."""
    async with httpx.AsyncClient(base_url=sim.base_url, verify=trust(sim)) as client:
        await client.get("/iserver/accounts")
        await client.post(
            "/iserver/questions/suppress", json={"messageIds": ["o163", "o354", "o10151", "o403"]}
        )
        return str((await client.post("/tickle", json={})).json()["session"])


@asynccontextmanager
async def connect(sim: SimServer, cookie: str | None = "json") -> AsyncIterator[ClientConnection]:
    session = await rest(sim)
    headers = {}
    if cookie == "json":
        headers["Cookie"] = "api=" + json.dumps({"session": session}, separators=(",", ":"))
    elif cookie == "encoded":
        headers["Cookie"] = "api=" + quote(json.dumps({"session": session}))
    elif cookie == "bare":
        headers["Cookie"] = f"api={session}"
    elif cookie is not None:
        headers["Cookie"] = f"api={cookie}"
    async with websockets.connect(sim.ws_url, ssl=trust(sim), additional_headers=headers) as ws:
        yield ws


async def until(ws: ClientConnection, want: Callable[[Frame], bool], seconds: float = 10) -> Frame:
    async with asyncio.timeout(seconds):
        while True:
            raw = await ws.recv()
            frame = json.loads(raw)
            if isinstance(frame, dict) and want(frame):
                return frame


def topic(name: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("topic") == name


async def order(sim: SimServer, body: Frame) -> Any:
    async with httpx.AsyncClient(base_url=sim.base_url, verify=trust(sim)) as client:
        return (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [body]})).json()


@pytest.mark.parametrize("cookie", ["json", "encoded", "bare"])
async def test_cookie_forms_bind_and_send_system_sts_act(fsim: SimServer, cookie: str) -> None:
    async with connect(fsim, cookie) as ws:
        system = await until(ws, topic("system"))
        assert system["success"] == "simuser1"
        sts = await until(ws, topic("sts"))
        assert sts["args"]["authenticated"] is True
        act = await until(ws, topic("act"))
        assert act["args"]["selectedAccount"] == ACCT
        assert act["args"]["accounts"] == ["DU1234567", "DU7654321"]


async def test_first_frame_session_binds(fsim: SimServer) -> None:
    async with connect(fsim, cookie=None) as ws:
        assert json.loads(await ws.recv()) == {"message": "waiting for session"}
        session = await rest(fsim)
        await ws.send(json.dumps({"session": session}))
        assert (await until(ws, topic("system")))["success"] == "simuser1"


async def test_wrong_session_is_refused(fsim: SimServer) -> None:
    async with connect(fsim, cookie="0123456789abcdef") as ws:
        assert json.loads(await ws.recv()) == {"error": "invalid session"}
        with pytest.raises(websockets.ConnectionClosed):
            await until(ws, lambda f: True)


async def test_no_sso_session_refuses_the_upgrade(fsim: SimServer) -> None:
    fsim.admin.logout()
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(fsim.ws_url, ssl=trust(fsim)):
            pass


async def test_heartbeats_and_tic(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(heartbeat_interval=0.2)
    async with connect(sim) as ws:
        hb = await until(ws, lambda f: f.get("topic") == "system" and "hb" in f)
        assert isinstance(hb["hb"], int)
        await ws.send("tic")
        tic = await until(ws, topic("tic"))
        assert tic["alive"] is True
        assert tic["id"] == await rest(sim)
        await ws.send("ech+hb")
        async with asyncio.timeout(10):
            while (await ws.recv()) != "ech+hb":
                pass


async def test_smd_first_frame_full_then_deltas_and_unsubscribe(fsim: SimServer) -> None:
    fsim.admin.pause_market()
    async with connect(fsim) as ws:
        await ws.send(f'smd+{AAPL}+{{"fields":["31","84","86","55","7051"]}}')
        first = await until(ws, topic(f"smd+{AAPL}"))
        assert {"31", "84", "86", "55", "7051", "conid", "_updated"} <= set(first)
        await asyncio.to_thread(fsim.admin.set_price, AAPL, float(first["31"]) + 1.0)
        delta = await until(ws, topic(f"smd+{AAPL}"))
        assert float(delta["31"]) == float(first["31"]) + 1.0
        assert "55" not in delta  # unchanged fields are not repeated
        assert "7051" not in delta
        await ws.send(f"umd+{AAPL}+{{}}")
        await asyncio.to_thread(fsim.admin.set_price, AAPL, 123.45)
        await ws.send("tic")
        frame = await until(ws, lambda f: f.get("topic") in {"tic", f"smd+{AAPL}"})
        assert frame["topic"] == "tic"


async def test_sor_full_order_then_deltas(fsim: SimServer) -> None:
    fsim.admin.pause_market()
    fsim.admin.set_price(AAPL, 200.0)
    async with connect(fsim) as ws:
        await ws.send("sor+{}")
        placed = await order(
            fsim, {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 150, "quantity": 5}
        )
        order_id = int(placed[0]["order_id"])
        full = await until(ws, lambda f: f.get("topic") == "sor" and f["args"][0].get("orderId") == order_id)
        assert full["args"][0]["ticker"] == "AAPL"
        assert full["args"][0]["price"] == 150
        async with httpx.AsyncClient(base_url=fsim.base_url, verify=trust(fsim)) as client:
            await client.delete(f"/iserver/account/{ACCT}/order/{order_id}")
        delta = await until(
            ws, lambda f: f.get("topic") == "sor" and f["args"][0].get("status") != "Submitted"
        )
        change = delta["args"][0]
        assert change["status"] == "PendingCancel"
        assert (change["orderId"], change["acct"]) == (order_id, ACCT)
        assert "ticker" not in change
        await asyncio.to_thread(fsim.admin.tick)
        final = await until(ws, topic("sor"))
        assert final["args"][0]["status"] == "Cancelled"


async def test_str_spl_sld_and_sbd(fsim: SimServer) -> None:
    async with connect(fsim) as ws:
        await ws.send('str+{"realtimeUpdatesOnly":true}')
        await ws.send("spl+{}")
        await ws.send(f"sld+{ACCT}+{{}}")
        await ws.send(f"sbd+{ACCT}+{IBM}")
        spl = await until(ws, topic("spl"))
        # el (the REST form) and uel (the spl field list) both (issue 16.6)
        assert set(spl["args"][f"{ACCT}.Core"]) == {"rowType", "dpl", "nl", "upl", "el", "uel", "mv"}
        sld = await until(ws, topic(f"sld+{ACCT}"))
        assert {e["key"] for e in sld["result"]} >= {"LedgerListBASE", "LedgerListUSD", "LedgerListEUR"}
        ladder = await until(ws, topic(f"sbd+{ACCT}+{IBM}"))
        rows = ladder["data"]
        assert [r["row"] for r in rows] == list(range(len(rows)))
        assert sum(r["focus"] for r in rows) == 1
        assert any("ask" in r for r in rows)
        assert any("bid" in r for r in rows)
        await order(fsim, {"conid": IBM, "side": "BUY", "orderType": "MKT", "quantity": 3})
        execution = await until(ws, topic("str"))
        assert execution["args"][0]["conid"] == IBM
        assert execution["args"][0]["side"] == "B"
        await ws.send(f"uld+{ACCT}+{{}}")
        assert (await until(ws, lambda f: "result" in f and isinstance(f["result"], str)))["result"] == (
            "unsubscribed from ledger"
        )


async def test_brokerage_topics_need_the_brokerage_session(fsim: SimServer) -> None:
    async with connect(fsim) as ws:
        await until(ws, topic("act"))
        await asyncio.to_thread(fsim.admin.drop_brokerage)
        sts = await until(ws, lambda f: f.get("topic") == "sts" and f["args"].get("authenticated") is False)
        assert sts["args"]["authenticated"] is False
        await ws.send(f"smd+{AAPL}+{{}}")
        refused = await until(ws, lambda f: "error" in f)
        assert "brokerage" in refused["error"]


async def test_competing_session_is_announced(fsim: SimServer) -> None:
    async with connect(fsim) as ws:
        await until(ws, topic("act"))
        await asyncio.to_thread(fsim.admin.competing, True)
        sts = await until(ws, lambda f: f.get("topic") == "sts" and "competing" in f["args"])
        assert sts["args"]["competing"] is True


@pytest.mark.parametrize("action", ["close_websockets", "logout"])
async def test_admin_closes_sockets(fsim: SimServer, action: str) -> None:
    async with connect(fsim) as ws:
        await until(ws, topic("act"))
        await asyncio.to_thread(getattr(fsim.admin, action))
        with pytest.raises(websockets.ConnectionClosed):
            await until(ws, lambda f: False)


async def test_stop_and_start_heartbeats(make_sim: Callable[..., SimServer]) -> None:
    interval = 0.1
    sim = make_sim(heartbeat_interval=interval)
    async with connect(sim) as ws:
        await until(ws, lambda f: "hb" in f)
        await asyncio.to_thread(sim.admin.stop_heartbeats)
        await ws.send("tic")
        await until(ws, topic("tic"))  # drains what was queued before the stop
        await asyncio.sleep(5 * interval)  # an absence needs a window: five heartbeats would have come
        await ws.send("tic")
        between = []
        async with asyncio.timeout(10):
            while (frame := json.loads(await ws.recv())).get("topic") != "tic":
                between.append(frame)
        assert not [f for f in between if "hb" in f]
        await asyncio.to_thread(sim.admin.start_heartbeats)
        assert "hb" in await until(ws, lambda f: "hb" in f)


async def test_ssd_account_summary(fsim: SimServer) -> None:
    async with connect(fsim) as ws:
        await ws.send(f'ssd+{ACCT}+{{"keys":["NetLiquidation","AccountCode"]}}')
        frame = await until(ws, topic(f"ssd+{ACCT}"))
        by_key = {item["key"]: item for item in frame["result"]}
        assert set(by_key) == {"NetLiquidation", "AccountCode"}
        assert by_key["AccountCode"]["value"] == ACCT
        assert by_key["NetLiquidation"]["monetaryValue"] > 0
        await ws.send(f"usd+{ACCT}+{{}}")
        done = await until(ws, lambda f: f.get("result") == "unsubscribed from summary")
        assert done["result"] == "unsubscribed from summary"


async def frames_until_tic(ws: ClientConnection) -> list[Frame]:
    """Send ``tic`` and return every frame that arrives before its answer (the server keeps order)."""
    await ws.send("tic")
    seen: list[Frame] = []
    async with asyncio.timeout(10):
        while (frame := json.loads(await ws.recv())).get("topic") != "tic":
            seen.append(frame)
    return seen


async def test_session_frame_after_the_cookie_is_accepted_silently(fsim: SimServer) -> None:
    async with connect(fsim) as ws:  # bound by the cookie; the recommended session frame follows
        await ws.send(json.dumps({"session": await rest(fsim)}))
        await until(ws, topic("act"))
        await ws.send(json.dumps({"session": await rest(fsim)}))  # and again, later: still fine
        between = await frames_until_tic(ws)
        assert not [f for f in between if "error" in f]
        await ws.send(f"smd+{AAPL}+{{}}")  # the socket still works
        assert (await until(ws, topic(f"smd+{AAPL}")))["conid"] == AAPL


async def test_session_frame_with_another_token_is_refused_and_closes(fsim: SimServer) -> None:
    async with connect(fsim) as ws:
        await until(ws, topic("act"))
        await ws.send(json.dumps({"session": "0123456789abcdef0123456789abcdef"}))
        assert (await until(ws, lambda f: "error" in f)) == {"error": "invalid session"}
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await until(ws, lambda f: False)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_json_frame_without_session_is_an_error(fsim: SimServer) -> None:
    async with connect(fsim) as ws:
        await until(ws, topic("act"))
        await ws.send('{"sessoin": "typo"}')
        assert "unrecognised frame" in (await until(ws, lambda f: "error" in f))["error"]


def smd_on_sim(sim: SimServer) -> dict[str, Any]:
    """The ``smd`` subscriptions of the simulator's only socket, as ``/sim/state`` shows them."""
    sockets = sim.admin.state()["websockets"]
    assert len(sockets) == 1, sockets
    smd: dict[str, Any] = sockets[0]["smd"]
    return smd


async def test_smd_expires_after_15_sim_minutes_unless_renewed(fsim: SimServer) -> None:
    fsim.admin.pause_market()  # quote frames only when the test moves a price
    fsim.admin.config(idle_timeout=10**9)  # keep the brokerage session across the clock jumps
    assert fsim.admin.config()["smd_ttl_s"] == 900
    async with connect(fsim) as ws:
        await ws.send(f'smd+{AAPL}+{{"fields":["31"]}}')
        await ws.send(f'smd+{IBM}+{{"fields":["31"]}}')
        await until(ws, topic(f"smd+{AAPL}"))
        await until(ws, topic(f"smd+{IBM}"))
        await asyncio.to_thread(fsim.admin.advance_clock, 10 * 60)
        await ws.send(f'smd+{AAPL}+{{"fields":["31"]}}')  # renews AAPL only
        assert "31" in await until(ws, topic(f"smd+{AAPL}"))  # a renewal starts with a full frame
        subs = await asyncio.to_thread(smd_on_sim, fsim)
        assert set(subs) == {str(AAPL), str(IBM)}
        assert subs[str(AAPL)]["renewed_ms"] > subs[str(IBM)]["renewed_ms"]
        assert subs[str(IBM)]["expires_ms"] - subs[str(IBM)]["renewed_ms"] == 900_000

        await asyncio.to_thread(fsim.admin.advance_clock, 5 * 60 + 1)  # IBM at 15m01s, AAPL at 5m01s
        assert set(await asyncio.to_thread(smd_on_sim, fsim)) == {str(AAPL)}
        assert fsim.admin.state()["ws_counts"] == {"smd_expired": 1}
        await frames_until_tic(ws)  # whatever the clock jump itself produced
        await asyncio.to_thread(fsim.admin.set_price, AAPL, 111.11)
        await asyncio.to_thread(fsim.admin.set_price, IBM, 111.11)
        topics = {f.get("topic") for f in await frames_until_tic(ws)}
        assert f"smd+{AAPL}" in topics
        assert f"smd+{IBM}" not in topics  # expired: silent, as the gateway's

        await ws.send(f'smd+{IBM}+{{"fields":["31"]}}')  # re-subscribing brings it back
        assert float((await until(ws, topic(f"smd+{IBM}")))["31"]) == 111.11


async def test_smd_ttl_is_configurable_and_validated(fsim: SimServer) -> None:
    fsim.admin.pause_market()
    assert fsim.admin.config(smd_ttl_s=60)["smd_ttl_s"] == 60
    with pytest.raises(ValueError, match="smd_ttl_s"):
        fsim.admin.config(smd_ttl_s=0)
    with pytest.raises(ValueError, match="smd_ttl_s"):
        fsim.admin.config(smd_ttl_s="soon")
    async with connect(fsim) as ws:
        await ws.send(f'smd+{AAPL}+{{"fields":["31"]}}')
        await until(ws, topic(f"smd+{AAPL}"))
        await asyncio.to_thread(fsim.admin.advance_clock, 59)
        assert set(await asyncio.to_thread(smd_on_sim, fsim)) == {str(AAPL)}
        await asyncio.to_thread(fsim.admin.advance_clock, 2)
        assert await asyncio.to_thread(smd_on_sim, fsim) == {}
