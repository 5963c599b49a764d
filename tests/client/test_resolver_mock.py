"""The resolver per security type over the recorded payloads; ambiguity and no-match list candidates."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.errors import AmbiguousContractError, ContractNotFoundError, UnsupportedAssetError
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.resolver import AsyncContractResolver, ContractResolver, expires_at, month_code
from axion_broker_ibkr.store.memory import MemoryContractCache
from tests.client.conftest import Router, make_client, reply
from tests.conftest import load_fixture

AAPL_SEARCH = [
    {"conid": "265598", "symbol": "AAPL", "companyHeader": "APPLE INC - NASDAQ", "description": "NASDAQ",
     "sections": [{"secType": "STK"}, {"secType": "OPT", "months": "JAN24;FEB24"},
                  {"secType": "CFD", "conid": "1"}]},
]  # fmt: skip


def resolver(kind: str, router: Router, **kwargs: Any) -> ContractResolver | AsyncContractResolver:
    client = make_client(kind, router)
    if kind == "sync":
        return ContractResolver(client, **kwargs)  # type: ignore[arg-type]
    return AsyncContractResolver(client, **kwargs)  # type: ignore[arg-type]


async def resolve(r: ContractResolver | AsyncContractResolver, *args: Any) -> IBKRContract:
    value = r.resolve(*args)
    return await value if inspect.isawaitable(value) else value  # type: ignore[no-any-return]


async def test_us_stock_by_default(kind: str, router: Router) -> None:
    router.fixture("GET", "/trsrv/stocks", "trsrv_stocks")
    c = await resolve(resolver(kind, router), "aapl", "stock", {})
    assert (c.conid, c.sec_type, c.symbol, c.currency, c.exchange) == (265598, "STK", "AAPL", "USD", "SMART")
    assert c.listing_exchange == "NASDAQ"
    assert c.to_host()["conid"] == 265598


async def test_stock_on_another_market_reads_its_currency(kind: str, router: Router) -> None:
    router.fixture("GET", "/trsrv/stocks", "trsrv_stocks")
    router.on("GET", "/iserver/contract/38708077/info", {"con_id": 38708077, "currency": "MXN"})
    c = await resolve(resolver(kind, router), "AAPL", "stock", {"exchange": "MEXI"})
    assert (c.conid, c.currency, c.exchange) == (38708077, "MXN", "MEXI")


async def test_unknown_and_ambiguous_stocks_list_candidates(kind: str, router: Router) -> None:
    stocks = load_fixture("trsrv_stocks")
    twin = {
        "name": "APPLE TWIN",
        "assetClass": "STK",
        "contracts": [{"conid": 9, "exchange": "NYSE", "isUS": True}],
    }
    router.on("GET", "/trsrv/stocks", {"AAPL": [*stocks["AAPL"], twin]}, {"ZZZZ": []}, stocks)
    r = resolver(kind, router)
    with pytest.raises(AmbiguousContractError) as info:
        await resolve(r, "AAPL", "stock", {})
    assert len(info.value.candidates) == 2 and "265598" in str(info.value)
    with pytest.raises(ContractNotFoundError, match="ZZZZ"):
        await resolve(r, "ZZZZ", "stock", {})
    with pytest.raises(ContractNotFoundError, match="XETRA") as info2:
        await resolve(r, "AAPL", "stock", {"exchange": "XETRA"})
    assert any("MEXI" in c for c in info2.value.candidates)


async def test_option_search_strikes_info(kind: str, router: Router) -> None:
    router.on("GET", "/iserver/secdef/search", AAPL_SEARCH)
    router.fixture("GET", "/iserver/secdef/strikes", "secdef_strikes")
    router.fixture("GET", "/iserver/secdef/info", "secdef_info_OPT")
    c = await resolve(
        resolver(kind, router), "AAPL", "option", {"expiry": "20240105", "strike": 195, "right": "put"}
    )
    assert (c.conid, c.sec_type, c.right, c.strike, c.expiry, c.multiplier) == (
        667629330,
        "OPT",
        "P",
        195.0,
        "20240105",
        100.0,
    )
    assert c.underlying_conid == 265598
    assert router.paths() == [
        "/iserver/accounts",
        "/iserver/secdef/search",
        "/iserver/secdef/strikes",
        "/iserver/secdef/info",
        "/iserver/contract/rules",  # a buy's and a sell's rules, cached with the contract
        "/iserver/contract/rules",
    ]
    info = router.calls[-3].url.params
    assert (info["conid"], info["month"], info["strike"], info["right"], info["sectype"]) == (
        "265598",
        "JAN24",
        "195",
        "P",
        "OPT",
    )


async def test_option_errors(kind: str, router: Router) -> None:
    router.on("GET", "/iserver/secdef/search", AAPL_SEARCH)
    router.fixture("GET", "/iserver/secdef/strikes", "secdef_strikes")
    weekly = {**load_fixture("secdef_info_OPT")[0], "conid": 2, "maturityDate": "20240112"}
    router.on("GET", "/iserver/secdef/info", [*load_fixture("secdef_info_OPT"), weekly])
    r = resolver(kind, router)
    with pytest.raises(ContractNotFoundError, match="strike 197") as info:
        await resolve(r, "AAPL", "options", {"expiry": "20240105", "strike": 197, "right": "P"})
    assert 195.0 in info.value.candidates
    with pytest.raises(AmbiguousContractError, match="YYYYMMDD"):
        await resolve(r, "AAPL", "option", {"expiry": "202401", "strike": 195, "right": "P"})
    with pytest.raises(ValueError, match="right"):
        await resolve(r, "AAPL", "option", {"expiry": "20240105", "strike": 195})


async def test_forex_either_orientation(kind: str, router: Router) -> None:
    def pairs(request: httpx.Request) -> httpx.Response:
        ccy = request.url.params["currency"]
        return reply(200, load_fixture("currency_pairs") if ccy == "USD" else {ccy: []})

    router.on("GET", "/iserver/currency/pairs", pairs)
    r = resolver(kind, router)
    direct = await resolve(r, "USD.SGD", "forex", {})
    assert (direct.conid, direct.symbol, direct.currency, direct.exchange) == (
        37928772,
        "USD.SGD",
        "SGD",
        "IDEALPRO",
    )
    inverse = await resolve(r, "SGD/USD", "forex", {})
    assert inverse.conid == 37928772 and "inverse" in inverse.description
    with pytest.raises(ContractNotFoundError, match="XAU"):
        await resolve(r, "USDXAU", "forex", {})


@pytest.mark.parametrize(
    ("today", "details", "conid"),
    [
        (dt.date(2024, 11, 1), {}, 495512557),
        (dt.date(2024, 12, 19), {}, 495512557),  # on the cut-off day: still the front month
        (dt.date(2024, 12, 20), {}, 495512563),  # past the cut-off: roll to the next one
        (dt.date(2024, 11, 1), {"expiry": "202512"}, 495512563),
        (dt.date(2024, 11, 1), {"expiry": "20241220"}, 495512557),
    ],
)
async def test_futures_front_month_and_roll(
    kind: str, router: Router, today: dt.date, details: dict[str, Any], conid: int
) -> None:
    router.fixture("GET", "/trsrv/futures", "trsrv_futures")
    router.on(
        "GET",
        f"/iserver/contract/{conid}/info",
        {"con_id": conid, "exchange": "CME", "currency": "USD", "multiplier": "50"},
    )
    c = await resolve(resolver(kind, router, today=today), "ES", "futures", details)
    assert (c.conid, c.sec_type, c.exchange, c.multiplier) == (conid, "FUT", "CME", 50.0)
    assert c.expiry is not None and c.expiry.startswith(details.get("expiry", "")[:6])


async def test_futures_without_a_match(kind: str, router: Router) -> None:
    router.fixture("GET", "/trsrv/futures", "trsrv_futures")
    r = resolver(kind, router, today=dt.date(2024, 11, 1))
    with pytest.raises(ContractNotFoundError, match="202603") as info:
        await resolve(r, "ES", "futures", {"expiry": "202603"})
    assert len(info.value.candidates) == 2


async def test_bond_issuer_filters_info(kind: str, router: Router) -> None:
    router.fixture("GET", "/iserver/secdef/search", "secdef_search_STK")
    router.fixture("GET", "/iserver/secdef/bond-filters", "bond_filters")
    bond = {"conid": 555, "secType": "BOND", "currency": "EUR", "coupon": "1.301", "maturityDate": "20250115",
            "desc1": "IBM", "desc2": "1.301 01/15/25", "exchange": "SMART"}  # fmt: skip
    router.on("GET", "/iserver/secdef/info", [bond])
    r = resolver(kind, router)
    c = await resolve(r, "IBM", "bond", {"issuer": "e1400789", "maturity": "202501", "currency": "EUR"})
    assert (c.conid, c.sec_type, c.currency, c.coupon, c.maturity) == (555, "BOND", "EUR", 1.301, "20250115")
    assert c.issuer == "International Business Machines Corp"
    params = router.calls[-3].url.params
    assert params["issuerId"] == "e1400789" and params["sectype"] == "BOND"
    assert set(params["filters"].split(",")) == {"27:202501", "5:EUR"}
    with pytest.raises(AmbiguousContractError, match="issuer") as info:
        await resolve(r, "IBM", "bonds", {})
    assert len(info.value.candidates) == 4
    with pytest.raises(ContractNotFoundError, match="USD"):
        await resolve(r, "IBM", "bond", {"issuer": "e1400789", "currency": "USD"})


async def test_cache_memory_then_store_and_no_request_when_warm(kind: str, router: Router) -> None:
    router.fixture("GET", "/trsrv/stocks", "trsrv_stocks")
    store = MemoryContractCache()
    r = resolver(kind, router, cache=store)
    first = await resolve(r, "AAPL", "stock", {})
    n = len(router.calls)
    assert await resolve(r, "AAPL", "etf", {}) == first
    assert len(router.calls) == n
    fresh = resolver(kind, Router(), cache=store)  # a router that refuses everything
    assert await resolve(fresh, "AAPL", "stock", {}) == first


async def test_batch_stock_resolution_uses_one_request_per_hundred(kind: str, router: Router) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        syms = request.url.params["symbols"].split(",")
        body = {
            s: [
                {
                    "name": f"{s} INC",
                    "assetClass": "STK",
                    "contracts": [{"conid": 1000 + i, "exchange": "NYSE", "isUS": True}],
                }
            ]
            for i, s in enumerate(syms)
        }
        return reply(200, body)

    router.on("GET", "/trsrv/stocks", answer)
    r = resolver(kind, router)
    symbols = [f"S{i:03d}" for i in range(250)]
    value = r.resolve_stocks(symbols)
    out = await value if inspect.isawaitable(value) else value
    assert list(out) == symbols
    assert router.count("GET", "/trsrv/stocks") == 3
    again = r.resolve_stocks(symbols)
    await again if inspect.isawaitable(again) else again
    assert router.count("GET", "/trsrv/stocks") == 3


async def test_refused_assets_and_bad_details(kind: str, router: Router) -> None:
    r = resolver(kind, router)
    with pytest.raises(UnsupportedAssetError):
        await resolve(r, "BTC", "crypto", {})
    with pytest.raises(ValueError, match="details"):
        await resolve(r, "AAPL", "stock", {"colour": "red"})
    with pytest.raises(ValueError, match="expiry"):
        await resolve(r, "ES", "futures", {"expiry": "next"})
    assert router.calls == []


def test_expiry_helpers() -> None:
    assert month_code("20250117") == "JAN25" and month_code("202412") == "DEC24"
    opt = IBKRContract(conid=1, sec_type="OPT", symbol="X", expiry="20240105")
    assert expires_at(opt) == dt.datetime(2024, 1, 6, tzinfo=dt.UTC)
    assert expires_at(IBKRContract(conid=1, sec_type="STK", symbol="X")) is None
    fut = IBKRContract(conid=1, sec_type="FUT", symbol="ES", expiry="20241220")
    assert expires_at(fut, roll=dt.date(2024, 12, 19)) == dt.datetime(2024, 12, 20, tzinfo=dt.UTC)


async def test_bond_by_cusip_or_isin_where_the_search_answers_it(kind: str, router: Router) -> None:
    """Issue 10 item 6: a CUSIP / ISIN resolves when IBKR's search answers it with issuers (the
    reference does not confirm search by id); the bond is the one whose ``cusip`` is that id."""
    router.fixture("GET", "/iserver/secdef/search", "secdef_search_STK")
    router.fixture("GET", "/iserver/secdef/bond-filters", "bond_filters")
    bonds = [
        {"conid": 555, "secType": "BOND", "currency": "USD", "coupon": "3.3", "maturityDate": "20290515",
         "cusip": "459200JZ5", "desc1": "IBM", "desc2": "3.3 05/15/29", "exchange": "SMART"},
        {"conid": 556, "secType": "BOND", "currency": "USD", "coupon": "4.15", "maturityDate": "20390515",
         "cusip": "459200KA8", "desc1": "IBM", "desc2": "4.15 05/15/39", "exchange": "SMART"},
    ]  # fmt: skip

    def info(request: Any) -> Any:
        return bonds if request.url.params.get("issuerId") == "e1400789" else []

    router.on("GET", "/iserver/secdef/info", info)
    r = resolver(kind, router)
    for name in ("459200JZ5", "US459200JZ55"):
        c = await resolve(r, name, "bond", {})
        assert (c.conid, c.sec_type, c.symbol, c.maturity, c.coupon) == (555, "BOND", name, "20290515", 3.3)


async def test_bond_by_cusip_without_a_search_answer_says_what_to_do(kind: str, router: Router) -> None:
    router.on("GET", "/iserver/secdef/search", [])
    with pytest.raises(ContractNotFoundError, match="issuer's symbol"):
        await resolve(resolver(kind, router), "459200JZ5", "bond", {})
