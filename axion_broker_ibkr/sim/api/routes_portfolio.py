"""Portfolio endpoints (REFERENCE §2): accounts, summary, ledger, positions, P&L."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .account_views import SUMMARY_SECTIONS, brokerage_section, brokerage_summary, ledger, pnl_row, summary
from .http import Api, Endpoint, Handler, error, not_found, reply
from .secdef_views import trsrv_secdef
from .wire import position_row

#: Keys a ``/portfolio/{acct}/positions/{page}`` row gains once the gateway has the security
#: definitions cached (REFERENCE §2), taken from the ``/trsrv/secdef`` record. ``pageSize`` is added
#: separately: the page size actually in force.
SECDEF_ROW_KEYS = (
    "time",
    "chineseName",
    "allExchanges",
    "listingExchange",
    "countryCode",
    "name",
    "lastTradingDay",
    "group",
    "sector",
    "sectorGroup",
    "ticker",
    "type",
    "hasOptions",
    "fullName",
    "isUS",
    "incrementRules",
    "displayRule",
    "isEventContract",
)

#: Keys a row then carries in the secdef's form (issue 16.6): ibind 0.2.2's recorded positions
#: response from a real gateway (``test/integration/client/ibkr_responses.py``, SPY with the secdef
#: keys) has ``"strike": "0"`` (text) and ``"multiplier": 0.0``, where IBKR's documented example
#: (``examples/portfolio_positions.json``, no secdef keys) has ``"strike": 0.0`` and ``"multiplier":
#: null``. The client reads both forms.
SECDEF_FORM_KEYS = ("strike", "multiplier")


def _account(api: Api, request: Request) -> str | Response:
    acct = str(request.path_params.get("acct", ""))
    if acct not in api.state.accounts:
        return error(f"Bad Request: unknown account {acct!r}", 400)
    return acct


async def portfolio_accounts(api: Api, request: Request, body: Any) -> Response:
    api.state.session.portfolio_accounts_called = True
    return reply([api.state.portfolio_account(a) for a in api.state.accounts])


async def subaccounts(api: Api, request: Request, body: Any) -> Response:
    api.state.session.portfolio_accounts_called = True
    return reply([api.state.portfolio_account(a) for a in api.state.accounts])


async def meta(api: Api, request: Request, body: Any) -> Response:
    acct = _account(api, request)
    return acct if isinstance(acct, Response) else reply(api.state.portfolio_account(acct))


async def account_summary(api: Api, request: Request, body: Any) -> Response:
    acct = _account(api, request)
    if isinstance(acct, Response):
        return acct
    state = api.state
    return reply(summary(state.accounts[acct], state.market, state.clock.now_ms()))


async def iserver_summary(api: Api, request: Request, body: Any) -> Response:
    """``/iserver/account/{acct}/summary`` (brokerage side; shapes: see :mod:`.account_views`)."""
    acct = _account(api, request)
    if isinstance(acct, Response):
        return acct
    state = api.state
    return reply(brokerage_summary(state.accounts[acct], state.market))


async def iserver_summary_section(api: Api, request: Request, body: Any) -> Response:
    acct = _account(api, request)
    if isinstance(acct, Response):
        return acct
    section = str(request.path_params.get("section", ""))
    if section not in SUMMARY_SECTIONS:
        return not_found()
    state = api.state
    return reply(brokerage_section(state.accounts[acct], state.market, section))


async def account_ledger(api: Api, request: Request, body: Any) -> Response:
    acct = _account(api, request)
    if isinstance(acct, Response):
        return acct
    state = api.state
    return reply(ledger(state.accounts[acct], state.market, int(state.clock.now())))


def _rows(api: Api, acct: str) -> list[dict[str, Any]]:
    state = api.state
    account = state.accounts[acct]
    rows = []
    for conid, pos in sorted(account.positions.items()):
        inst = state.universe.by_conid[conid]
        rows.append(position_row(acct, state.market, inst, pos.quantity, pos.avg_price, pos.realized))
    return rows


async def positions(api: Api, request: Request, body: Any) -> Response:
    acct = _account(api, request)
    if isinstance(acct, Response):
        return acct
    page = int(request.path_params["page"])
    size = api.state.faults.positions_page_size
    rows = _rows(api, acct)
    sort = request.query_params.get("sort")
    if sort and rows and sort in rows[0]:
        rows.sort(
            key=lambda r: (r[sort] is None, r[sort]), reverse=request.query_params.get("direction") == "d"
        )
    rows = rows[page * size : (page + 1) * size]
    if api.state.faults.positions_secdefs_cached:
        # The client keeps paging until a page is shorter than this (or empty when it is absent).
        universe = api.state.universe
        for row in rows:
            secdef = trsrv_secdef(universe.by_conid[row["conid"]])
            row.update({key: secdef[key] for key in SECDEF_ROW_KEYS + SECDEF_FORM_KEYS})
            row["pageSize"] = size
    return reply(rows)


async def position_by_conid(api: Api, request: Request, body: Any) -> Response:
    acct = _account(api, request)
    if isinstance(acct, Response):
        return acct
    conid = int(request.path_params["conid"])
    return reply([r for r in _rows(api, acct) if r["conid"] == conid])


async def positions_all_accounts(api: Api, request: Request, body: Any) -> Response:
    """``/portfolio/positions/{conid}``: account id -> rows for that conid."""
    conid = int(request.path_params["conid"])
    out = {a: [r for r in _rows(api, a) if r["conid"] == conid] for a in api.state.accounts}
    return reply({a: rows for a, rows in out.items() if rows})


async def positions2(api: Api, request: Request, body: Any) -> Response:
    """``/portfolio2/{acct}/positions``: the near-real-time variant (no server-side cache)."""
    acct = _account(api, request)
    if isinstance(acct, Response):
        return acct
    now = api.state.clock.now_ms()
    out = []
    for row in _rows(api, acct):
        inst = api.state.universe.by_conid[row["conid"]]
        out.append(
            {
                "position": row["position"],
                "conid": row["conid"],
                "avgCost": row["avgCost"],
                "avgPrice": row["avgPrice"],
                "currency": row["currency"],
                "description": row["contractDesc"],
                "isLastToLoq": False,
                "marketPrice": row["mktPrice"],
                "marketValue": row["mktValue"],
                "realizedPnl": row["realizedPnl"],
                "secType": inst.sec_type,
                "timestamp": now,
                "unrealizedPnl": row["unrealizedPnl"],
                "assetClass": inst.sec_type,
                "sector": inst.category or None,
                "group": inst.industry or None,
                "model": "",
            }
        )
    return reply(out)


async def invalidate(api: Api, request: Request, body: Any) -> Response:
    acct = _account(api, request)
    # [conflict] OpenAPI: {"message":"success"}; v1 docs: positions of page 0. The OpenAPI reading.
    return acct if isinstance(acct, Response) else reply({"message": "success"})


async def pnl(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    rows = {f"{a}.Core": pnl_row(account, state.market) for a, account in state.accounts.items()}
    return reply({"upnl": rows})


async def exchange_rate(api: Api, request: Request, body: Any) -> Response:
    source = request.query_params.get("source", "").upper()
    target = request.query_params.get("target", "").upper()
    try:
        rate = api.state.market.fx_rate(source, "USD") / api.state.market.fx_rate(target, "USD")
    except KeyError:
        return error(f"Bad Request: no rate for {source}/{target}", 400)
    return reply({"rate": rate})


def _portfolio(path: str, handler: Handler, method: str = "GET") -> Endpoint:
    """A ``/portfolio`` endpoint: the read-only (SSO) session, once ``/portfolio/accounts`` was called."""
    return Endpoint((method,), path, handler, layer="sso", needs_portfolio=True)


ENDPOINTS = [
    Endpoint(("GET",), "/iserver/account/{acct}/summary", iserver_summary, needs_accounts=True),
    Endpoint(
        ("GET",), "/iserver/account/{acct}/summary/{section}", iserver_summary_section, needs_accounts=True
    ),
    Endpoint(("GET",), "/portfolio/accounts", portfolio_accounts, layer="sso"),
    Endpoint(("GET",), "/portfolio/subaccounts", subaccounts, layer="sso"),
    _portfolio("/portfolio/{acct}/meta", meta),
    _portfolio("/portfolio/{acct}/summary", account_summary),
    _portfolio("/portfolio/{acct}/ledger", account_ledger),
    _portfolio("/portfolio/{acct}/positions/{page:int}", positions),
    _portfolio("/portfolio/{acct}/position/{conid:int}", position_by_conid),
    _portfolio("/portfolio/{acct}/positions/invalidate", invalidate, method="POST"),
    _portfolio("/portfolio/positions/{conid:int}", positions_all_accounts),
    _portfolio("/portfolio2/{acct}/positions", positions2),
    Endpoint(("GET",), "/iserver/account/pnl/partitioned", pnl),
    Endpoint(("GET",), "/iserver/exchangerate", exchange_rate),
]
