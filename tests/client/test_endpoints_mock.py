"""Every read call of both clients against the recorded CPAPI payloads (httpx.MockTransport).

The router fails the test on any route it was not told about, so these also pin down exactly
which requests each call makes.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.client.conftest import Router, call, make_client, reply
from tests.conftest import load_fixture


def _position_rows(n: int, start: int = 0, page_size: int | None = 100) -> list[dict[str, Any]]:
    row = {**load_fixture("portfolio_positions")[0], "pageSize": page_size}
    if page_size is None:
        del row["pageSize"]
    return [{**row, "conid": 1000 + start + i} for i in range(n)]


async def test_session_calls(kind: str, router: Router) -> None:
    router.fixture("POST", "/iserver/auth/status", "iserver_auth_status")
    router.fixture("POST", "/tickle", "tickle")
    router.on("POST", "/iserver/auth/ssodh/init", load_fixture("iserver_auth_status"))
    client = make_client(kind, router)
    status = await call(client.auth_status())
    assert status.authenticated is True and status.competing is False
    tickle = await call(client.tickle())
    assert tickle.session == "bb665d0f55b6289d70bc7380089fc96f"
    assert tickle.iserver is not None and tickle.iserver.auth_status is not None
    await call(client.init_session(compete=False))
    init = next(r for r in router.calls if r.url.path.endswith("/ssodh/init"))
    assert json.loads(init.content) == {"publish": True, "compete": False}
    # A POST always carries a body (IBKR answers 411 otherwise).
    assert all(r.content for r in router.calls if r.method == "POST")


async def test_accounts_and_portfolio(kind: str, router: Router) -> None:
    router.fixture("GET", "/portfolio/accounts", "portfolio_accounts")
    router.fixture("GET", "/portfolio/U1234567/summary", "portfolio_accounts")  # replaced below
    router.routes[("GET", "/v1/api/portfolio/U1234567/summary")] = [
        {
            "netliquidation": {"amount": 1000.5, "currency": "USD", "isNull": False},
            "accountcode": {"value": "U1234567"},
        }
    ]
    router.fixture("GET", "/portfolio/U1234567/ledger", "portfolio_ledger")
    client = make_client(kind, router)
    accts = await call(client.accounts())
    assert accts.selected_account == "U1234567"
    assert client.account_id == "U1234567"
    summary = await call(client.account_summary())
    assert summary["netliquidation"].amount == 1000.5
    assert summary["accountcode"].value == "U1234567"
    ledger = await call(client.ledger())
    assert "BASE" in ledger
    # /portfolio/accounts is called (once) before any other /portfolio call, as IBKR requires.
    paths = router.paths()
    assert paths.index("/portfolio/accounts") < paths.index("/portfolio/U1234567/summary")
    assert router.count("GET", "/portfolio/accounts") == 1


async def test_positions_reads_every_page(kind: str, router: Router) -> None:
    router.on("GET", "/portfolio/accounts", [])
    router.on("GET", "/portfolio/DU1/positions/0", _position_rows(100))
    router.on("GET", "/portfolio/DU1/positions/1", _position_rows(100, 100))
    router.on("GET", "/portfolio/DU1/positions/2", _position_rows(7, 200))
    client = make_client(kind, router, account_id="DU1")
    rows = await call(client.positions())
    assert len(rows) == 207
    assert len({r.conid for r in rows}) == 207
    assert router.count("GET", "/portfolio/DU1/positions/3") == 0


async def test_positions_without_page_size_are_followed_to_an_empty_page(kind: str, router: Router) -> None:
    router.on("GET", "/portfolio/accounts", [])
    router.on("GET", "/portfolio/DU1/positions/0", _position_rows(3, page_size=None))
    router.on("GET", "/portfolio/DU1/positions/1", _position_rows(3, 3, page_size=None))
    router.on("GET", "/portfolio/DU1/positions/2", [])
    client = make_client(kind, router, account_id="DU1")
    assert len(await call(client.positions())) == 6


async def test_positions_stop_when_the_server_ignores_the_page(kind: str, router: Router) -> None:
    router.on("GET", "/portfolio/accounts", [])
    for page in range(2):
        router.on("GET", f"/portfolio/DU1/positions/{page}", _position_rows(2, page_size=None))
    client = make_client(kind, router, account_id="DU1")
    assert len(await call(client.positions())) == 2


async def test_pnl(kind: str, router: Router) -> None:
    router.fixture("GET", "/iserver/account/pnl/partitioned", "pnl_partitioned")
    client = make_client(kind, router)
    rows = await call(client.pnl())
    assert all(key.endswith(".Core") for key in rows)


async def test_live_orders_call_twice_then_once_and_filter_locally(kind: str, router: Router) -> None:
    data = load_fixture("live_orders")
    submitted = {**data["orders"][0], "orderId": 2, "status": "Submitted", "order_ref": "B"}
    full = {"orders": [data["orders"][0], submitted], "snapshot": True}
    router.on("GET", "/iserver/account/orders", {"orders": [], "snapshot": True}, full)
    client = make_client(kind, router)
    orders = await call(client.live_orders())
    assert [o.order_id for o in orders] == [1234568790, 2]  # the empty pre-flight answer was not trusted
    assert router.count("GET", "/iserver/account/orders") == 2
    only = await call(client.live_orders(filters=["Submitted"]))  # any spelling; filtered locally
    assert [o.client_order_id for o in only] == ["B"]
    assert router.count("GET", "/iserver/account/orders") == 3  # primed: one call now
    sent = [r for r in router.calls if r.url.path.endswith("/account/orders")]
    assert all(r.url.params.get("accountId") == "U1234567" for r in sent)
    assert all("filters" not in r.url.params for r in sent)


async def test_live_orders_force_resets_the_cache_and_asks_again(kind: str, router: Router) -> None:
    router.on("GET", "/iserver/account/orders", load_fixture("live_orders"))
    client = make_client(kind, router)
    await call(client.live_orders())
    await call(client.live_orders(force=True))
    forced = [r.url.params.get("force") for r in router.calls if r.url.path.endswith("/account/orders")]
    assert forced == [None, None, "true", None, None]


async def test_live_orders_refuses_unknown_filters(kind: str, router: Router) -> None:
    client = make_client(kind, router)
    with pytest.raises(ValueError, match="filters"):
        await call(client.live_orders(filters="Working"))
    assert router.calls == []


async def test_order_status_and_trades(kind: str, router: Router) -> None:
    router.fixture("GET", "/iserver/account/order/status/1799796559", "order_status")
    router.fixture("GET", "/iserver/account/trades", "trades")
    client = make_client(kind, router)
    status = await call(client.order_status("1799796559"))
    assert status.order_status
    trades = await call(client.trades(days=3))
    assert trades and trades[0].execution_id
    trade_req = next(r for r in router.calls if r.url.path.endswith("/trades"))
    assert trade_req.url.params["days"] == "3"
    with pytest.raises(ValueError, match="days"):
        await call(client.trades(days=8))
    with pytest.raises(ValueError, match="order_id"):
        await call(client.order_status("12; DROP"))


async def test_cancel_ack_and_refusal(kind: str, router: Router) -> None:
    router.fixture("DELETE", "/iserver/account/U1234567/order/987654", "order_cancel")
    router.on("DELETE", "/iserver/account/U1234567/order/1", {"error": "OrderID 1 doesn't exist"})
    # Without sec_type (and no order log) the client reads the order's own first (futures fields).
    router.on("GET", "/iserver/account/order/status/987654", {"order_id": 987654, "sec_type": "STK"})
    router.on("GET", "/iserver/account/order/status/1", httpx.Response(400, json={"error": "no such order"}))
    client = make_client(kind, router)
    ack = await call(client.cancel_order("987654"))
    assert ack.order_id == 987654 and ack.msg == "Request was submitted"
    from axion_broker_ibkr.errors import OrderRejectedError

    with pytest.raises(OrderRejectedError, match="doesn't exist"):
        await call(client.cancel_order(1))
    assert "extOperator" not in router.calls[-1].url.params


async def test_futures_cancel_finds_the_sec_type_itself(kind: str, router: Router) -> None:
    router.on("GET", "/iserver/account/order/status/5", {"order_id": 5, "sec_type": "FUT"})
    router.fixture("DELETE", "/iserver/account/U1234567/order/5", "order_cancel")
    client = make_client(kind, router, futures_operator="desk-7")
    await call(client.cancel_order(5))
    params = router.calls[-1].url.params
    assert params["extOperator"] == "desk-7" and params["manualIndicator"] == "false"


async def test_futures_cancel_carries_the_compliance_fields(kind: str, router: Router) -> None:
    router.fixture("DELETE", "/iserver/account/U1234567/order/5", "order_cancel")
    client = make_client(kind, router, futures_operator="desk-7")
    await call(client.cancel_order(5, sec_type="FUT"))
    params = router.calls[-1].url.params
    assert params["extOperator"] == "desk-7" and params["manualIndicator"] == "false"


async def test_snapshot_asks_again_only_for_conids_without_data(kind: str, router: Router) -> None:
    data_row = load_fixture("marketdata_snapshot")[0]
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        conids = request.url.params["conids"]
        seen.append(conids)
        if len(seen) == 1:
            return reply(200, [{**data_row, "conid": 265598}, {"conid": 8314, "conidEx": "8314"}])
        return reply(200, [{**data_row, "conid": 8314, "conidEx": "8314"}])

    router.on("GET", "/iserver/marketdata/snapshot", answer)
    client = make_client(kind, router)
    quotes = await call(client.snapshot([265598, 8314], fields=["31", "84", "86"]))
    assert seen == ["265598,8314", "8314"]
    assert [q.conid for q in quotes] == [265598, 8314]
    assert all(q.has_data and q.last is not None for q in quotes)
    assert quotes[0].missing_fields == ()


async def test_snapshot_gives_up_after_the_wait_and_names_missing_fields(kind: str, router: Router) -> None:
    router.fixture("GET", "/iserver/marketdata/snapshot", "marketdata_snapshot_preflight")
    client = make_client(kind, router)
    quotes = await call(client.snapshot([265598, 8314], fields=["31", "84"], wait=0.3))
    assert [q.has_data for q in quotes] == [False, False]
    assert quotes[0].missing_fields == ("31", "84")
    assert quotes[0].last is None  # unknown, never zero
    assert 2 <= router.count("GET", "/iserver/marketdata/snapshot") <= 4


async def test_snapshot_validates_before_sending(kind: str, router: Router) -> None:
    client = make_client(kind, router)
    with pytest.raises(ValueError, match="conids"):
        await call(client.snapshot(["AAPL"]))
    with pytest.raises(ValueError, match="fields"):
        await call(client.snapshot([1], fields=[str(i) for i in range(51)]))
    assert router.calls == []


async def test_history_parses_and_validates_before_sending(kind: str, router: Router) -> None:
    router.fixture("GET", "/iserver/marketdata/history", "marketdata_history")
    client = make_client(kind, router)
    hist = await call(client.history(265598, bar="1h", period="1w"))
    assert hist.bars and hist.bars[0].time > 0
    sent = router.calls[-1].url.params
    assert (sent["bar"], sent["period"], sent["conid"]) == ("1h", "1w", "265598")
    n = len(router.calls)
    for bar, period, field in [
        ("1min", "1y", "bar"),
        ("7min", "1d", "bar"),
        ("1d", "2000d", "period"),
        ("1w", "1d", "bar"),
    ]:
        with pytest.raises(ValueError, match=field):
            await call(client.history(265598, bar=bar, period=period))
    assert len(router.calls) == n


async def test_history_no_data_is_an_empty_answer(kind: str, router: Router) -> None:
    router.on("GET", "/iserver/marketdata/history", reply(500, {"error": "Chart data unavailable: No data."}))
    client = make_client(kind, router)
    hist = await call(client.history(265598, bar="1d", period="1m"))
    assert hist.bars == []
    assert "No data" in (hist.text or "")


async def test_contract_lookups(kind: str, router: Router) -> None:
    router.fixture("GET", "/iserver/secdef/search", "secdef_search_STK")
    router.fixture("GET", "/iserver/contract/265598/info", "contract_info")
    router.fixture("POST", "/iserver/contract/rules", "contract_rules")
    router.fixture("GET", "/trsrv/stocks", "trsrv_stocks")
    router.fixture("GET", "/trsrv/futures", "trsrv_futures")
    router.fixture("GET", "/iserver/currency/pairs", "currency_pairs")
    router.fixture("GET", "/iserver/secdef/strikes", "secdef_strikes")
    router.fixture("GET", "/iserver/secdef/info", "secdef_info_OPT")
    router.fixture("GET", "/iserver/secdef/bond-filters", "bond_filters")
    client = make_client(kind, router)
    found = await call(client.search("ibm"))
    assert found[0].conid == 8314
    assert (await call(client.contract_info(265598))).conid == 265598
    rules = await call(client.contract_rules(265598, is_buy=False))
    assert rules.order_types
    assert json.loads(router.calls[-1].content) == {"conid": 265598, "isBuy": False}
    stocks = await call(client.stocks(["aapl"]))
    assert stocks["AAPL"][0].contracts[0].conid == 265598
    assert router.calls[-1].url.params["symbols"] == "AAPL"
    fut = await call(client.futures(["ES"]))
    assert fut["ES"][0].expiration_date is not None
    pairs = await call(client.currency_pairs("usd"))
    assert pairs[0].symbol == "USD.SGD"
    strikes = await call(client.strikes(265598, "jan24"))
    assert strikes.call and strikes.put
    assert router.calls[-1].url.params["month"] == "JAN24"
    info = await call(client.secdef_info(265598, "OPT", month="JAN24", strike=195.0, right="p"))
    assert info[0].conid == 667629330
    assert router.calls[-1].url.params["right"] == "P"
    assert router.calls[-1].url.params["strike"] == "195"
    filters = await call(client.bond_filters("e1400715"))
    assert {f.column_id for f in filters} == {0, 27, 28, 25, 5}
    assert router.calls[-1].url.params["issuerId"] == "e1400715"
    with pytest.raises(ValueError, match="month"):
        await call(client.strikes(265598, "2024-01"))
    with pytest.raises(ValueError, match="currency"):
        await call(client.currency_pairs("dollars"))


async def test_unsubscribe_tolerates_both_unknown_stream_answers(kind: str, router: Router) -> None:
    router.on(
        "POST",
        "/iserver/marketdata/unsubscribe",
        {"success": True},
        reply(500, {"error": "unknown"}),
        reply(404),
    )
    router.on("GET", "/iserver/marketdata/unsubscribeall", {"unsubscribed": True})
    client = make_client(kind, router)
    assert await call(client.unsubscribe(265598)) is True
    assert await call(client.unsubscribe(265598)) is False
    assert await call(client.unsubscribe(265598)) is False
    assert await call(client.unsubscribe_all()) is True
