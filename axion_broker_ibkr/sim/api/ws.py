"""The WebSocket ``/v1/api/ws`` (REFERENCE §6): session binding, unsolicited frames and topics.

Every connection keeps what it last sent per order / conid, so ``smd`` and ``sor`` frames after
the first carry only the fields that changed, exactly as the gateway's deltas.

``smd`` subscriptions expire like the gateway's: ``state.smd_ttl_s`` (sim clock, default 15 minutes,
``/sim/config``) after the client last (re)sent them they silently stop producing frames; re-sending
``smd+conid+{...}`` renews them (REFERENCE §6.4: re-subscribe).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ...errors import HistoryError
from ..engine.history import build_history
from ..engine.paper_market import fmt_price, fmt_size
from .account_views import ledger, pnl_row, summary
from .http import Api
from .snapshot_fields import render_fields
from .state import USER_NAME
from .wire import live_order, order_description, trade
from .ws_frames import (
    SLD_NAMES,
    ntf_frame,
    order_notice_text,
    parse_message,
    session_from_cookie,
    ssd_key,
)

log = logging.getLogger(__name__)
BROKERAGE_TOPICS = {"smd", "smh", "sbd", "sor", "str"}
#: Streaming history subscriptions one socket may hold (REFERENCE §6.3: "max 5 concurrent").
MAX_SMH = 5
SMD_DEFAULT_FIELDS = ["31", "84", "86", "85", "88", "7059", "6509"]
SPL_INTERVAL_S = 1.0
#: close code for a socket whose client presented another session token (policy violation).
CLOSE_INVALID_SESSION = 1008


class Connection:
    def __init__(self, api: Api, ws: WebSocket, heartbeat_interval: float) -> None:
        self.api = api
        self.ws = ws
        self.heartbeat_interval = heartbeat_interval
        self.outbox: asyncio.Queue[dict[str, Any] | str | None] = asyncio.Queue()
        self.smd: dict[int, tuple[str, list[str]]] = {}  # conid -> (conidEx, fields)
        self.smd_sent: dict[int, dict[str, Any]] = {}
        self.smd_renewed: dict[int, float] = {}  # conid -> sim time the client last (re)sent smd
        self.sor = False
        self.sor_sent: dict[int, dict[str, Any]] = {}
        self.ntf_status: dict[int, str] = {}  # order id -> status last announced with ntf
        self.str_sub = False
        self.spl = False
        self.sld: dict[str, tuple[list[str], list[str]]] = {}  # acct -> (keys, fields)
        self.sld_sent: dict[str, dict[str, Any]] = {}
        self.ssd: dict[str, tuple[list[str], list[str]]] = {}
        self.sbd: dict[tuple[str, int], str] = {}
        self.smh: dict[str, int] = {}  # serverId -> conid
        self.smh_counter = 0
        self.closing = False
        self.close_code = 1001
        self.next_sld = 0.0

    # -- sending ----------------------------------------------------------------------------------

    def send(self, frame: dict[str, Any] | str) -> None:
        if not self.closing:
            self.outbox.put_nowait(frame)

    def close(self, code: int = 1001) -> None:
        """Close after what is already queued has been sent."""
        if not self.closing:
            self.close_code = code
        self.closing = True
        self.outbox.put_nowait(None)

    async def writer(self) -> None:
        while True:
            frame = await self.outbox.get()
            if frame is None:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=self.close_code)
                return
            if isinstance(frame, str):
                await self.ws.send_text(frame)
            else:
                await self.ws.send_text(json.dumps(frame))

    # -- events from the state --------------------------------------------------------------------

    def on_event(self, kind: str, obj: Any) -> None:
        state = self.api.state
        if kind in {"logout", "close_websockets", "reset"}:
            self.close()
        elif kind == "sts":
            self.send({"topic": "sts", "args": obj})
        elif kind == "order" and state.session.authenticated:
            if self.sor and self._sor_flows():
                self._send_order(obj)
            self._notify_order(obj)
        elif kind == "ntf" and state.session.authenticated:
            self.send(obj)  # admin /sim/notify (ntf and blt need the brokerage session, REFERENCE §6.1)
        elif kind == "blt" and state.session.authenticated:
            self.send(obj)
        elif kind == "trade" and self.str_sub and state.session.authenticated:
            self.send({"topic": "str", "args": [trade(obj, for_ws=True)]})
        elif kind == "market":
            self._expire_smd()  # expiry runs on the sim clock, authenticated or not
            if not state.session.authenticated:
                return
            for conid in list(self.smd):
                self._send_smd(conid)
            for (acct, conid), topic in list(self.sbd.items()):
                self._send_sbd(acct, conid, topic)

    def _sor_flows(self) -> bool:
        """Whether ``sor`` frames are sent at all now (``state.sor_mode``, see ``SOR_MODES``)."""
        state = self.api.state
        if state.sor_mode == "silent":
            return False
        return state.sor_mode == "unaffected" or not state.session.sor_suppressed

    def _notify_order(self, order: Any) -> None:
        """An ``ntf`` when an order's status changes (whether or not ``sor`` is subscribed: ``ntf``
        is unsolicited). Issue 16.2: the build 10.46 capture shows only ``ntf`` frames for orders."""
        state = self.api.state
        if not state.order_notifications or self.ntf_status.get(order.order_id) == order.status:
            return
        self.ntf_status[order.order_id] = order.status
        title, text = order_notice_text(order.order_id, order_description(order), order.status)
        self.send(ntf_frame(state.next_ntf_id(), text, title))

    def _expire_smd(self) -> None:
        """Drop quote subscriptions not renewed by the client within ``smd_ttl_s`` (silently)."""
        state = self.api.state
        now = state.clock.now()
        for conid, renewed in list(self.smd_renewed.items()):
            if now - renewed >= state.smd_ttl_s:
                self._drop_smd(conid)
                state.ws_counts["smd_expired"] += 1
                log.debug("smd+%s expired (not renewed for %.0fs)", conid, now - renewed)

    def _drop_smd(self, conid: int) -> None:
        self.smd.pop(conid, None)
        self.smd_sent.pop(conid, None)
        self.smd_renewed.pop(conid, None)

    def describe(self) -> dict[str, Any]:
        """What ``GET /sim/state`` shows of this socket: its subscriptions and when ``smd`` ones expire."""
        ttl = self.api.state.smd_ttl_s
        return {
            "smd": {
                str(conid): {
                    "conidEx": conid_ex,
                    "fields": list(fields),
                    "renewed_ms": int(self.smd_renewed[conid] * 1000),
                    "expires_ms": int((self.smd_renewed[conid] + ttl) * 1000),
                }
                for conid, (conid_ex, fields) in self.smd.items()
                if conid in self.smd_renewed
            },
            "sor": self.sor,
            "str": self.str_sub,
            "spl": self.spl,
            "sld": sorted(self.sld),
            "ssd": sorted(self.ssd),
            "sbd": sorted(self.sbd.values()),
        }

    def _send_order(self, order: Any) -> None:
        full = live_order(order, for_ws=True)
        last = self.sor_sent.get(order.order_id)
        self.sor_sent[order.order_id] = full
        if last is None:
            self.send({"topic": "sor", "args": [full]})
            return
        delta = {k: v for k, v in full.items() if last.get(k) != v}
        if delta:
            delta.update({"orderId": order.order_id, "acct": order.account})
            self.send({"topic": "sor", "args": [delta]})

    def _send_smd(self, conid: int) -> None:
        state = self.api.state
        inst = state.universe.get(conid)
        if inst is None:
            return
        conid_ex, fields = self.smd[conid]
        state.session.md_streams[conid] = state.clock.now()
        quote = state.market.quote(conid)
        values: dict[str, Any] = render_fields(inst, quote, fields)
        values.update({"6119": "q0", "6509": "RpB", "server_id": "q0"})
        last = self.smd_sent.get(conid)
        self.smd_sent[conid] = values
        topic = f"smd+{conid_ex}"
        if last is None:
            self.send(
                {**values, "_updated": quote.updated_ms, "conid": conid, "conidEx": conid_ex, "topic": topic}
            )
            return
        delta = {k: v for k, v in values.items() if last.get(k) != v}
        if delta:
            self.send({**delta, "_updated": quote.updated_ms, "conid": conid, "topic": topic})

    def _send_sbd(self, acct: str, conid: int, topic: str) -> None:
        state = self.api.state
        inst = state.universe.get(conid)
        if inst is None:
            return
        q = state.market.quote(conid)
        rows: list[dict[str, Any]] = []
        levels = 5
        for i in range(levels, 0, -1):
            price = q.ask + (i - 1) * inst.tick
            rows.append({"price": fmt_price(inst, price), "ask": fmt_size(q.ask_size * i)})
        rows.append({"price": f"{fmt_size(q.last_size)} @ {fmt_price(inst, q.last)}", "focus": 1})
        for i in range(1, levels + 1):
            price = q.bid - (i - 1) * inst.tick
            rows.append({"price": fmt_price(inst, price), "bid": fmt_size(q.bid_size * i)})
        data = [{"row": n, "focus": r.pop("focus", 0), **r} for n, r in enumerate(rows)]
        self.send({"topic": topic, "data": data})

    # -- periodic frames ----------------------------------------------------------------------------

    async def ticker(self) -> None:
        state = self.api.state
        loop = asyncio.get_running_loop()
        next_hb = loop.time() + self.heartbeat_interval
        next_spl = loop.time()
        while not self.closing:
            await asyncio.sleep(min(0.2, self.heartbeat_interval))
            now = loop.time()
            if now >= next_hb:
                next_hb = now + self.heartbeat_interval
                if state.faults.heartbeats:
                    self.send({"topic": "system", "hb": state.clock.now_ms()})
            if self.spl and now >= next_spl:
                next_spl = now + SPL_INTERVAL_S
                self._send_spl()
            if (self.sld or self.ssd) and now >= self.next_sld:
                self.next_sld = now + self.heartbeat_interval  # both 10 s by default, as documented
                for acct in list(self.sld):
                    self._send_sld(acct)
                for acct in list(self.ssd):
                    self._send_ssd(acct)

    def _send_spl(self) -> None:
        state = self.api.state
        # The same row as REST P&L: ``el`` (REFERENCE §2, the REST example) and ``uel`` (§6.3, the
        # spl field list) both; readers of either form find theirs (issue 16.6).
        rows = {f"{a}.Core": pnl_row(acc, state.market) for a, acc in state.accounts.items()}
        self.send({"topic": "spl", "args": rows})

    def _send_sld(self, acct: str) -> None:
        state = self.api.state
        keys, fields = self.sld[acct]
        entries = ledger(state.accounts[acct], state.market, int(state.clock.now()))
        result: list[dict[str, Any]] = []
        wanted_fields = {f.lower() for f in fields}
        for ccy, entry in sorted(entries.items(), key=lambda kv: kv[0] != "BASE"):
            key = f"LedgerList{ccy}"
            if keys and key not in keys:
                continue
            full = {SLD_NAMES[k]: v for k, v in entry.items() if k in SLD_NAMES}
            if wanted_fields:
                full = {k: v for k, v in full.items() if k.lower() in wanted_fields}
            previous = self.sld_sent.get(key)
            self.sld_sent[key] = full
            if previous == full:
                result.append({"key": key, "timestamp": entry["timestamp"]})
            else:
                result.append({**full, "key": key, "timestamp": entry["timestamp"]})
        self.send({"result": result, "topic": f"sld+{acct}"})

    def _send_ssd(self, acct: str) -> None:
        state = self.api.state
        keys, _fields = self.ssd[acct]
        values = summary(state.accounts[acct], state.market, state.clock.now_ms())
        result = []
        for name, value in values.items():
            wire_key = ssd_key(name)
            if keys and wire_key.lower() not in {k.lower() for k in keys}:
                continue
            item = {
                "key": wire_key,
                "timestamp": value["timestamp"],
                "currency": value["currency"],
                "severity": 0,
            }
            if value["value"] is not None:
                item["value"] = value["value"]
            else:
                item["monetaryValue"] = value["amount"]
            result.append(item)
        self.send({"result": result, "topic": f"ssd+{acct}"})

    # -- client messages ------------------------------------------------------------------------------

    def handle(self, text: str) -> None:
        state = self.api.state
        if text == "tic":
            self.send(
                {
                    "topic": "tic",
                    "alive": True,
                    "id": state.session.token,
                    "lastAccessed": state.clock.now_ms(),
                }
            )
            return
        if text == "ech+hb":
            self.send("ech+hb")
            return
        if text.startswith("{"):
            self._on_json(text)
            return
        topic, targets, args = parse_message(text)
        if topic in BROKERAGE_TOPICS and not state.session.authenticated:
            self.send({"error": f"{topic}: brokerage session not authenticated", "topic": topic})
            return
        handler = getattr(self, f"_on_{topic}", None)
        if handler is None:
            self.send({"error": f"unknown topic {topic!r}"})
            return
        handler(targets, args)

    def _on_json(self, text: str) -> None:
        """A bare JSON frame: only ``{"session": ...}`` is one (REFERENCE §6.1), accepted at any time.

        Clients are told to send the ``api`` cookie AND a ``{"session": ...}`` first frame, so a
        socket the cookie bound sees the frame after binding: with the bound token it is a no-op.
        """
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or "session" not in data:
            self.send({"error": 'unrecognised frame: expected TOPIC+TARGET+{JSON} or {"session": ...}'})
            return
        if secrets.compare_digest(str(data["session"]), self.api.state.session.token):
            return
        # What the real gateway does with a second, different token is undocumented. The simulator
        # treats it like a wrong token at bind time: error frame, then close (1008). A socket is never
        # bound to two sessions, and a client holding a stale token finds out at once and reconnects
        # with a fresh /tickle session instead of streaming on a binding it no longer believes in.
        # Clients should tolerate both readings (error and close, or error only).
        self.send({"error": "invalid session"})
        self.close(CLOSE_INVALID_SESSION)

    def _on_smd(self, targets: list[str], args: dict[str, Any]) -> None:
        if not targets:
            self.send({"error": "smd needs a conid"})
            return
        conid_ex = targets[0]
        try:
            conid = int(conid_ex.split("@")[0])
        except ValueError:
            self.send({"error": f"smd: invalid conid {conid_ex!r}"})
            return
        if self.api.state.universe.get(conid) is None:
            self.send({"error": f"smd: unknown conid {conid}"})
            return
        fields = [str(f) for f in args.get("fields", [])] or SMD_DEFAULT_FIELDS
        known = self.smd.get(conid)
        if known:  # re-sending with more fields extends the subscription
            fields = list(dict.fromkeys(known[1] + fields))
        self.smd[conid] = (conid_ex, fields)
        self.smd_renewed[conid] = self.api.state.clock.now()  # (re)sending renews the subscription
        self.smd_sent.pop(conid, None)
        self._send_smd(conid)

    def _on_umd(self, targets: list[str], args: dict[str, Any]) -> None:
        for t in targets:
            with contextlib.suppress(ValueError):
                self._drop_smd(int(t.split("@")[0]))

    def _on_smh(self, targets: list[str], args: dict[str, Any]) -> None:
        """Streaming history (REFERENCE §6.3): the history object as REST answers it, plus ``serverId``
        and ``topic``, sent once; the subscription holds one of 5 slots until ``umh+{serverId}``.
        The simulator sends no later bar updates (the reference documents one answer)."""
        conid_text = targets[0].split("@")[0] if targets else ""
        inst = self.api.state.universe.get(int(conid_text)) if conid_text.isdigit() else None
        if inst is None:
            self.send({"error": f"smh: unknown conid {conid_text!r}", "topic": f"smh+{conid_text}"})
            return
        topic = f"smh+{targets[0]}"
        if len(self.smh) >= MAX_SMH:
            # Simulator's own wording: the limit is documented, the gateway's answer to a sixth is not.
            self.send({"error": f"smh: at most {MAX_SMH} concurrent history subscriptions", "topic": topic})
            return
        try:
            data = build_history(
                self.api.state.market,
                inst,
                str(args.get("bar") or "1d"),
                str(args.get("period") or "1d"),
                # REFERENCE §6.3 spells it outsideRth; ibind 0.2.2 sends outside_rth: both.
                bool(args.get("outsideRth", args.get("outside_rth", False))),
                None,
            )
        except HistoryError as exc:
            self.send({"error": exc.message, "topic": topic})
            return
        self.smh_counter += 1
        server_id = f"{inst.conid % 100000}{self.smh_counter:03d}"
        self.smh[server_id] = inst.conid
        data.pop("serverid", None)
        self.send({**data, "serverId": server_id, "topic": topic})

    def _on_umh(self, targets: list[str], args: dict[str, Any]) -> None:
        server_id = targets[0] if targets else ""
        if self.smh.pop(server_id, None) is None:
            self.send({"error": f"umh: no history subscription {server_id!r}"})
            return
        # ibind's websocket client reads the id back from this topic-less message (REFERENCE §6.3).
        self.send({"message": f"Unsubscribed {server_id}"})

    def _on_sor(self, targets: list[str], args: dict[str, Any]) -> None:
        self.sor = True
        self.sor_sent.clear()
        state = self.api.state
        orders = [o for o in state.engine.orders.values() if state.engine.visible(o)]
        if orders and self._sor_flows():
            full = [live_order(o, for_ws=True) for o in orders]
            for o, f in zip(orders, full, strict=True):
                self.sor_sent[o.order_id] = f
            self.send({"topic": "sor", "args": full})

    def _on_uor(self, targets: list[str], args: dict[str, Any]) -> None:
        self.sor = False

    def _on_str(self, targets: list[str], args: dict[str, Any]) -> None:
        self.str_sub = True
        if args.get("realtimeUpdatesOnly"):
            return
        state = self.api.state
        days = int(args.get("days", 1) or 1)
        cutoff = state.clock.now_ms() - days * 86400 * 1000
        backfill = [trade(e, for_ws=True) for e in state.engine.executions if e.time_ms >= cutoff]
        self.send({"topic": "str", "args": backfill})

    def _on_utr(self, targets: list[str], args: dict[str, Any]) -> None:
        self.str_sub = False

    def _on_spl(self, targets: list[str], args: dict[str, Any]) -> None:
        self.spl = True
        self._send_spl()

    def _on_upl(self, targets: list[str], args: dict[str, Any]) -> None:
        self.spl = False

    def _account_target(self, topic: str, targets: list[str]) -> str | None:
        state = self.api.state
        acct = targets[0] if targets else state.session.selected_account
        if acct not in state.accounts:
            self.send({"error": f"{topic}: unknown account {acct!r}"})
            return None
        return acct

    def _on_sld(self, targets: list[str], args: dict[str, Any]) -> None:
        acct = self._account_target("sld", targets)
        if acct:
            self.sld[acct] = _keys_and_fields(args)
            self.sld_sent.clear()
            self.next_sld = asyncio.get_running_loop().time() + self.heartbeat_interval
            self._send_sld(acct)

    def _on_uld(self, targets: list[str], args: dict[str, Any]) -> None:
        self.sld.clear()
        self.send({"result": "unsubscribed from ledger"})

    def _on_ssd(self, targets: list[str], args: dict[str, Any]) -> None:
        acct = self._account_target("ssd", targets)
        if acct:
            self.ssd[acct] = _keys_and_fields(args)
            self._send_ssd(acct)

    def _on_usd(self, targets: list[str], args: dict[str, Any]) -> None:
        self.ssd.clear()
        self.send({"result": "unsubscribed from summary"})

    def _on_sbd(self, targets: list[str], args: dict[str, Any]) -> None:
        if len(targets) < 2:
            self.send({"error": "sbd needs sbd+{acctId}+{conid}"})
            return
        acct = self._account_target("sbd", targets)
        try:
            conid = int(targets[1])
        except ValueError:
            self.send({"error": f"sbd: invalid conid {targets[1]!r}"})
            return
        if acct is None or self.api.state.universe.get(conid) is None:
            self.send({"error": f"sbd: unknown conid {conid}"})
            return
        topic = f"sbd+{acct}+{conid}"
        self.sbd[(acct, conid)] = topic
        self._send_sbd(acct, conid, topic)

    def _on_ubd(self, targets: list[str], args: dict[str, Any]) -> None:
        acct = targets[0] if targets else None
        for key in [k for k in self.sbd if acct is None or k[0] == acct]:
            del self.sbd[key]


async def _bind(api: Api, ws: WebSocket, conn: Connection) -> bool:
    """REFERENCE §6.1: the ``api`` cookie, else a first ``{"session": ...}`` frame."""
    token = api.state.session.token
    cookie = session_from_cookie(ws.cookies.get("api"))
    if cookie is not None:
        if cookie != token:
            await ws.send_text(json.dumps({"error": "invalid session"}))
            await ws.close(code=CLOSE_INVALID_SESSION)
            return False
        return True
    await ws.send_text(json.dumps({"message": "waiting for session"}))
    first = await ws.receive_text()
    try:
        data = json.loads(first) if first.startswith("{") else None
    except ValueError:
        data = None
    if isinstance(data, dict) and "session" in data:
        if data["session"] != token:
            await ws.send_text(json.dumps({"error": "invalid session"}))
            await ws.close(code=CLOSE_INVALID_SESSION)
            return False
        return True
    if api.state.oauth is not None:
        # api.ibkr.com has no local gateway session to fall back on: the socket needs the session.
        await ws.send_text(json.dumps({"error": "invalid session"}))
        await ws.close(code=CLOSE_INVALID_SESSION)
        return False
    # Variant 3 of REFERENCE §6.1: through the local gateway, clients without cookie or session
    # frame are bound to the gateway's own session; their first frame is a normal message.
    conn.handle(first)
    return True


async def websocket_endpoint(api: Api, ws: WebSocket, heartbeat_interval: float) -> None:
    state = api.state
    if not state.session.sso:
        await ws.close(code=1008)  # no SSO session: the upgrade is refused
        return
    oauth = state.oauth
    if oauth is not None and not secrets.compare_digest(
        ws.query_params.get("oauth_token", ""), oauth.access_token
    ):
        # REFERENCE §6.1: wss://api.ibkr.com/v1/api/ws?oauth_token=<access token> (+ the api cookie)
        await ws.close(code=1008)
        return
    if not state.faults.websockets:
        await ws.close(code=1013)  # fault /sim/websockets {"up": false}: refused, REST still answers
        return
    await ws.accept()
    conn = Connection(api, ws, heartbeat_interval)
    unsubscribe = state.subscribe(conn.on_event)
    api.connections.add(conn)
    writer = asyncio.create_task(conn.writer())
    ticker: asyncio.Task[None] | None = None
    try:
        if not await _bind(api, ws, conn):
            return
        conn.send({"topic": "system", "success": USER_NAME, "isFT": False, "isPaper": True})
        conn.send(
            {
                "topic": "sts",
                "args": {
                    "authenticated": state.session.authenticated,
                    "competing": state.session.competing,
                    "message": "",
                    "fail": "",
                    "serverName": "AxionSim1",
                    "username": USER_NAME,
                },
            }
        )
        conn.send({"topic": "act", "args": state.iserver_accounts()})
        ticker = asyncio.create_task(conn.ticker())
        while not conn.closing:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", "replace")
            if text:
                conn.handle(text.strip())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        unsubscribe()
        api.connections.discard(conn)
        conn.closing = True
        if ticker is not None:
            ticker.cancel()
        conn.outbox.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer, 2.0)
        if ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


def _keys_and_fields(args: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The ``keys`` / ``fields`` lists of an ``sld`` / ``ssd`` subscription's arguments."""
    return [str(k) for k in args.get("keys", [])], [str(f) for f in args.get("fields", [])]
