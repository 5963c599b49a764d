"""Every example of ``fixtures/cpapi/`` against the simulator's answer to the same request.

Keys and JSON value types must match recursively (values differ: the examples come from real
accounts). ``EXTRA`` lists, per example, keys the simulator adds that REFERENCE.md documents for
the endpoint but that the example happens not to show; ``NULLABLE`` keys may be ``null``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from axion_broker_ibkr.sim import SimServer
from axion_broker_ibkr.sim.api.routes_portfolio import SECDEF_ROW_KEYS
from tests.conftest import load_fixture

from .conftest import AAPL, ACCT, IBM, client_for, order_id_of, place
from .shapes import shape_errors

ORDER_LIST_EXTRA = {"price", "auxPrice", "outsideRTH", "description2", "exchange", "order_ref", "avgPrice"}


def _first_option_month(client: httpx.Client) -> str:
    search = client.get("/iserver/secdef/search", params={"symbol": "AAPL", "secType": "STK"}).json()
    section = next(s for s in search[0]["sections"] if s["secType"] == "OPT")
    return str(section["months"].split(";")[1])


def _ledger(client: httpx.Client) -> Any:
    return client.get(f"/portfolio/{ACCT}/ledger").json()


def _option_info(client: httpx.Client) -> Any:
    month = _first_option_month(client)
    strikes = client.get(
        "/iserver/secdef/strikes", params={"conid": AAPL, "sectype": "OPT", "month": month}
    ).json()
    strike = strikes["put"][len(strikes["put"]) // 2]
    params = {"conid": AAPL, "sectype": "OPT", "month": month, "strike": strike, "right": "P"}
    return client.get("/iserver/secdef/info", params=params).json()


def _strikes(client: httpx.Client) -> Any:
    month = _first_option_month(client)
    return client.get(
        "/iserver/secdef/strikes", params={"conid": AAPL, "sectype": "OPT", "month": month}
    ).json()


def _suppressed(client: httpx.Client) -> None:
    client.post("/iserver/questions/suppress", json={"messageIds": ["o163", "o354", "o10151", "o403"]})


def _last(client: httpx.Client, conid: int) -> float:
    client.get("/iserver/marketdata/snapshot", params={"conids": conid, "fields": "31"})
    return float(
        client.get("/iserver/marketdata/snapshot", params={"conids": conid, "fields": "31"}).json()[0]["31"]
    )


def _submit(client: httpx.Client) -> Any:
    _suppressed(client)
    price = round(_last(client, AAPL) * 0.99, 2)
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": price, "quantity": 1, "tif": "DAY"}
    return client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}).json()


def _question(client: httpx.Client) -> Any:
    price = round(_last(client, AAPL) * 0.8, 2)
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": price, "quantity": 100, "tif": "DAY"}
    return client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}).json()


def _reject(client: httpx.Client) -> Any:
    price = round(_last(client, AAPL) * 2, 2)
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": price, "quantity": 1, "tif": "DAY"}
    return client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}).json()


def _whatif(client: httpx.Client) -> Any:
    order = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 10, "tif": "DAY"}
    return client.post(f"/iserver/account/{ACCT}/orders/whatif", json={"orders": [order]}).json()


def _cancel(client: httpx.Client) -> Any:
    order_id = order_id_of(_submit(client))
    return client.delete(f"/iserver/account/{ACCT}/order/{order_id}").json()


def _filled_market_order(client: httpx.Client) -> int:
    _suppressed(client)
    order = {
        "conid": AAPL,
        "side": "SELL",
        "orderType": "MKT",
        "quantity": 5,
        "tif": "GTC",
        "cOID": "Order123",
    }
    return order_id_of(place(client, order))


def _live_orders(client: httpx.Client) -> Any:
    _filled_market_order(client)
    client.get("/iserver/account/orders")
    return client.get("/iserver/account/orders").json()


def _order_status(client: httpx.Client) -> Any:
    order_id = _filled_market_order(client)
    return client.get(f"/iserver/account/order/status/{order_id}").json()


def _trades(client: httpx.Client) -> Any:
    _filled_market_order(client)
    return client.get("/iserver/account/trades").json()


def _preflight(client: httpx.Client) -> Any:
    return client.get(
        "/iserver/marketdata/snapshot", params={"conids": f"{AAPL},{IBM}", "fields": "31"}
    ).json()


def _snapshot(client: httpx.Client) -> Any:
    params = {"conids": f"{AAPL},{IBM}", "fields": "31,84,85,86,88,7059,6509"}
    client.get("/iserver/marketdata/snapshot", params=params)
    return client.get("/iserver/marketdata/snapshot", params=params).json()


def _rules(client: httpx.Client) -> Any:
    return client.post(
        "/iserver/contract/rules", json={"conid": AAPL, "exchange": "SMART", "isBuy": True}
    ).json()


Request = Callable[[httpx.Client], Any]
#: example file -> (request that produces the same answer, extra keys allowed, nullable keys)
REST_CASES: dict[str, tuple[Request, set[str], set[str]]] = {
    "iserver_auth_status": (lambda c: c.post("/iserver/auth/status", json={}).json(), set(), set()),
    "tickle": (lambda c: c.post("/tickle", json={}).json(), set(), set()),
    "iserver_accounts": (lambda c: c.get("/iserver/accounts").json(), set(), set()),
    "portfolio_accounts": (lambda c: c.get("/portfolio/accounts").json(), set(), set()),
    "pnl_partitioned": (
        lambda c: c.get("/iserver/account/pnl/partitioned").json(),
        {"uel"},  # REFERENCE §9 (spl): unrounded excess liquidity, absent from the REST example
        set(),
    ),
    "secdef_search_STK": (
        lambda c: c.get("/iserver/secdef/search", params={"symbol": "IBM"}).json(),
        set(),
        {"opt", "war", "fop"},  # REFERENCE §3.1: ';'-separated expiries, may be null
    ),
    "secdef_info_OPT": (_option_info, set(), set()),
    "secdef_strikes": (_strikes, set(), set()),
    "trsrv_stocks": (lambda c: c.get("/trsrv/stocks", params={"symbols": "AAPL"}).json(), set(), set()),
    "trsrv_futures": (lambda c: c.get("/trsrv/futures", params={"symbols": "ES"}).json(), set(), set()),
    "contract_info": (lambda c: c.get(f"/iserver/contract/{AAPL}/info").json(), set(), set()),
    "contract_rules": (_rules, {"modTypes"}, set()),
    "currency_pairs": (
        lambda c: c.get("/iserver/currency/pairs", params={"currency": "USD"}).json(),
        set(),
        set(),
    ),
    "bond_filters": (
        lambda c: c.get(
            "/iserver/secdef/bond-filters", params={"symbol": "BOND", "issuerId": "e1400789"}
        ).json(),
        set(),
        set(),
    ),
    "order_submit_response": (_submit, set(), set()),
    "order_reply_question": (_question, set(), set()),
    "order_reject": (_reject, set(), set()),
    "order_whatif": (_whatif, set(), {"warn"}),
    "order_cancel": (_cancel, set(), set()),
    "live_orders": (_live_orders, ORDER_LIST_EXTRA, set()),
    "order_status": (_order_status, {"limit_price", "outside_rth"}, set()),
    "trades": (_trades, set(), set()),
    "marketdata_snapshot_preflight": (_preflight, set(), set()),
    "marketdata_snapshot": (_snapshot, set(), set()),
    "marketdata_history": (
        lambda c: c.get(
            "/iserver/marketdata/history", params={"conid": AAPL, "bar": "1d", "period": "1w"}
        ).json(),
        {"serverId"},  # REFERENCE spells it serverId; the example (OpenAPI) serverid: both are sent
        set(),
    ),
}


def _reply(client: httpx.Client) -> Any:
    question = _question(client)
    return client.post(f"/iserver/reply/{question[0]['id']}", json={"confirmed": True}).json()


def _modify(client: httpx.Client) -> Any:
    _suppressed(client)
    price = round(_last(client, AAPL) * 0.99, 2)
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": price, "quantity": 1, "tif": "DAY"}
    placed = client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}).json()
    oid = placed[0]["order_id"]
    return client.post(
        f"/iserver/account/{ACCT}/order/{oid}", json={**order, "price": round(price - 0.05, 2)}
    ).json()


def _unsubscribe(client: httpx.Client) -> Any:
    client.get("/iserver/marketdata/snapshot", params={"conids": AAPL, "fields": "31"})
    return client.post("/iserver/marketdata/unsubscribe", json={"conid": AAPL}).json()


def _summary_section(section: str) -> Request:
    return lambda c: c.get(f"/iserver/account/{ACCT}/summary/{section}").json()


#: endpoint the client uses without an IBKR example file -> (documented answer in
#: fixtures/cpapi/documented/ or an example it shares a shape with, request, extra keys, nullable)
DOCUMENTED_CASES: dict[str, tuple[str, Request, set[str], set[str]]] = {
    "portfolio_summary": (
        "documented/portfolio_summary",
        lambda c: c.get(f"/portfolio/{ACCT}/summary").json(),
        set(),
        {"value", "currency"},
    ),
    "trsrv_secdef": (
        "documented/trsrv_secdef",
        lambda c: c.get("/trsrv/secdef", params={"conids": AAPL}).json(),
        set(),
        set(),
    ),
    "iserver_account_summary": (
        "documented/iserver_account_summary",
        lambda c: c.get(f"/iserver/account/{ACCT}/summary").json(),
        set(),
        set(),
    ),
    **{
        f"iserver_summary_{section}": (
            f"documented/iserver_summary_{section}",
            _summary_section(section),
            set(),
            set(),
        )
        for section in ("available_funds", "balances", "margins", "market_value")
    },
    "marketdata_unsubscribe": ("documented/marketdata_unsubscribe", _unsubscribe, set(), set()),
    "marketdata_unsubscribeall": (
        "documented/marketdata_unsubscribeall",
        lambda c: c.get("/iserver/marketdata/unsubscribeall").json(),
        set(),
        set(),
    ),
    "switch_account": (
        "documented/switch_account",
        lambda c: c.post("/iserver/account", json={"acctId": ACCT}).json(),
        set(),
        set(),
    ),
    "questions_suppress": (
        "documented/questions_suppress",
        lambda c: c.post("/iserver/questions/suppress", json={"messageIds": ["o163"]}).json(),
        set(),
        set(),
    ),
    "ssodh_init": (
        "iserver_auth_status",
        lambda c: c.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True}).json(),
        set(),
        set(),
    ),
    "reply": ("order_submit_response", _reply, set(), set()),
    "modify": ("order_submit_response", _modify, set(), set()),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED_CASES))
def test_documented_answer_shapes(api: httpx.Client, name: str) -> None:
    fixture, request, extra, nullable = DOCUMENTED_CASES[name]
    expected, answer = load_fixture(fixture), request(api)
    if name == "iserver_summary_market_value":  # keyed by currency: each one the documented labels
        assert set(answer) >= {"USD", "EUR", "Total (in USD)"}
        assert all(set(v) == set(expected["EUR"]) for v in answer.values())
        answer = {k: answer[k] for k in ("EUR", "Total (in USD)")}
    if name.startswith("iserver_summary_"):  # exactly the documented labels, no more
        errors = shape_errors(expected, answer)
        assert errors == [] and all(set(answer[k]) == set(expected[k]) for k in expected)
        return
    if name == "portfolio_summary":  # keyed by metric name: every value has the documented shape
        assert {"netliquidation", "availablefunds-s", "accountcode"} <= set(answer)
        expected, answer = {"summary": expected}, {"summary": answer}
        errors = shape_errors(expected, answer, nullable=nullable, maps={"summary"})
    else:
        errors = shape_errors(expected, answer, extra=extra, nullable=nullable)
    assert errors == []


@pytest.mark.parametrize("name", sorted(REST_CASES))
def test_rest_answer_has_the_example_shape(fsim: SimServer, api: httpx.Client, name: str) -> None:
    request, extra, nullable = REST_CASES[name]
    answer = request(api)
    assert shape_errors(load_fixture(name), answer, extra=extra, nullable=nullable) == []


def test_positions_have_the_example_shape_in_both_forms(fsim: SimServer, api: httpx.Client) -> None:
    """Without cached security definitions a row is the documented example's (strike a number,
    multiplier null for a stock); with them it gains the secdef keys and takes their form for
    strike (text) and multiplier (0.0), as ibind's recorded real-gateway response shows (issue 16.6)."""
    example = load_fixture("portfolio_positions")
    fsim.admin.config(positions_secdefs_cached=False)
    plain = api.get(f"/portfolio/{ACCT}/positions/0").json()
    assert shape_errors(example, plain) == []
    fsim.admin.config(positions_secdefs_cached=True)
    cached = api.get(f"/portfolio/{ACCT}/positions/0").json()
    documented = [{**row, "strike": 0.0, "multiplier": None} for row in cached]
    assert shape_errors(example, documented, extra={*SECDEF_ROW_KEYS, "pageSize"}) == []
    stocks = [row for row in cached if row["assetClass"] == "STK"]
    assert stocks and all(row["strike"] == "0" and row["multiplier"] == 0.0 for row in stocks)


def test_ledger_has_the_example_shape_for_every_currency(api: httpx.Client) -> None:
    example = load_fixture("portfolio_ledger")
    answer = _ledger(api)
    assert {"USD", "BASE"} <= set(answer)
    assert shape_errors(example["USD"], answer["USD"]) == []
    assert shape_errors(example["BASE"], answer["BASE"]) == []
    # The example has USD only; other currencies are shaped like it minus the end-of-bundle marker.
    plain = {k: v for k, v in example["USD"].items() if k != "endofbundle"}
    others = [c for c in answer if c not in {"USD", "BASE"}]
    assert others, "the paper account holds EUR, so the ledger is multi-currency"
    for currency in others:
        assert shape_errors(plain, answer[currency]) == [], currency


def test_unauthenticated_status_has_the_example_shape(fsim: SimServer) -> None:
    fsim.admin.drop_brokerage(timed_out=True)
    with client_for(fsim) as client:
        answer = client.post("/iserver/auth/status", json={}).json()
    assert shape_errors(load_fixture("iserver_auth_status_unauthenticated"), answer) == []
    assert answer["authenticated"] is False


def test_bracket_example_request_is_accepted(fsim: SimServer, api: httpx.Client) -> None:
    body = load_fixture("order_request_bracket")
    for order in body["orders"]:
        order["acctId"] = ACCT
    last = _last(api, AAPL)
    body["orders"][1]["price"] = round(last * 0.98, 2)  # stop below the market
    body["orders"][2]["price"] = round(last * 1.02, 2)  # take-profit above it
    _suppressed(api)
    answer = api.post(f"/iserver/account/{ACCT}/orders", json=body).json()
    assert len(answer) == 3
    assert shape_errors(load_fixture("order_submit_response"), answer) == []


# -- WebSocket examples ---------------------------------------------------------------------------


async def _ws_frames(
    sim: SimServer, messages: list[str], want: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(sim.cert_path))
    async with httpx.AsyncClient(base_url=sim.base_url, verify=context) as client:
        await client.get("/iserver/accounts")
        session = (await client.post("/tickle", json={})).json()["session"]
    cookie = "api=" + json.dumps({"session": session}, separators=(",", ":"))
    async with websockets.connect(sim.ws_url, ssl=context, additional_headers={"Cookie": cookie}) as ws:
        for message in messages:
            await ws.send(message)
        async with asyncio.timeout(10):
            while True:
                frame = json.loads(await ws.recv())
                if want(frame):
                    return dict(frame)


async def test_ws_smd_first_frame_has_the_example_shape(fsim: SimServer) -> None:
    message = f'smd+{IBM}+{{"fields":["31","84","85","86","88","7059","6509"]}}'
    frame = await _ws_frames(fsim, [message], lambda f: f.get("topic") == f"smd+{IBM}")
    assert shape_errors(load_fixture("ws_smd"), frame) == []


async def test_ws_sor_first_frame_has_the_example_shape(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        client.get("/iserver/accounts")
        _suppressed(client)
        price = round(_last(client, AAPL) * 0.9, 2)
        order = {
            "conid": AAPL,
            "side": "BUY",
            "orderType": "LMT",
            "price": price,
            "quantity": 100,
            "tif": "GTC",
        }
        order_id_of(place(client, order))
    frame = await _ws_frames(fsim, ["sor+{}"], lambda f: f.get("topic") == "sor")
    extra = ORDER_LIST_EXTRA | {"conidex", "account", "totalSize", "order_ccp_status"}
    assert shape_errors(load_fixture("ws_sor"), frame, extra=extra) == []


async def test_ws_sld_frames_have_the_example_shape(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(heartbeat_interval=0.3)
    seen: list[dict[str, Any]] = []

    def second(frame: dict[str, Any]) -> bool:
        if frame.get("topic") == f"sld+{ACCT}":
            seen.append(frame)
        return len(seen) == 2

    await _ws_frames(sim, [f"sld+{ACCT}+{{}}"], second)
    example = load_fixture("ws_sld")
    # First frame: every currency in full; a later frame without changes: {key, timestamp} only.
    assert shape_errors(example, seen[0], all_variants=False) == []
    assert any(set(e) == {"key", "timestamp"} for e in seen[1]["result"])
    assert (
        shape_errors(example, {"result": seen[0]["result"] + seen[1]["result"], "topic": seen[1]["topic"]})
        == []
    )


async def test_ws_spl_frame_has_the_documented_shape(fsim: SimServer) -> None:
    frame = await _ws_frames(fsim, ["spl+{}"], lambda f: f.get("topic") == "spl")
    # the doc sample is partial; the field list adds nl, uel, mv; el as the REST rows (issue 16.6)
    extra = {"nl", "el", "uel", "mv"}
    assert shape_errors(load_fixture("documented/ws_spl"), frame, extra=extra, maps={"args"}) == []
