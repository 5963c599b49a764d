"""Fault injection and test controls under ``/sim/...`` (never under ``/v1/api``), and ``SimAdmin``.

All admin paths are POST with a JSON body (``{}`` when there is nothing to say) except
``GET /sim/state``. They are not paced, need no session and are not affected by injected faults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import AdminError
from ..engine.paper_accounts import Position
from .http import Api
from .state import SOR_MODES
from .ws_frames import blt_frame, ntf_frame

AdminHandler = Callable[[Api, dict[str, Any]], Awaitable[Any]]
ADMIN: dict[str, AdminHandler] = {}


def admin(name: str) -> Callable[[AdminHandler], AdminHandler]:
    def register(fn: AdminHandler) -> AdminHandler:
        ADMIN[name] = fn
        return fn

    return register


def _number(data: dict[str, Any], key: str, default: float | None = None) -> float:
    value = data.get(key, default)
    if value is None or isinstance(value, bool):
        raise AdminError(f"{key}: a number is required")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise AdminError(f"{key}: {value!r} is not a number") from exc


def _count(data: dict[str, Any], key: str) -> int:
    """A whole number of at least 1 (a page size, a number of strikes)."""
    value = int(_number(data, key))
    if value < 1:
        raise AdminError(f"{key}: must be at least 1")
    return value


def _flag(data: dict[str, Any], key: str, default: bool = False) -> bool:
    """A JSON true/false, nothing else (no 0/1, no strings)."""
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise AdminError(f"{key}: {value!r} is not true/false")
    return value


@admin("login")
async def _login(api: Api, data: dict[str, Any]) -> Any:
    s = api.state
    s.session.login(s.clock.now(), brokerage=bool(data.get("brokerage", True)))
    s.emit("sts", {"authenticated": s.session.authenticated})
    return {"sso": True, "brokerage": s.session.brokerage}


@admin("logout")
async def _logout(api: Api, data: dict[str, Any]) -> Any:
    api.state.session.logout()
    api.state.emit("logout", None)
    return {"sso": False}


@admin("drop_brokerage")
async def _drop(api: Api, data: dict[str, Any]) -> Any:
    api.state.session.drop_brokerage(timed_out=bool(data.get("timed_out", False)))
    api.state.emit("sts", {"authenticated": False})
    return {"brokerage": False}


@admin("competing")
async def _competing(api: Api, data: dict[str, Any]) -> Any:
    on = bool(data.get("on", True))
    s = api.state.session
    s.competing = on
    if on:
        s.brokerage = False
    api.state.emit("sts", {"competing": on})
    if on:
        api.state.emit("sts", {"authenticated": False})
    return {"competing": on}


@admin("fail")
async def _fail(api: Api, data: dict[str, Any]) -> Any:
    status = int(_number(data, "status", 503))
    if not 400 <= status <= 599:
        raise AdminError(f"status: {status} is not an HTTP error status")
    f = api.state.faults
    f.fail_status = status
    f.fail_count = int(_number(data, "count", 1))
    prefix = data.get("path_prefix")
    f.fail_prefix = str(prefix) if prefix else None
    return {"status": status, "count": f.fail_count, "path_prefix": f.fail_prefix}


@admin("latency")
async def _latency(api: Api, data: dict[str, Any]) -> Any:
    ms = _number(data, "ms")
    if ms < 0:
        raise AdminError("ms: must not be negative")
    api.state.faults.latency_ms = ms
    return {"ms": ms}


@admin("timeout_next_order")
async def _timeout(api: Api, data: dict[str, Any]) -> Any:
    """The next accepted order is booked but its answer is held back ``seconds`` (default 600;
    the server stopping always ends the stall)."""
    f = api.state.faults
    seconds = _number(data, "seconds", f.stall_s)
    if not (math.isfinite(seconds) and seconds > 0):
        raise AdminError(f"seconds: {seconds!r} is not a positive number of seconds")
    f.timeout_next_order = bool(data.get("on", True))
    f.stall_s = seconds
    return {"timeout_next_order": f.timeout_next_order, "seconds": seconds}


@admin("close_websockets")
async def _close_ws(api: Api, data: dict[str, Any]) -> Any:
    api.state.emit("close_websockets", None)
    return {"closed": True}


@admin("websockets")
async def _websockets(api: Api, data: dict[str, Any]) -> Any:
    """``{"up": false}``: open sockets close and new upgrades are refused (REST keeps answering)."""
    up = _flag(data, "up", True)
    api.state.faults.websockets = up
    if not up:
        api.state.emit("close_websockets", None)
    return {"websockets": up}


@admin("notify")
async def _notify(api: Api, data: dict[str, Any]) -> Any:
    """Send an ``ntf`` notification to every socket (``text`` required; ``title``, ``url``)."""
    text = data.get("text")
    if not isinstance(text, str) or not text:
        raise AdminError("text: a notification text is required")
    frame = ntf_frame(api.state.next_ntf_id(), text, str(data.get("title", "")), str(data.get("url", "")))
    api.state.emit("ntf", frame)
    return frame


@admin("bulletin")
async def _bulletin(api: Api, data: dict[str, Any]) -> Any:
    """Send a ``blt`` bulletin to every socket (``message`` required)."""
    message = data.get("message")
    if not isinstance(message, str) or not message:
        raise AdminError("message: a bulletin text is required")
    frame = blt_frame(api.state.next_ntf_id(), message)
    api.state.emit("blt", frame)
    return frame


@admin("stop_heartbeats")
async def _stop_hb(api: Api, data: dict[str, Any]) -> Any:
    api.state.faults.heartbeats = False
    return {"heartbeats": False}


@admin("start_heartbeats")
async def _start_hb(api: Api, data: dict[str, Any]) -> Any:
    api.state.faults.heartbeats = True
    return {"heartbeats": True}


@admin("advance_clock")
async def _advance(api: Api, data: dict[str, Any]) -> Any:
    seconds = _number(data, "seconds")
    if seconds < 0:
        raise AdminError("seconds: the clock only moves forward")
    api.state.advance(seconds)
    return {"now_ms": api.state.clock.now_ms(), "offset_s": api.state.clock.offset}


@admin("reset")
async def _reset(api: Api, data: dict[str, Any]) -> Any:
    api.state.reset()
    return {"reset": True}


@admin("fill")
async def _fill(api: Api, data: dict[str, Any]) -> Any:
    order_id = int(_number(data, "order_id"))
    qty = _number(data, "quantity") if data.get("quantity") is not None else None
    price = _number(data, "price") if data.get("price") is not None else None
    try:
        execution = api.state.engine.force_fill(order_id, qty, price)
    except (KeyError, ValueError) as exc:
        raise AdminError(str(exc).strip("'\"")) from exc
    return {"execution_id": execution.execution_id, "quantity": execution.quantity, "price": execution.price}


@admin("set_price")
async def _set_price(api: Api, data: dict[str, Any]) -> Any:
    conid = int(_number(data, "conid"))
    price = _number(data, "price")
    if price <= 0:
        raise AdminError("price: must be positive")
    state = api.state
    if state.universe.get(conid) is None:
        raise AdminError(f"conid: unknown conid {conid}")
    try:
        state.market.set_price(conid, price, freeze=bool(data.get("freeze", True)))
    except ValueError as exc:
        raise AdminError(str(exc)) from exc
    state.engine.tick()
    state.emit("market", None)
    return {"conid": conid, "last": state.market.last(conid)}


@admin("pause_market")
async def _pause(api: Api, data: dict[str, Any]) -> Any:
    api.state.market.paused = bool(data.get("paused", True))
    return {"paused": api.state.market.paused}


@admin("tick")
async def _tick(api: Api, data: dict[str, Any]) -> Any:
    """Run one market step of ``seconds`` (default 0: matching only) without moving the clock."""
    api.state.tick(_number(data, "seconds", 0.0), force=True)
    return {"ticked": True}


@admin("config")
async def _config(api: Api, data: dict[str, Any]) -> Any:
    state = api.state
    if "positions_page_size" in data:
        state.faults.positions_page_size = _count(data, "positions_page_size")
    if "positions_secdefs_cached" in data:
        state.faults.positions_secdefs_cached = _flag(data, "positions_secdefs_cached")
    if "history_delay_ms" in data:
        state.faults.history_delay_s = max(0.0, _number(data, "history_delay_ms") / 1000)
    if "unsubscribe_unknown_status" in data:
        status = int(_number(data, "unsubscribe_unknown_status"))
        if status not in (404, 500):
            raise AdminError("unsubscribe_unknown_status: 404 (ibind's reading) or 500 (the docs)")
        state.faults.unsubscribe_unknown_status = status
    if "idle_timeout" in data:
        state.idle_timeout = _number(data, "idle_timeout")
    if "rate_scale" in data:
        state.pacer.scale = _number(data, "rate_scale")
    for key in ("penalty_box_s", "penalty_seconds"):  # penalty_box_s: the earlier name
        if key in data:
            seconds = _number(data, key)
            if seconds < 0:
                raise AdminError(f"{key}: must not be negative")
            state.pacer.penalty_seconds = seconds
    if "penalty_strikes" in data:
        state.pacer.penalty_strikes = _count(data, "penalty_strikes")
    if "smd_ttl_s" in data:
        ttl = _number(data, "smd_ttl_s")
        if ttl <= 0:
            raise AdminError("smd_ttl_s: must be positive")
        state.smd_ttl_s = ttl
    if "sor_mode" in data:
        mode = data["sor_mode"]
        if mode not in SOR_MODES:
            raise AdminError(f"sor_mode: {mode!r} is not one of {list(SOR_MODES)}")
        state.sor_mode = mode
    if "order_notifications" in data:
        state.order_notifications = _flag(data, "order_notifications")
    if "children_follow_parent" in data:
        state.engine.children_follow_parent = _flag(data, "children_follow_parent")
    return {
        "children_follow_parent": state.engine.children_follow_parent,
        "sor_mode": state.sor_mode,
        "order_notifications": state.order_notifications,
        "positions_page_size": state.faults.positions_page_size,
        "positions_secdefs_cached": state.faults.positions_secdefs_cached,
        "idle_timeout": state.idle_timeout,
        "rate_scale": state.pacer.scale,
        "penalty_box_s": state.pacer.penalty_seconds,
        "penalty_seconds": state.pacer.penalty_seconds,
        "penalty_strikes": state.pacer.penalty_strikes,
        "smd_ttl_s": state.smd_ttl_s,
        "unsubscribe_unknown_status": state.faults.unsubscribe_unknown_status,
    }


@admin("set_position")
async def _set_position(api: Api, data: dict[str, Any]) -> Any:
    state = api.state
    account = state.accounts.get(str(data.get("account", state.session.selected_account)))
    if account is None:
        raise AdminError(f"account: unknown account {data.get('account')!r}")
    conid = int(_number(data, "conid"))
    if state.universe.get(conid) is None:
        raise AdminError(f"conid: unknown conid {conid}")
    qty = _number(data, "quantity")
    if qty == 0:
        account.positions.pop(conid, None)
    else:
        account.positions[conid] = Position(conid, qty, _number(data, "avg_price", state.market.last(conid)))
    return {"account": account.account_id, "conid": conid, "quantity": qty}


def admin_routes(api: Api) -> list[Route]:
    async def post(request: Request) -> Response:
        name = request.path_params["name"]
        handler = ADMIN.get(name)
        if handler is None:
            return JSONResponse({"error": f"unknown admin path /sim/{name}", "known": sorted(ADMIN)}, 404)
        raw = await request.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return JSONResponse({"error": "body is not valid JSON"}, 400)
        if not isinstance(data, dict):
            return JSONResponse({"error": "body must be a JSON object"}, 400)
        try:
            return JSONResponse(await handler(api, data))
        except AdminError as exc:
            return JSONResponse({"error": str(exc)}, 400)

    async def state(request: Request) -> Response:
        sockets = [conn.describe() for conn in list(api.connections)]
        extra: dict[str, Any] = {"websockets": sockets}
        if api.state.oauth is not None:  # tokens issued / live, never the tokens themselves
            extra["oauth"] = api.state.oauth.state()
        return JSONResponse({**api.state.snapshot_state(), **extra})

    return [Route("/sim/state", state, methods=["GET"]), Route("/sim/{name}", post, methods=["POST"])]


class SimAdmin:
    """Synchronous helper over the admin paths, for tests and other processes."""

    def __init__(self, root_url: str, verify: Any = True, timeout: float = 10.0) -> None:
        self._client = httpx.Client(base_url=root_url, verify=verify, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def call(self, name: str, **body: Any) -> Any:
        response = self._client.post(f"/sim/{name}", json=body)
        if response.status_code >= 400:
            raise ValueError(f"/sim/{name}: {response.json().get('error', response.text)}")
        return response.json()

    def state(self) -> dict[str, Any]:
        response = self._client.get("/sim/state")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def login(self, brokerage: bool = True) -> Any:
        return self.call("login", brokerage=brokerage)

    def logout(self) -> Any:
        return self.call("logout")

    def drop_brokerage(self, timed_out: bool = False) -> Any:
        return self.call("drop_brokerage", timed_out=timed_out)

    def competing(self, on: bool = True) -> Any:
        return self.call("competing", on=on)

    def fail(self, status: int = 503, count: int = 1, path_prefix: str | None = None) -> Any:
        return self.call("fail", status=status, count=count, path_prefix=path_prefix)

    def latency(self, ms: float) -> Any:
        return self.call("latency", ms=ms)

    def timeout_next_order(self, on: bool = True, seconds: float | None = None) -> Any:
        """Hold back the next accepted order's answer ``seconds`` (default: as last set, 600)."""
        if seconds is None:
            return self.call("timeout_next_order", on=on)
        return self.call("timeout_next_order", on=on, seconds=seconds)

    def close_websockets(self) -> Any:
        return self.call("close_websockets")

    def websockets(self, up: bool = True) -> Any:
        return self.call("websockets", up=up)

    def notify(self, text: str, title: str = "", url: str = "") -> Any:
        return self.call("notify", text=text, title=title, url=url)

    def bulletin(self, message: str) -> Any:
        return self.call("bulletin", message=message)

    def stop_heartbeats(self) -> Any:
        return self.call("stop_heartbeats")

    def start_heartbeats(self) -> Any:
        return self.call("start_heartbeats")

    def advance_clock(self, seconds: float) -> Any:
        return self.call("advance_clock", seconds=seconds)

    def reset(self) -> Any:
        return self.call("reset")

    def fill(self, order_id: int | str, quantity: float | None = None, price: float | None = None) -> Any:
        return self.call("fill", order_id=int(order_id), quantity=quantity, price=price)

    def set_price(self, conid: int, price: float, freeze: bool = True) -> Any:
        return self.call("set_price", conid=conid, price=price, freeze=freeze)

    def pause_market(self, paused: bool = True) -> Any:
        return self.call("pause_market", paused=paused)

    def tick(self, seconds: float = 0.0) -> Any:
        return self.call("tick", seconds=seconds)

    def config(self, **settings: Any) -> Any:
        return self.call("config", **settings)

    def set_position(
        self, conid: int, quantity: float, avg_price: float | None = None, account: str | None = None
    ) -> Any:
        body: dict[str, Any] = {"conid": conid, "quantity": quantity}
        if avg_price is not None:
            body["avg_price"] = avg_price
        if account is not None:
            body["account"] = account
        return self.call("set_position", **body)
