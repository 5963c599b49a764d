"""Contract endpoints (REFERENCE §3)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..engine.universe import Instrument
from . import secdef_views as c
from .http import Api, Endpoint, body_dict, error, reply

MAX_TRSRV_CONIDS = 200


def _conid(value: Any) -> int | None:
    try:
        return int(str(value).split("@")[0])
    except (TypeError, ValueError):
        return None


def _instrument(api: Api, value: Any) -> Instrument | Response:
    conid = _conid(value)
    inst = api.state.universe.get(conid) if conid is not None else None
    if inst is None:
        return error(f"Bad Request: unknown conid {value!r}", 400)
    return inst


async def _search(api: Api, params: dict[str, Any]) -> Response:
    symbol = str(params.get("symbol") or "").strip()
    if not symbol:
        return error("Bad Request: symbol required", 400)
    sec_type = str(params.get("secType") or "STK")
    name = str(params.get("name", "false")).lower() in {"true", "1"}
    state = api.state
    results = c.secdef_search(state.universe, symbol, sec_type, name, state.clock.today())
    for r in results:
        conid = _conid(r.get("conid"))
        if conid is not None and not name:
            state.session.searched.add(conid)
        elif conid is not None:
            state.session.searched.discard(conid)  # name=true makes a following strikes call empty
    return reply(results)


async def search_get(api: Api, request: Request, body: Any) -> Response:
    return await _search(api, dict(request.query_params))


async def search_post(api: Api, request: Request, body: Any) -> Response:
    return await _search(api, body_dict(body))


async def strikes(api: Api, request: Request, body: Any) -> Response:
    q = request.query_params
    conid = _conid(q.get("conid"))
    month = q.get("month")
    sec_type = (q.get("sectype") or q.get("secType") or "").upper()
    if conid is None or not month or not sec_type:
        return error("Bad Request: conid, sectype and month are required", 400)
    if conid not in api.state.session.searched:
        return reply({"call": [], "put": []})  # REFERENCE §3.2: search the underlying first
    return reply(c.strikes(api.state.universe, conid, sec_type, month, api.state.clock.today()))


async def secdef_info(api: Api, request: Request, body: Any) -> Response:
    q = request.query_params
    state = api.state
    universe = state.universe
    sec_type = (q.get("sectype") or q.get("secType") or "").upper()
    if sec_type == "BOND":
        issuer = q.get("issuerId") or q.get("issueId")
        if not issuer:
            return error("Bad Request: issuerId required for sectype=BOND", 400)
        try:
            bonds = c.bonds_matching(universe, issuer, q.get("filters"))
        except ValueError as exc:
            return error(str(exc), 500)
        return reply([c.info_record(b) for b in bonds])
    conid = _conid(q.get("conid"))
    if conid is None or not sec_type:
        return error("Bad Request: conid and sectype are required", 400)
    if sec_type in {"OPT", "FUT"} and conid not in state.session.searched:
        # REFERENCE §3.2: /secdef/search must run for the underlying first. What a real gateway
        # answers otherwise is undocumented; the simulator says so explicitly (its own choice)
        # rather than an empty list that reads as "no such contract".
        return error(
            f"Bad Request: search for the underlying first (/iserver/secdef/search for conid {conid} "
            "in this session) before /iserver/secdef/info",
            400,
        )
    month = (q.get("month") or "").upper()
    if sec_type == "OPT":
        strike = q.get("strike")
        right = (q.get("right") or "").upper()
        found = [
            o
            for o in universe.options_of(conid, state.clock.today())
            if o.expiry
            and (not month or c.month_code(o.expiry) == month)
            and (strike is None or abs((o.strike or 0) - float(strike)) < 1e-6)
            and (not right or o.right == right)
        ]
        found.sort(key=lambda o: (o.expiry, o.strike, o.right))
        return reply([c.info_record(o) for o in found])
    if sec_type == "FUT":
        futs = universe.futures_by_underlying(conid, state.clock.today())
        if month:
            futs = [f for f in futs if f.contract_month and c.month_code(f.contract_month) == month]
        return reply([c.info_record(f) for f in futs])
    inst = universe.get(conid)
    return reply([c.info_record(inst)] if inst is not None and inst.sec_type == sec_type else [])


async def trsrv_stocks(api: Api, request: Request, body: Any) -> Response:
    symbols = [s.strip().upper() for s in request.query_params.get("symbols", "").split(",") if s.strip()]
    if not symbols:
        return error("Bad Request: symbols required", 400)
    return reply(c.trsrv_stocks(api.state.universe, symbols))


async def trsrv_futures(api: Api, request: Request, body: Any) -> Response:
    symbols = [s.strip().upper() for s in request.query_params.get("symbols", "").split(",") if s.strip()]
    if not symbols:
        return error("Bad Request: symbols required", 400)
    return reply(c.trsrv_futures(api.state.universe, symbols, api.state.clock.today()))


async def trsrv_secdef(api: Api, request: Request, body: Any) -> Response:
    raw = request.query_params.get("conids") or ",".join(str(x) for x in body_dict(body).get("conids", []))
    conids = [_conid(x) for x in raw.split(",") if x.strip()]
    if not conids or any(x is None for x in conids):
        return error("Bad Request: conids must be a comma-separated list of integers", 400)
    if len(conids) > MAX_TRSRV_CONIDS:
        return error(f"Bad Request: at most {MAX_TRSRV_CONIDS} conids per request", 400)
    found = [api.state.universe.get(x) for x in conids if x is not None]
    return reply({"secdef": [c.trsrv_secdef(i) for i in found if i is not None]})


async def all_conids(api: Api, request: Request, body: Any) -> Response:
    exchange = (request.query_params.get("exchange") or "").upper()
    asset = (request.query_params.get("assetClass") or "STK").upper()
    if not exchange:
        return error("Bad Request: exchange required", 400)
    found = [
        {"ticker": i.symbol, "conid": i.conid, "exchange": i.exchange}
        for i in api.state.universe.all()
        if i.sec_type == asset == "STK" and i.exchange == exchange
    ]
    return reply(sorted(found, key=lambda r: str(r["ticker"])))


async def contract_info(api: Api, request: Request, body: Any) -> Response:
    inst = _instrument(api, request.path_params["conid"])
    return inst if isinstance(inst, Response) else reply(c.contract_info(inst))


async def contract_rules(api: Api, request: Request, body: Any) -> Response:
    data = body_dict(body)
    inst = _instrument(api, data.get("conid"))
    if isinstance(inst, Response):
        return inst
    return reply(c.contract_rules(inst, api.state.market, list(api.state.accounts)))


async def info_and_rules(api: Api, request: Request, body: Any) -> Response:
    inst = _instrument(api, request.path_params["conid"])
    if isinstance(inst, Response):
        return inst
    out = c.contract_info(inst)
    out["rules"] = c.contract_rules(inst, api.state.market, list(api.state.accounts))
    return reply(out)


async def currency_pairs(api: Api, request: Request, body: Any) -> Response:
    currency = request.query_params.get("currency")
    if not currency:
        return error("Bad Request: currency required", 400)
    return reply(c.currency_pairs(api.state.universe, currency))


async def bond_filters(api: Api, request: Request, body: Any) -> Response:
    q = request.query_params
    # [conflict] the OpenAPI spells it issueId; docs and ibind use issuerId. Both are accepted.
    issuer = q.get("issuerId") or q.get("issueId")
    if not issuer or issuer not in api.state.universe.issuers:
        return error(f"Bad Request: unknown issuerId {issuer!r}", 400)
    return reply(c.bond_filters(api.state.universe, issuer))


ENDPOINTS = [
    Endpoint(("GET",), "/iserver/secdef/search", search_get),
    Endpoint(("POST",), "/iserver/secdef/search", search_post),
    Endpoint(("GET",), "/iserver/secdef/strikes", strikes),
    Endpoint(("GET",), "/iserver/secdef/info", secdef_info),
    Endpoint(("GET",), "/iserver/secdef/bond-filters", bond_filters),
    Endpoint(("GET",), "/trsrv/stocks", trsrv_stocks, layer="sso"),
    Endpoint(("GET",), "/trsrv/futures", trsrv_futures, layer="sso"),
    Endpoint(("GET", "POST"), "/trsrv/secdef", trsrv_secdef, layer="sso"),
    Endpoint(("GET",), "/trsrv/all-conids", all_conids, layer="sso"),
    Endpoint(("GET",), "/iserver/contract/{conid}/info", contract_info),
    Endpoint(("GET",), "/iserver/contract/{conid}/info-and-rules", info_and_rules),
    Endpoint(("POST",), "/iserver/contract/rules", contract_rules),
    Endpoint(("GET",), "/iserver/currency/pairs", currency_pairs),
]
