"""A scripted stand-in for the gateway's WebSocket and the REST calls the stream makes.

Used to test the stream's connection logic deterministically (close, auth loss, competing session,
silent heartbeats, expired ``smd``) over a real loopback socket. The simulator tests
(``test_sim.py``) cover the same faults against ``axion_broker_ibkr.sim``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from axion_broker_ibkr import models as m
from axion_broker_ibkr.wire import convert

log = logging.getLogger(__name__)


class FakeGateway:
    """WebSocket side: heartbeats, ``smd`` ticks for subscribed conids, ``sor``/``spl``/``str`` on demand."""

    def __init__(self, hb_interval: float = 0.05, tick_interval: float = 0.02) -> None:
        self.hb_interval = hb_interval
        self.tick_interval = tick_interval
        self.heartbeats = True
        self.quotes_flowing = True
        self.authenticated = True
        self.competing = False
        self.session = "abcdef0123456789"
        self.received: list[list[str]] = []  # per connection, text frames received
        self.cookies: list[str | None] = []
        self.connections: list[ServerConnection] = []
        self.expired: set[int] = set()  # connection index whose smd subscriptions stopped
        self.orders: dict[int, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.price = 100.0
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/v1/api/ws"

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ------------------------------------------------------------------------------ faults

    async def close_all(self) -> None:
        for ws in list(self.connections):
            await ws.close()

    async def broadcast(self, frame: dict[str, Any]) -> None:
        for ws in list(self.connections):
            with contextlib.suppress(Exception):
                await ws.send(json.dumps(frame))

    async def drop_session(self) -> None:
        self.authenticated = False
        await self.broadcast({"topic": "sts", "args": {"authenticated": False}})

    async def compete(self) -> None:
        self.authenticated = False
        self.competing = True
        await self.broadcast({"topic": "sts", "args": {"competing": True}})

    def expire_quotes(self) -> None:
        """Like IBKR's 15-minute expiry: current smd subscriptions go quiet until re-sent."""
        self.expired.update(range(len(self.received)))

    async def fill(self, order_id: int, qty: float, price: float, *, notify: bool = True) -> None:
        order = self.orders[order_id]
        order["filledQuantity"] = order.get("filledQuantity", 0.0) + qty
        order["remainingQuantity"] = order["totalSize"] - order["filledQuantity"]
        order["status"] = "Filled" if order["remainingQuantity"] <= 0 else "Submitted"
        order["avgPrice"] = str(price)
        exec_id = f"exec.{order_id}.{len(self.trades)}"
        trade = {"execution_id": exec_id, "order_id": order_id, "conid": order["conid"], "size": qty,
                 "price": str(price), "side": "B", "order_ref": order.get("order_ref")}  # fmt: skip
        self.trades.append(trade)
        if notify:
            delta = {
                k: order[k] for k in ("orderId", "status", "filledQuantity", "remainingQuantity", "avgPrice")
            }
            await self.broadcast({"topic": "sor", "args": [{**delta, "acct": "DU1234567"}]})
            await self.broadcast({"topic": "str", "args": [trade]})
            await self.broadcast({"topic": "spl", "args": {"DU1234567.Core": {"upl": qty * 1.5}}})

    # -------------------------------------------------------------------------- connection

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.received)
        self.received.append([])
        self.cookies.append(ws.request.headers.get("Cookie") if ws.request else None)
        self.connections.append(ws)
        subs: dict[int, float] = {}
        tasks = [asyncio.create_task(self._heartbeat(ws)), asyncio.create_task(self._ticks(ws, index, subs))]
        try:
            await ws.send(json.dumps({"message": "waiting for session"}))
            async for frame in ws:
                assert isinstance(frame, str)
                self.received[index].append(frame)
                await self._on_frame(ws, index, frame, subs)
        except Exception as exc:  # a closed socket ends the handler
            log.debug("fake gateway handler ended: %s", exc)
        finally:
            for task in tasks:
                task.cancel()
            self.connections.remove(ws)

    async def _on_frame(self, ws: ServerConnection, index: int, frame: str, subs: dict[int, float]) -> None:
        if frame.startswith("{"):
            if json.loads(frame).get("session") == self.session:
                await ws.send(json.dumps({"topic": "system", "success": "testuser"}))
                await ws.send(json.dumps({"topic": "sts", "args": {"authenticated": self.authenticated}}))
                await ws.send(json.dumps({"topic": "act", "args": {"selectedAccount": "DU1234567"}}))
            return
        topic = frame.split("+", 1)[0]
        if topic == "smd":
            conid = int(frame.split("+")[1])
            subs[conid] = 1.0
            self.expired.discard(index)
        elif topic == "umd":
            subs.pop(int(frame.split("+")[1]), None)
        elif topic == "sor":
            await ws.send(json.dumps({"topic": "sor", "args": list(self.orders.values())}))
        elif topic == "str":
            await ws.send(json.dumps({"topic": "str", "args": self.trades}))
        elif topic == "tic":
            await ws.send(json.dumps({"topic": "tic", "alive": True}))

    async def _heartbeat(self, ws: ServerConnection) -> None:
        n = 0
        while True:
            await asyncio.sleep(self.hb_interval)
            if self.heartbeats:
                n += 1
                await ws.send(json.dumps({"topic": "system", "hb": 1_700_000_000_000 + n}))

    async def _ticks(self, ws: ServerConnection, index: int, subs: dict[int, float]) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            if not self.quotes_flowing or index in self.expired or not self.authenticated:
                continue
            for conid in list(subs):
                self.price += 0.01
                await ws.send(
                    json.dumps({"topic": f"smd+{conid}", "conid": conid, "31": f"{self.price:.2f}"})
                )


class FakeClient:
    """The REST side the stream uses (:class:`StreamClient`), answering from the fake gateway."""

    def __init__(self, gw: FakeGateway) -> None:
        self.gw = gw
        self.calls: list[str] = []

    @property
    def ws_url(self) -> str:
        return self.gw.url

    @property
    def ssl_context(self) -> None:
        return None

    def _auth(self) -> m.AuthStatus:
        return m.AuthStatus(authenticated=self.gw.authenticated, competing=self.gw.competing, connected=True)

    async def tickle(self) -> m.Tickle:
        self.calls.append("tickle")
        return m.Tickle(session=self.gw.session, iserver=m.TickleIServer(auth_status=self._auth()))

    async def auth_status(self) -> m.AuthStatus:
        self.calls.append("auth_status")
        return self._auth()

    async def init_session(self, *, compete: bool = True) -> m.AuthStatus:
        self.calls.append(f"init_session(compete={compete})")
        self.gw.authenticated = True
        self.gw.competing = False
        return self._auth()

    async def live_orders(self) -> list[m.Order]:
        self.calls.append("live_orders")
        return [convert.structure(o, m.Order) for o in self.gw.orders.values()]

    async def trades(self, *, days: int | None = None) -> list[m.Trade]:
        self.calls.append(f"trades(days={days})")
        return [convert.structure(t, m.Trade) for t in self.gw.trades]
