"""Market data endpoints (REFERENCE §5): snapshot (with pre-flight), history, unsubscribe."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import HistoryError
from ..engine.history import build_history
from .http import Api, Endpoint, body_dict, error, query_bool, reply
from .snapshot_fields import render_fields

MAX_CONIDS = 100
MAX_FIELDS = 50
DEFAULT_FIELDS = ["31", "84", "86"]


async def snapshot(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    q = request.query_params
    raw = [x.strip() for x in q.get("conids", "").split(",") if x.strip()]
    if not raw:
        return error("Bad Request: conids required", 400)
    if len(raw) > MAX_CONIDS:
        return error(f"Bad Request: at most {MAX_CONIDS} conids", 400)
    fields = [f.strip() for f in q.get("fields", "").split(",") if f.strip()] or DEFAULT_FIELDS
    if len(fields) > MAX_FIELDS:
        return error(f"Bad Request: at most {MAX_FIELDS} fields", 400)
    now = state.clock.now()
    out: list[dict[str, Any]] = []
    for index, text in enumerate(raw):
        conid_text = text.partition("@")[0]
        try:
            conid = int(conid_text)
        except ValueError:
            return error(f"Bad Request: invalid conid {text!r}", 400)
        inst = state.universe.get(conid)
        if inst is None:
            return error(f"Bad Request: unknown conid {conid}", 400)
        item: dict[str, Any] = {"conid": conid, "conidEx": text}
        fresh = state.session.has_stream(conid, now)
        state.session.md_streams[conid] = now
        if fresh:
            state.snapshot_counter += 1
            server_id = f"q{index}"
            quote = state.market.quote(conid)
            item.update(render_fields(inst, quote, fields))
            item.update({"6119": server_id, "_updated": quote.updated_ms, "server_id": server_id})
            if "6509" not in item:
                item["6509"] = "RpB"
        out.append(item)
    return reply(out)


async def history(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    q = request.query_params
    conid_text = q.get("conid", "")
    inst = state.universe.get(int(conid_text)) if conid_text.isdigit() else None
    if inst is None:
        return error("Bad Request: valid conid required", 400)
    if state.pacer.history_running >= state.pacer.history_slots():
        state.pacer.record_429("/iserver/marketdata/history")
        return error("Too many concurrent history requests (max 5)", 429)
    state.pacer.history_running += 1
    try:
        await asyncio.sleep(state.faults.history_delay_s)  # served by a separate farm, never instant
        try:
            data = build_history(
                state.market,
                inst,
                q.get("bar", ""),
                q.get("period", "1w"),
                query_bool(request, "outsideRth"),
                q.get("startTime"),
            )
        except HistoryError as exc:
            return error(exc.message, exc.status)
        return reply(data)
    finally:
        state.pacer.history_running -= 1


async def unsubscribe(api: Api, request: Request, body: Any) -> Response:
    # The documented body {"conid": ...}; ibind 0.2.2 sends the conid as a query parameter
    # (marketdata_unsubscribe: params={'conid': ...}), which real gateways evidently take: both.
    conid_value = body_dict(body).get("conid", request.query_params.get("conid"))
    try:
        conid = int(str(conid_value))
    except ValueError:
        return error("Bad Request: conid required", 400)
    streams = api.state.session.md_streams
    if conid not in streams:
        # [conflict] REFERENCE §5.4/§8: the docs answer 500 {"error":"unknown"}; ibind's
        # marketdata_unsubscribe skips a 404 as "no such subscription in the first place" (what its
        # users' gateways answer). Default: the documented 500; /sim/config
        # unsubscribe_unknown_status=404 gives ibind's reading. The client takes both.
        status = api.state.faults.unsubscribe_unknown_status
        return error("unknown", 500) if status == 500 else Response(status_code=404)
    del streams[conid]
    return reply({"success": True})


async def unsubscribe_all(api: Api, request: Request, body: Any) -> Response:
    api.state.session.md_streams.clear()
    return reply({"unsubscribed": True})


ENDPOINTS = [
    Endpoint(("GET",), "/iserver/marketdata/snapshot", snapshot, needs_accounts=True),
    Endpoint(("GET",), "/iserver/marketdata/history", history),
    Endpoint(("POST",), "/iserver/marketdata/unsubscribe", unsubscribe),
    Endpoint(("GET",), "/iserver/marketdata/unsubscribeall", unsubscribe_all),
]
