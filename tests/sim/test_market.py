"""The paper market: fills by order type, partial fills, positions, multi-currency ledger, P&L,
snapshots, history rules and contract discovery flows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.sim import SimServer

from .conftest import AAPL, ACCT, IBM, order_id_of, place

ALL_QUESTIONS = ["o163", "o354", "o10151", "o403"]


def suppress(client: httpx.Client) -> None:
    client.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})


def status(client: httpx.Client, order_id: int) -> dict[str, Any]:
    data: dict[str, Any] = client.get(f"/iserver/account/order/status/{order_id}").json()
    return data


def position(client: httpx.Client, conid: int) -> dict[str, Any] | None:
    rows = client.get(f"/portfolio/{ACCT}/position/{conid}").json()
    return rows[0] if rows else None


def test_limit_fills_only_when_crossed(fsim: SimServer, api: httpx.Client) -> None:
    suppress(api)
    fsim.admin.set_price(AAPL, 200.0)
    order_id = order_id_of(
        place(api, {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 195.0, "quantity": 10})
    )
    assert status(api, order_id)["order_status"] == "Submitted"
    assert position(api, AAPL) is None
    fsim.admin.set_price(AAPL, 194.0)
    filled = status(api, order_id)
    assert filled["order_status"] == "Filled"
    assert float(filled["average_price"]) <= 195.0
    row = position(api, AAPL)
    assert row is not None
    assert row["position"] == 10.0
    trade = api.get("/iserver/account/trades").json()[0]
    assert (trade["side"], trade["size"], trade["conid"]) == ("B", 10.0, AAPL)
    assert isinstance(trade["price"], str)
    assert isinstance(trade["commission"], str)
    assert float(trade["commission"]) >= 1.0


def test_size_above_the_displayed_size_fills_partially(fsim: SimServer, api: httpx.Client) -> None:
    suppress(api)
    fsim.admin.pause_market()
    order_id = order_id_of(place(api, {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 50000}))
    first = float(status(api, order_id)["cum_fill"])
    assert 0 < first < 50000
    assert status(api, order_id)["order_status"] == "Submitted"
    fsim.admin.tick(seconds=1)
    fsim.admin.tick(seconds=1)
    assert float(status(api, order_id)["cum_fill"]) > first
    fills = [t for t in api.get("/iserver/account/trades").json() if t["conid"] == AAPL]
    assert len(fills) >= 3
    assert sum(t["size"] for t in fills) == float(status(api, order_id)["cum_fill"])


def test_stop_waits_presubmitted_and_triggers(fsim: SimServer, api: httpx.Client) -> None:
    suppress(api)
    fsim.admin.set_price(AAPL, 200.0)
    place(api, {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 10})
    stop_id = order_id_of(
        place(api, {"conid": AAPL, "side": "SELL", "orderType": "STP", "price": 190.0, "quantity": 10})
    )
    assert status(api, stop_id)["order_status"] == "PreSubmitted"
    fsim.admin.set_price(AAPL, 195.0)
    assert status(api, stop_id)["order_status"] == "PreSubmitted"
    fsim.admin.set_price(AAPL, 189.0)
    assert status(api, stop_id)["order_status"] == "Filled"
    assert position(api, AAPL) is None


def test_stop_limit_and_trailing_stop(fsim: SimServer, api: httpx.Client) -> None:
    suppress(api)
    fsim.admin.set_price(AAPL, 200.0)
    place(api, {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 20})
    trail = order_id_of(
        place(
            api,
            {
                "conid": AAPL,
                "side": "SELL",
                "orderType": "TRAIL",
                "quantity": 10,
                "trailingAmt": 5.0,
                "trailingType": "amt",
            },
        )
    )
    fsim.admin.set_price(AAPL, 210.0)  # the trail follows up to 205
    fsim.admin.set_price(AAPL, 206.0)
    assert status(api, trail)["order_status"] == "PreSubmitted"
    fsim.admin.set_price(AAPL, 204.0)
    assert status(api, trail)["order_status"] == "Filled"
    stop_limit = order_id_of(
        place(
            api,
            {
                "conid": AAPL,
                "side": "SELL",
                "orderType": "STOP_LIMIT",
                "price": 199.0,
                "auxPrice": 200.0,
                "quantity": 10,
            },
        )
    )
    fsim.admin.set_price(AAPL, 198.0)  # triggered, but the bid is below the 199 limit
    assert status(api, stop_limit)["order_status"] == "Submitted"
    fsim.admin.set_price(AAPL, 199.5)
    assert status(api, stop_limit)["order_status"] == "Filled"


def test_ledger_and_positions_follow_a_fill_in_another_currency(fsim: SimServer, api: httpx.Client) -> None:
    suppress(api)
    sap = next(c for c in api.get("/trsrv/stocks", params={"symbols": "SAP"}).json()["SAP"][0]["contracts"])
    assert sap["isUS"] is False
    conid = sap["conid"]
    fsim.admin.pause_market()  # keep EUR.USD still between the two ledger reads
    fsim.admin.set_price(conid, 180.0)
    before = api.get(f"/portfolio/{ACCT}/ledger").json()
    place(api, {"conid": conid, "side": "BUY", "orderType": "MKT", "quantity": 100})
    after = api.get(f"/portfolio/{ACCT}/ledger").json()
    eur = after["EUR"]
    spent = before["EUR"]["cashbalance"] - eur["cashbalance"]
    assert 18000 < spent < 18100  # 100 x ~180 EUR plus commission
    assert eur["stockmarketvalue"] == 18000.0
    rate = eur["exchangerate"]
    assert rate > 1.0  # EUR is worth more than a USD in the seeded market
    base_delta = after["BASE"]["cashbalance"] - before["BASE"]["cashbalance"]
    assert abs(base_delta + spent * rate) < 1.0
    row = position(api, conid)
    assert row is not None
    assert (row["currency"], row["position"], row["mktValue"]) == ("EUR", 100.0, 18000.0)


def test_round_trip_realises_pnl(fsim: SimServer, api: httpx.Client) -> None:
    suppress(api)
    fsim.admin.set_price(IBM, 100.0)
    place(api, {"conid": IBM, "side": "BUY", "orderType": "LMT", "price": 100.02, "quantity": 10})
    bought = position(api, IBM)
    assert bought is not None
    fsim.admin.set_price(IBM, 110.0)
    assert position(api, IBM)["unrealizedPnl"] > 0  # type: ignore[index]
    place(api, {"conid": IBM, "side": "SELL", "orderType": "LMT", "price": 109.98, "quantity": 10})
    assert position(api, IBM) is None
    realized = api.get(f"/portfolio/{ACCT}/ledger").json()["USD"]["realizedpnl"]
    expected = (109.99 - bought["avgPrice"]) * 10
    assert abs(realized - expected) < 0.02
    pnl = api.get("/iserver/account/pnl/partitioned").json()["upnl"][f"{ACCT}.Core"]
    assert pnl["rowType"] == 1
    assert pnl["nl"] > 0
    # uel (unrounded excess liquidity) comes with el; el is its rounded form.
    assert pnl["el"] == round(pnl["uel"], 2)


def test_accounts_chart_periods_list_crypto(fsim: SimServer, api: httpx.Client) -> None:
    periods = api.get("/iserver/accounts").json()["chartPeriods"]
    assert "CRYPTO" in periods and isinstance(periods["CRYPTO"], list)


def test_positions_are_paged(fsim: SimServer, api: httpx.Client) -> None:
    fsim.admin.config(positions_page_size=2)
    pages = [api.get(f"/portfolio/{ACCT}/positions/{n}").json() for n in range(3)]
    assert [len(p) for p in pages] == [2, 1, 0]
    conids = {r["conid"] for p in pages for r in p}
    assert len(conids) == 3
    # Secdefs cached (the default): every row says the page size in force, so a reader can stop
    # at the short page 1 instead of asking for the empty page 2.
    assert [r["pageSize"] for p in pages for r in p] == [2, 2, 2]


def test_position_rows_carry_secdef_keys_only_once_cached(fsim: SimServer, api: httpx.Client) -> None:
    spy = next(r for r in api.get(f"/portfolio/{ACCT}/positions/0").json() if r["contractDesc"] == "SPY")
    assert (spy["pageSize"], spy["ticker"], spy["listingExchange"], spy["isUS"]) == (100, "SPY", "ARCA", True)
    # With the secdef keys a row takes the secdef's strike text and multiplier 0.0, as ibind's recorded
    # real-gateway response shows (issue 16.6); the documented example without them has 0.0 / null.
    assert (spy["strike"], spy["multiplier"]) == ("0", 0.0)
    assert fsim.admin.config(positions_secdefs_cached=False)["positions_secdefs_cached"] is False
    plain = api.get(f"/portfolio/{ACCT}/positions/0").json()
    assert plain and not [r for r in plain if {"pageSize", "ticker", "isUS"} & r.keys()]
    with pytest.raises(ValueError, match="positions_secdefs_cached"):
        fsim.admin.config(positions_secdefs_cached="yes")


def test_snapshot_preflight_formatting_and_expiry(fsim: SimServer, api: httpx.Client) -> None:
    fsim.admin.config(idle_timeout=100000)
    fields = "31,84,85,86,88,87,7762,55,7051,6509,7059"
    params = {"conids": f"{AAPL}", "fields": fields}
    assert api.get("/iserver/marketdata/snapshot", params=params).json() == [
        {"conid": AAPL, "conidEx": str(AAPL)}
    ]
    quote = api.get("/iserver/marketdata/snapshot", params=params).json()[0]
    assert all(isinstance(quote[f], str) for f in fields.split(","))
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", quote["88"])
    assert re.fullmatch(r"[\d.]+[KM]?", quote["87"])
    assert quote["7762"].isdigit()
    assert (quote["55"], quote["7051"], quote["6509"]) == ("AAPL", "APPLE INC", "RpB")
    assert float(quote["84"]) < float(quote["86"])
    fsim.admin.advance_clock(15 * 60 + 1)  # unread streams expire after 15 minutes
    assert api.get("/iserver/marketdata/snapshot", params=params).json() == [
        {"conid": AAPL, "conidEx": str(AAPL)}
    ]


def test_unsubscribe(fsim: SimServer, api: httpx.Client) -> None:
    params = {"conids": f"{AAPL},{IBM}", "fields": "31"}
    api.get("/iserver/marketdata/snapshot", params=params)
    assert api.post("/iserver/marketdata/unsubscribe", json={"conid": AAPL}).json() == {"success": True}
    assert api.post("/iserver/marketdata/unsubscribe", json={"conid": AAPL}).status_code == 500
    again = api.get("/iserver/marketdata/snapshot", params=params).json()
    assert again[0] == {"conid": AAPL, "conidEx": str(AAPL)}
    assert "31" in again[1]
    assert api.get("/iserver/marketdata/unsubscribeall").json() == {"unsubscribed": True}
    assert "31" not in api.get("/iserver/marketdata/snapshot", params=params).json()[1]


def test_history_rules(fsim: SimServer, api: httpx.Client) -> None:
    def history(bar: str, period: str) -> httpx.Response:
        return api.get("/iserver/marketdata/history", params={"conid": AAPL, "bar": bar, "period": period})

    week = history("1d", "1w").json()
    assert len(week["data"]) == 5  # a stock's daily bars: no Saturday or Sunday
    assert week["points"] == 5
    assert [b["t"] for b in week["data"]] == sorted(b["t"] for b in week["data"])
    assert week["barLength"] == 86400
    fsim.admin.set_price(AAPL, 201.0)
    assert history("1h", "1d").json()["data"][-1]["c"] == 201.0  # the last bar ends at the last price
    intraday = history("10min", "1w").json()["data"]  # 1000 slots (the cap), ~5/7 on weekdays
    assert 700 <= len(intraday) <= 720
    assert {dt.datetime.fromtimestamp(b["t"] / 1000, tz=dt.UTC).weekday() for b in intraday} <= set(range(5))
    wrong_step = history("1min", "1y")
    assert wrong_step.status_code == 500
    assert "1min" in wrong_step.json()["error"]
    assert history("7min", "1d").status_code == 400
    assert history("1d", "2000d").status_code == 400
    assert api.get("/iserver/marketdata/history", params={"conid": 1, "bar": "1d"}).status_code == 400


def test_option_chain_discovery(fsim: SimServer, api: httpx.Client) -> None:
    month_params: dict[str, str | int | float] = {"conid": AAPL, "sectype": "OPT"}
    early = api.get("/iserver/secdef/strikes", params={**month_params, "month": "JAN30"}).json()
    assert early == {"call": [], "put": []}
    search = api.get("/iserver/secdef/search", params={"symbol": "AAPL"}).json()
    us = search[0]
    assert us["conid"] == str(AAPL)
    months = next(s["months"] for s in us["sections"] if s["secType"] == "OPT").split(";")
    assert len(months) >= 3
    assert len(us["opt"].split(";")) >= 4
    strikes = api.get("/iserver/secdef/strikes", params={**month_params, "month": months[1]}).json()
    assert len(strikes["call"]) >= 10
    strike = strikes["call"][5]
    calls = api.get(
        "/iserver/secdef/info", params={**month_params, "month": months[1], "strike": strike, "right": "C"}
    ).json()
    assert calls
    assert all(c["right"] == "C" and c["strike"] == strike and c["multiplier"] == "100" for c in calls)
    both = api.get(
        "/iserver/secdef/info", params={**month_params, "month": months[1], "strike": strike}
    ).json()
    assert {c["right"] for c in both} == {"C", "P"}
    suppress(api)
    option = calls[0]["conid"]
    answer = place(api, {"conid": option, "side": "BUY", "orderType": "MKT", "quantity": 1})
    assert status(api, order_id_of(answer))["order_status"] == "Filled"
    row = position(api, option)
    assert row is not None
    assert (row["assetClass"], row["putOrCall"], row["undConid"]) == ("OPT", "C", AAPL)


def test_futures_listing_rolls_with_the_clock(fsim: SimServer, api: httpx.Client) -> None:
    for symbol in ("ES", "NQ", "CL", "GC", "6E"):
        listed = api.get("/trsrv/futures", params={"symbols": symbol}).json()[symbol]
        assert len(listed) >= 3, symbol
        assert all(f["longFuturesCutOff"] <= f["ltd"] <= f["expirationDate"] for f in listed)
    front = api.get("/trsrv/futures", params={"symbols": "ES"}).json()["ES"]
    import datetime as dt

    ltd = dt.datetime.strptime(str(front[0]["ltd"]), "%Y%m%d").date()
    days = (ltd - dt.datetime.now(dt.UTC).date()).days + 1
    fsim.admin.config(idle_timeout=10**9)
    fsim.admin.advance_clock(days * 86400)
    rolled = api.get("/trsrv/futures", params={"symbols": "ES"}).json()["ES"]
    assert rolled[0]["conid"] == front[1]["conid"]
    search = api.get("/iserver/secdef/search", params={"symbol": "ES", "secType": "FUT"}).json()
    assert search[0]["conid"] == "11004968"
    info = api.get("/iserver/secdef/info", params={"conid": 11004968, "sectype": "FUT"}).json()
    assert {i["conid"] for i in info} == {f["conid"] for f in rolled}


def test_bond_issuer_filters_info_flow(fsim: SimServer, api: httpx.Client) -> None:
    search = api.get("/iserver/secdef/search", params={"symbol": "IBM", "secType": "BOND"}).json()
    assert len(search) == 1
    issuers = {i["name"]: i["id"] for i in search[0]["issuers"]}
    issuer = issuers["International Business Machines Corp"]
    filters = api.get("/iserver/secdef/bond-filters", params={"symbol": "BOND", "issuerId": issuer}).json()
    columns = {f["columnId"]: f for f in filters["bondFilters"]}
    assert set(columns) == {0, 5, 25, 27, 28}
    maturity = columns[27]["options"][0]["value"]
    everything = api.get("/iserver/secdef/info", params={"issuerId": issuer, "sectype": "BOND"}).json()
    narrowed = api.get(
        "/iserver/secdef/info",
        params={"issuerId": issuer, "sectype": "BOND", "filters": f"0:SMART,27:{maturity}"},
    ).json()
    assert 1 <= len(narrowed) < len(everything)
    assert all(b["maturityDate"].startswith(maturity) for b in narrowed)
    assert (
        api.get(
            "/iserver/secdef/info", params={"issuerId": issuer, "sectype": "BOND", "filters": "x"}
        ).status_code
        == 500
    )
    treasury = api.get("/iserver/secdef/search", params={"symbol": "US-T", "secType": "BOND"}).json()
    assert treasury[0]["issuers"][0]["name"] == "United States Treasury"
    suppress(api)
    bond = narrowed[0]["conid"]
    fsim.admin.set_price(bond, 98.0)
    place(api, {"conid": bond, "side": "BUY", "orderType": "MKT", "quantity": 10000})
    row = position(api, bond)
    assert row is not None
    assert abs(row["mktValue"] - 9800.0) < 0.01  # face 10,000 at 98 % of par


def test_discovery_endpoints(fsim: SimServer, api: httpx.Client) -> None:
    pairs = api.get("/iserver/currency/pairs", params={"currency": "EUR"}).json()["EUR"]
    assert {"symbol": "EUR.USD", "conid": 12087792, "ccyPair": "USD"} in pairs
    info = api.get("/iserver/contract/12087792/info").json()
    assert (info["instrument_type"], info["exchange"]) == ("CASH", "IDEALPRO")
    secdef = api.get("/trsrv/secdef", params={"conids": f"{AAPL},{IBM}"}).json()["secdef"]
    assert [s["ticker"] for s in secdef] == ["AAPL", "IBM"]
    too_many = ",".join(str(i) for i in range(201))
    assert api.get("/trsrv/secdef", params={"conids": too_many}).status_code == 400
    stocks = api.get("/trsrv/stocks", params={"symbols": "AAPL,IBM"}).json()
    assert stocks["AAPL"][0]["contracts"][0] == {"conid": AAPL, "exchange": "NASDAQ", "isUS": True}
    assert {c["exchange"] for c in stocks["IBM"][0]["contracts"]} == {"NYSE", "LSE"}
    rules = api.post("/iserver/contract/rules", json={"conid": AAPL, "isBuy": True}).json()
    assert rules["canTradeAcctIds"] == ["DU1234567", "DU7654321"]
    by_name = api.get("/iserver/secdef/search", params={"symbol": "apple", "name": "true"}).json()
    assert by_name[0]["symbol"] == "AAPL"
    assert "sections" not in by_name[0]
    posted = api.post("/iserver/secdef/search", json={"symbol": "SPY", "secType": "STK"}).json()
    assert posted[0]["conid"] == "756733"


def test_position_variants(fsim: SimServer, api: httpx.Client) -> None:
    spy = 756733
    by_account = api.get(f"/portfolio/positions/{spy}").json()
    assert list(by_account) == [ACCT]
    assert by_account[ACCT][0]["position"] == 5.0
    near_real_time = api.get(f"/portfolio2/{ACCT}/positions").json()
    assert {r["conid"] for r in near_real_time} == {
        r["conid"] for r in api.get(f"/portfolio/{ACCT}/positions/0").json()
    }
    assert all(r["secType"] == "STK" and isinstance(r["marketValue"], float) for r in near_real_time)
    listed = api.get("/trsrv/all-conids", params={"exchange": "TSEJ"}).json()
    assert [r["ticker"] for r in listed] == ["6758", "7203"]


def test_expired_options_leave_the_chain_and_name_search_resets_it(
    fsim: SimServer, api: httpx.Client
) -> None:
    def months() -> list[str]:
        search = api.get("/iserver/secdef/search", params={"symbol": "AAPL"}).json()
        return str(next(s["months"] for s in search[0]["sections"] if s["secType"] == "OPT")).split(";")

    first = months()
    strikes = api.get(
        "/iserver/secdef/strikes", params={"conid": AAPL, "sectype": "OPT", "month": first[0]}
    ).json()
    assert strikes["call"]
    api.get("/iserver/secdef/search", params={"symbol": "APPLE", "name": "true"})
    emptied = api.get(
        "/iserver/secdef/strikes", params={"conid": AAPL, "sectype": "OPT", "month": first[0]}
    ).json()
    assert emptied == {"call": [], "put": []}
    fsim.admin.config(idle_timeout=10**9)
    fsim.admin.advance_clock(70 * 86400)
    later = months()
    assert first[0] not in later
    assert len(later) < len(first)


def _instrument(sec_type: str) -> Any:
    from axion_broker_ibkr.sim.engine.universe import Instrument

    return Instrument(1, "X", sec_type, "USD", "SMART", "NASDAQ", "X", 10.0)


@pytest.mark.parametrize(
    ("sec_type", "when", "bar_s", "open_"),
    [
        ("STK", "2026-12-05 15:00", 86400, False),  # Saturday
        ("STK", "2026-12-06 00:00", 86400, False),  # Sunday
        ("STK", "2026-12-04 00:00", 86400, True),  # Friday
        ("STK", "2026-12-06 23:00", 3600, False),  # Sunday evening: no stock session
        ("CASH", "2026-12-06 23:00", 3600, True),  # forex opens Sunday evening (New York 17:00)
        ("CASH", "2026-12-06 12:00", 3600, False),
        ("CASH", "2026-12-04 23:00", 3600, False),  # Friday after the close
        ("CASH", "2026-12-06 00:00", 86400, False),  # daily forex bars: Monday to Friday
        ("FUT", "2026-12-06 22:00", 3600, True),
        ("CRYPTO", "2026-12-05 12:00", 86400, True),  # crypto trades every day
        ("CRYPTO", "2026-12-06 03:00", 3600, True),
        ("STK", "2026-12-06 00:00", 7 * 86400, True),  # weekly bars are never dropped
    ],
)
def test_history_sessions_leave_out_weekends_where_the_market_is_closed(
    sec_type: str, when: str, bar_s: int, open_: bool
) -> None:
    from axion_broker_ibkr.sim.engine.history import trades_at

    start = dt.datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC).timestamp()
    assert trades_at(_instrument(sec_type), start, bar_s) is open_


def test_history_window_on_a_weekend_answers_the_last_session() -> None:
    from axion_broker_ibkr.sim.engine.history import _session_starts

    sunday = int(dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp()) // 3600 * 3600
    starts = _session_starts(_instrument("STK"), sunday, 3600, 24)
    days = {dt.datetime.fromtimestamp(s, tz=dt.UTC).date() for s in starts}
    assert days == {dt.date(2026, 12, 4)}  # Friday's bars, not an empty answer
    assert len(starts) == 24
