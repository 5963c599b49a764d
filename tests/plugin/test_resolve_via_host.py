"""``axion_broker_resolve`` through the reference host: contract dicts of HOST_CONTRACT §2."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.errors import ContractNotFoundError, UnsupportedAssetError
from tests.host.multi_broker import HostError, MultiBroker

CONTRACT_KEYS = {"conid", "sec_type", "symbol", "exchange", "currency", "multiplier", "expiry", "strike",
                 "right", "description"}  # fmt: skip


@pytest.fixture
async def host(fresh_sim: Any) -> Any:
    mb = MultiBroker()
    adapter = mb.adapter(
        "ibkr",
        {"mode": "sim", "sim_url": fresh_sim.root_url, "ssl_verify": fresh_sim.cert_fingerprint,
         "max_requests_per_minute": 600},
    )  # fmt: skip
    yield mb
    await adapter.disconnect()


async def test_stock_etf_forex_futures(host: MultiBroker) -> None:
    aapl = await host.resolve("ibkr", "AAPL", "stock")
    assert set(aapl) >= CONTRACT_KEYS
    assert (aapl["conid"], aapl["sec_type"], aapl["currency"]) == (265598, "STK", "USD")
    spy = await host.resolve("ibkr", "SPY", "etf")
    assert spy["sec_type"] == "STK" and spy["conid"] == 756733
    eur = await host.resolve("ibkr", "EUR.USD", "forex")
    assert (eur["sec_type"], eur["conid"], eur["exchange"]) == ("CASH", 12087792, "IDEALPRO")
    es = await host.resolve("ibkr", "ES", "futures")
    assert es["sec_type"] == "FUT" and es["expiry"] and len(es["expiry"]) == 8 and es["multiplier"]


async def test_option_by_expiry_strike_right(host: MultiBroker) -> None:
    adapter = host.adapters["ibkr"]
    found = await adapter.client.search("AAPL")
    section = next(s for r in found if r.conid == 265598 for s in r.sections if s.sec_type == "OPT")
    month = (section.months or "").split(";")[0]
    strikes = await adapter.client.strikes(265598, month)
    strike = strikes.call[len(strikes.call) // 2]
    infos = await adapter.client.secdef_info(265598, "OPT", month=month, strike=strike, right="C")
    expiry = infos[0].maturity_date
    opt = await host.resolve("ibkr", "AAPL", "options", {"expiry": expiry, "strike": strike, "right": "C"})
    assert (opt["sec_type"], opt["expiry"], opt["strike"], opt["right"]) == ("OPT", expiry, strike, "C")
    assert opt["conid"] == infos[0].conid and opt["multiplier"] == 100.0


async def test_unknown_and_refused(host: MultiBroker) -> None:
    with pytest.raises(ContractNotFoundError, match="NOSUCH"):
        await host.resolve("ibkr", "NOSUCH", "stock")
    with pytest.raises(UnsupportedAssetError):
        await host.resolve("ibkr", "BTC", "crypto")
    with pytest.raises(ContractNotFoundError, match=r"OPT AAPL 209901 1 C: no such contract") as info:
        await host.resolve("ibkr", "AAPL", "option", {"expiry": "209901", "strike": 1.0, "right": "C"})
    assert info.value.candidates == []  # no month 2099-01: nothing near to offer


async def test_other_brokers_do_not_resolve() -> None:
    with pytest.raises(HostError, match="does not resolve"):
        await MultiBroker().resolve("alpaca", "AAPL", "stock")


@pytest.mark.parametrize(
    ("symbol", "details", "conid"),
    [
        ("US-T 4.25 11/15/34", {}, 560001001),
        ("IBM 3.3 05/15/29", {}, 560002001),
        ("T 4 1/4 11/15/34", {}, 560001001),
        ("T", {"maturity": "20341115"}, 560001001),
        ("IBM", {"maturity": "20290515", "coupon": 3.3}, 560002001),  # several IBM issuers: the bond decides
    ],
)
async def test_bonds_as_traders_name_them(
    host: MultiBroker, symbol: str, details: dict[str, Any], conid: int
) -> None:
    """Issue 10 item 6: the description form, ``T`` as the Treasury issuer; the contract's symbol
    (and its description form) go back through the translate hook."""
    bond = await host.resolve("ibkr", symbol, "bond", details)
    assert (bond["sec_type"], bond["conid"]) == ("BOND", conid)
    assert bond["maturity"] and bond["coupon"] is not None
    order = {"side": "buy", "qty": 10000, "order_type": "limit", "limit_price": 95.0, "time_in_force": "day"}
    for name in (bond["symbol"], bond["local_symbol"]):
        payload = host.translate("ibkr", {**order, "symbol": name}, bond)
        assert payload["conid"] == conid


async def test_bond_description_terms_must_agree(host: MultiBroker) -> None:
    with pytest.raises(ValueError, match=r"details\.coupon"):
        await host.resolve("ibkr", "IBM 3.3 05/15/29", "bond", {"coupon": 4.15})
    with pytest.raises(ValueError, match="not a date"):
        await host.resolve("ibkr", "IBM 3.3 02/30/29", "bond")
    with pytest.raises(ContractNotFoundError):
        await host.resolve("ibkr", "IBM 9.9 05/15/29", "bond")
