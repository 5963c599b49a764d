"""Order endpoints (REFERENCE §4): place, reply, suppress, what-if, modify, cancel, monitoring."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..engine.order_engine import Reply
from .http import Api, Endpoint, body_dict, error, query_bool, reply
from .wire import live_order, order_status, trade
from .wire import whatif as whatif_reply

#: Lower-case filter codes of /iserver/account/orders (REFERENCE §4.8) -> status.
FILTER_CODES = {
    "inactive": "Inactive",
    "pending_submit": "PendingSubmit",
    "pre_submitted": "PreSubmitted",
    "submitted": "Submitted",
    "filled": "Filled",
    "pending_cancel": "PendingCancel",
    "cancelled": "Cancelled",
    "warn_state": "WarnState",
    "sort_by_time": None,
}
MAX_TRADE_DAYS = 7


def _send(result: Reply) -> Response:
    return reply(result.body, result.status)


def _order_id(request: Request) -> int | Response:
    """The ``{order_id}`` path parameter; ``-1`` (cancel all) is a valid id."""
    try:
        return int(request.path_params["order_id"])
    except ValueError:
        return error(f"Bad Request: invalid order id {request.path_params['order_id']!r}", 400)


def _path_account(api: Api, request: Request) -> str | Response:
    acct = str(request.path_params["acct"])
    if acct not in api.state.accounts:
        return error(f"Bad Request: unknown account {acct!r}", 400)
    return acct


async def _stall(api: Api, seconds: float) -> None:
    """Hold the answer of an accepted order for ``seconds``, or until the server stops."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(api.stopping.wait(), seconds)


async def place(api: Api, request: Request, body: Any) -> Response:
    acct = _path_account(api, request)
    if isinstance(acct, Response):
        return acct
    result = api.state.engine.place(acct, body)
    return await _maybe_stall(api, result)


async def _maybe_stall(api: Api, result: Reply) -> Response:
    accepted = isinstance(result.body, list) and result.body and "order_id" in result.body[0]
    if accepted and api.state.faults.timeout_next_order:
        api.state.faults.timeout_next_order = False
        await _stall(api, api.state.faults.stall_s)
    return _send(result)


async def reply_question(api: Api, request: Request, body: Any) -> Response:
    confirmed = body_dict(body).get("confirmed")
    if not isinstance(confirmed, bool):
        return error('Bad Request: body must be {"confirmed": true|false}', 400)
    result = api.state.engine.reply(str(request.path_params["reply_id"]), confirmed)
    return await _maybe_stall(api, result)


async def suppress(api: Api, request: Request, body: Any) -> Response:
    ids = body_dict(body).get("messageIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return error("Bad Request: messageIds must be a list of strings", 400)
    if len(ids) > 51:
        return error("Bad Request: at most 51 messageIds", 400)
    api.state.session.suppressed = set(ids)  # the complete list replaces the previous one
    return reply({"status": "submitted"})


async def suppress_reset(api: Api, request: Request, body: Any) -> Response:
    api.state.session.suppressed = set()
    return reply({"status": "submitted"})


async def whatif(api: Api, request: Request, body: Any) -> Response:
    acct = _path_account(api, request)
    return acct if isinstance(acct, Response) else _send(whatif_reply(api.state.engine, acct, body))


def _path_order(api: Api, request: Request) -> tuple[str, int] | Response:
    """The ``{acct}`` and ``{order_id}`` path parameters, or the 400 answer for the first bad one."""
    acct = _path_account(api, request)
    if isinstance(acct, Response):
        return acct
    order_id = _order_id(request)
    return order_id if isinstance(order_id, Response) else (acct, order_id)


async def modify(api: Api, request: Request, body: Any) -> Response:
    target = _path_order(api, request)
    return target if isinstance(target, Response) else _send(api.state.engine.modify(*target, body))


async def cancel(api: Api, request: Request, body: Any) -> Response:
    target = _path_order(api, request)
    if isinstance(target, Response):
        return target
    return _send(api.state.engine.cancel(*target, dict(request.query_params)))


async def live_orders(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    s = state.session
    raw_filters = request.query_params.get("filters", "")
    filters = [f.strip() for f in raw_filters.split(",") if f.strip()]
    for f in filters:
        if f not in FILTER_CODES:
            # ibind #119: CamelCase filter values (e.g. "Submitted") answer 500.
            return error(f"unknown filter {f!r}", 500)
    if query_bool(request, "force"):
        s.live_orders_primed = True  # the cache is rebuilt: the next normal call answers in full
        s.sor_suppressed = False
        return reply({"orders": [], "snapshot": True})  # force=true clears the cache and answers empty
    if not s.live_orders_primed:
        s.live_orders_primed = True
        return reply({"orders": [], "snapshot": True})  # the documented "call it twice" pre-flight
    if filters:
        state.ws_counts["filtered_live_orders"] += 1
        if state.sor_mode == "stops_after_filter":
            s.sor_suppressed = True  # a filtered request silences sor until a force=true call
    account = request.query_params.get("accountId") or s.selected_account
    wanted = {FILTER_CODES[f] for f in filters if FILTER_CODES[f]}
    orders = [
        o
        for o in state.engine.orders.values()
        if o.account == account and state.engine.visible(o) and (not wanted or o.status in wanted)
    ]
    orders.sort(key=lambda o: o.last_exec_ms or o.created_ms, reverse=True)
    return reply({"orders": [live_order(o) for o in orders[:1000]], "snapshot": True})


async def status(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    order_id = _order_id(request)
    if isinstance(order_id, Response):
        return order_id
    order = state.engine.orders.get(order_id)
    if order is None or not state.engine.visible(order) or order.account != state.session.selected_account:
        # Not cached in this brokerage session, or another account is selected (REFERENCE §4.8).
        return reply({"error": "Service Unavailable", "statusCode": 503}, 503)
    return reply(order_status(order))


async def trades(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    try:
        days = int(request.query_params.get("days", "1"))
    except ValueError:
        return error("Bad Request: days must be an integer", 400)
    days = max(1, min(MAX_TRADE_DAYS, days))
    account = request.query_params.get("accountId") or state.session.selected_account
    today = state.clock.today().toordinal()
    out = []
    for e in state.engine.executions:
        day = dt.datetime.fromtimestamp(e.time_ms / 1000, tz=dt.UTC).date().toordinal()
        if e.account == account and today - day < days:
            out.append(trade(e))
    return reply(out)


ENDPOINTS = [
    Endpoint(("POST",), "/iserver/account/{acct}/orders", place, needs_accounts=True),
    Endpoint(("POST",), "/iserver/account/{acct}/orders/whatif", whatif, needs_accounts=True),
    Endpoint(("POST",), "/iserver/account/{acct}/order/{order_id}", modify, needs_accounts=True),
    Endpoint(("DELETE",), "/iserver/account/{acct}/order/{order_id}", cancel, needs_accounts=True),
    Endpoint(("POST",), "/iserver/reply/{reply_id}", reply_question, needs_accounts=True),
    Endpoint(("POST",), "/iserver/questions/suppress", suppress),
    Endpoint(("POST",), "/iserver/questions/suppress/reset", suppress_reset),
    Endpoint(("GET",), "/iserver/account/orders", live_orders, needs_accounts=True),
    Endpoint(("GET",), "/iserver/account/order/status/{order_id}", status, needs_accounts=True),
    Endpoint(("GET",), "/iserver/account/trades", trades, needs_accounts=True),
]
