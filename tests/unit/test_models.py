"""Every CPAPI example payload structures into its model; wire quirks parse; missing is None, not 0."""

from __future__ import annotations

import datetime as dt
import importlib
import math
import typing
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from axion_broker_ibkr import models as m
from axion_broker_ibkr.errors import WireFormatError
from axion_broker_ibkr.wire import convert as c
from tests.conftest import FIXTURES, load_fixture


def _first(key: str, cls: type[Any]) -> Callable[[Any], Any]:
    return lambda data: [c.structure(item, cls) for item in data[key]]


#: fixture file -> how the client parses it. Every file in fixtures/cpapi must be listed here.
PARSERS: dict[str, Callable[[Any], Any]] = {
    "iserver_auth_status": lambda d: c.structure(d, m.AuthStatus),
    "iserver_auth_status_unauthenticated": lambda d: c.structure(d, m.AuthStatus),
    "tickle": lambda d: c.structure(d, m.Tickle),
    "iserver_accounts": lambda d: c.structure(d, m.IServerAccounts),
    "portfolio_accounts": lambda d: c.structure_list(d, m.Account),
    "portfolio_ledger": lambda d: c.structure_map(d, m.LedgerEntry),
    "portfolio_positions": lambda d: c.structure_list(d, m.Position),
    "pnl_partitioned": c.parse_pnl,
    "secdef_search_STK": lambda d: c.structure_list(d, m.SecdefSearchResult),
    "secdef_info_OPT": lambda d: c.structure_list(d, m.SecdefInfo),
    "secdef_strikes": lambda d: c.structure(d, m.Strikes),
    "trsrv_stocks": lambda d: {k: c.structure_list(v, m.StockInstrument) for k, v in d.items()},
    "trsrv_futures": lambda d: {k: c.structure_list(v, m.FutureContract) for k, v in d.items()},
    "contract_info": lambda d: c.structure(d, m.ContractInfo),
    "contract_rules": lambda d: c.structure(d, m.ContractRules),
    "currency_pairs": lambda d: {k: c.structure_list(v, m.CurrencyPair) for k, v in d.items()},
    "bond_filters": _first("bondFilters", m.BondFilter),
    "order_submit_response": c.parse_order_reply,
    "order_reply_question": c.parse_order_reply,
    "order_reject": c.parse_order_reply,
    "order_whatif": lambda d: c.structure(d, m.WhatIf),
    "order_cancel": lambda d: c.structure(d, m.CancelAck),
    "live_orders": lambda d: c.structure(d, m.LiveOrders),
    "order_status": lambda d: c.structure(d, m.OrderStatus),
    "trades": lambda d: c.structure_list(d, m.Trade),
    "marketdata_snapshot_preflight": lambda d: c.structure_list(d, m.Quote),
    "marketdata_snapshot": lambda d: c.structure_list(d, m.Quote),
    "marketdata_history": c.parse_history,
    "ws_smd": lambda d: c.structure(d, m.Quote),
    "ws_sor": _first("args", m.Order),
    "ws_sld": lambda d: d["result"],  # ledger frames are handled by streaming; shape checked below
    # request bodies (sent, not received) are checked by the order-translation tests
    "order_request_bracket": lambda d: d["orders"],
}


def test_every_fixture_has_a_parser() -> None:
    names = {p.stem for p in (FIXTURES / "cpapi").glob("*.json")}
    assert names == set(PARSERS), f"unlisted: {names - set(PARSERS)}, stale: {set(PARSERS) - names}"


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_fixture_parses(name: str) -> None:
    result = PARSERS[name](load_fixture(name))
    assert result is not None
    assert result != [] and result != {}


def test_auth_status() -> None:
    ok = c.structure(load_fixture("iserver_auth_status"), m.AuthStatus)
    assert ok.authenticated is True and ok.connected is True and ok.competing is False
    assert ok.fail == "" and ok.server_info is not None
    assert ok.server_info.server_name == "JifN19053"
    down = c.structure(load_fixture("iserver_auth_status_unauthenticated"), m.AuthStatus)
    assert down.authenticated is False and down.connected is False
    assert down.message is None and down.fail is None  # absent -> None


def test_auth_status_fail_under_server_info_is_read() -> None:
    # [conflict] the OpenAPI model puts `fail` under serverInfo; real payloads at the top level.
    data = {"authenticated": False, "serverInfo": {"serverName": "x", "fail": "compete flag"}}
    assert c.structure(data, m.AuthStatus).fail == "compete flag"
    data_both = {"fail": "top", "serverInfo": {"fail": "nested"}}
    assert c.structure(data_both, m.AuthStatus).fail == "top"


def test_tickle_session_and_nested_auth() -> None:
    t = c.structure(load_fixture("tickle"), m.Tickle)
    assert t.session == "bb665d0f55b6289d70bc7380089fc96f"
    assert t.sso_expires == 460311 and t.user_id == 123456789 and t.collission is False
    assert t.iserver is not None and t.iserver.auth_status is not None
    assert t.iserver.auth_status.authenticated is True
    assert t.hmds == {"error": "no bridge"}


def test_accounts_and_paper_detection() -> None:
    acc = c.structure(load_fixture("iserver_accounts"), m.IServerAccounts)
    assert acc.accounts == ["U1234567"] and acc.selected_account == "U1234567"
    assert acc.acct_props["U1234567"].supports_fractions is True
    assert acc.is_paper is False
    (pa,) = c.structure_list(load_fixture("portfolio_accounts"), m.Account)
    assert pa.type == "DEMO" and pa.is_paper  # type DEMO marks paper even for a U-prefixed id
    assert pa.parent is not None and pa.parent.is_m_parent is False
    assert not m.Account(account_id="U7654321", type="INDIVIDUAL").is_paper
    assert m.Account(account_id="DU7654321").is_paper


def test_ledger_is_multi_currency_with_numbers() -> None:
    ledger = c.structure_map(load_fixture("portfolio_ledger"), m.LedgerEntry)
    assert set(ledger) == {"USD", "BASE"}
    assert ledger["USD"].cashbalance == 214716688.0
    assert ledger["BASE"].exchangerate == 1.0
    assert ledger["USD"].endofbundle == 1 and ledger["BASE"].endofbundle is None
    assert ledger["USD"].cryptocurrencyvalue is None  # not sent -> None, never 0


def test_positions() -> None:
    rows = c.structure_list(load_fixture("portfolio_positions"), m.Position)
    assert [r.contract_desc for r in rows] == ["SPY", "TSLA", "META"]
    spy = rows[0]
    assert spy.conid == 756733 and spy.position == 5.0 and spy.unrealized_pnl == 181.15
    assert spy.multiplier is None and spy.expiry is None and spy.account_id == "U1234567"


def test_pnl() -> None:
    pnl = c.parse_pnl(load_fixture("pnl_partitioned"))
    row = pnl["U1234567.Core"]
    assert row.dpl == 15.7 and row.nl == 10000.0 and row.uel is None


def test_order_replies_are_polymorphic() -> None:
    acks = c.parse_order_reply(load_fixture("order_submit_response"))
    assert isinstance(acks, list) and isinstance(acks[0], m.OrderAck)
    assert acks[0].order_id == "1234567890" and acks[0].order_status == "Submitted"
    qs = c.parse_order_reply(load_fixture("order_reply_question"))
    assert isinstance(qs, list) and isinstance(qs[0], m.OrderQuestion)
    assert qs[0].message_ids == ["o163"] and "Percentage constraint" in qs[0].message[0]
    rej = c.parse_order_reply(load_fixture("order_reject"))
    assert isinstance(rej, m.OrderReject) and "limit price" in rej.error
    # some doc pages show a bare object instead of a one-element list
    bare = c.parse_order_reply({"order_id": "42", "order_status": "PreSubmitted"})
    assert isinstance(bare, list) and isinstance(bare[0], m.OrderAck) and bare[0].order_id == "42"
    with pytest.raises(WireFormatError):
        c.parse_order_reply([])
    with pytest.raises(WireFormatError):
        c.parse_order_reply([{"what": 1}])


def test_live_orders_and_status_and_trades() -> None:
    lo = c.structure(load_fixture("live_orders"), m.LiveOrders)
    (o,) = lo.orders
    assert o.order_id == 1234568790 and o.client_order_id == "Order123"
    assert o.avg_price == 192.26 and o.price is None and o.status == "Filled"
    st_ = c.structure(load_fixture("order_status"), m.OrderStatus)
    assert st_.order_id == 1799796559 and st_.cum_fill == 5.0 and st_.total_size == 5.0
    assert st_.side == "S" and st_.limit_price is None
    (t,) = c.structure_list(load_fixture("trades"), m.Trade)
    assert t.price == 192.26 and t.commission == 1.01 and t.client_order_id == "Order123"
    assert t.conidex == "265598"


def test_sor_first_frame() -> None:
    (o,) = [c.structure(x, m.Order) for x in load_fixture("ws_sor")["args"]]
    assert o.order_id == 922048212 and o.price == 372.0 and o.remaining_quantity == 100.0
    assert o.total_size is None  # the first sor frame of the doc sample has no totalSize


def test_snapshot_preflight_and_data() -> None:
    pre = c.structure_list(load_fixture("marketdata_snapshot_preflight"), m.Quote)
    assert [q.conid for q in pre] == [265598, 8314] and not any(q.has_data for q in pre)
    assert all(q.last is None and q.bid is None for q in pre)
    q = c.structure_list(load_fixture("marketdata_snapshot"), m.Quote)[0]
    assert q.has_data and q.last == 168.42 and q.bid == 168.41 and q.ask == 168.42
    assert q.bid_size == 1300.0  # "1,300"
    assert q.volume is None  # not sent -> None, never 0
    assert q.availability == "RpB" and q.updated == 1712596911593 and q.server_id == "q1"


def test_quote_prefixes_and_suffixes() -> None:
    q = c.structure({"conid": "265598", "31": "C168.42", "87": "1.2M", "7762": "1234567"}, m.Quote)
    assert q.conid == 265598 and q.last == 168.42 and q.last_is_close and not q.halted
    assert q.volume == 1234567.0  # full precision wins over the formatted field
    h = c.structure({"conid": 8314, "31": "H189.60", "87": "12.5K"}, m.Quote)
    assert h.halted and h.last == 189.6 and h.volume == 12500.0


def test_smd_deltas_merge() -> None:
    first = c.quote_from_wire(load_fixture("ws_smd"))
    delta = c.quote_from_wire({"topic": "smd+8314", "84": "189.57", "_updated": 1712596912000}, base=first)
    assert delta.bid == 189.57 and delta.ask == 189.61 and delta.last == 189.6
    assert delta.updated == 1712596912000 and delta.conid == 8314
    with pytest.raises(WireFormatError):
        c.quote_from_wire({"31": "1.0"})  # no conid and no base


def test_history() -> None:
    h = c.parse_history(load_fixture("marketdata_history"))
    assert h.server_id == "20477" and h.symbol == "AAPL" and h.bar_length == 86400
    (bar,) = h.bars
    assert bar.time == 1692345600000 and bar.open == 173.4 and bar.close == 174.7
    assert bar.start == dt.datetime(2023, 8, 18, 8, 0, tzinfo=dt.UTC)
    # OpenAPI spelling serverId vs example spelling serverid: both read
    assert c.parse_history({"serverId": "9", "data": []}).server_id == "9"


def test_contracts() -> None:
    info = c.structure(load_fixture("contract_info"), m.ContractInfo)
    assert info.conid == 265598 and info.instrument_type == "STK" and info.rth is True
    assert info.multiplier is None and info.underlying_conid == 0
    rules = c.structure(load_fixture("contract_rules"), m.ContractRules)
    assert rules.increment_rules == [m.IncrementRule(lower_edge=0.0, increment=0.01)]
    assert "GTC/o,a" in rules.tif_types and rules.stop_price == 549000.0
    search = c.structure_list(load_fixture("secdef_search_STK"), m.SecdefSearchResult)
    assert search[0].conid == 8314  # string on the wire
    opt = next(s for s in search[0].sections if s.sec_type == "OPT")
    assert opt.months is not None and opt.months.startswith("MAR24")
    cfd = next(s for s in search[0].sections if s.sec_type == "CFD")
    assert cfd.conid == 118239202
    assert [i.id for i in search[2].issuers][:1] == ["e5499005"] and search[2].bondid == 5
    (optinfo,) = c.structure_list(load_fixture("secdef_info_OPT"), m.SecdefInfo)
    assert optinfo.multiplier == 100.0 and optinfo.strike == 195.0 and optinfo.maturity_date == "20240105"
    strikes = c.structure(load_fixture("secdef_strikes"), m.Strikes)
    assert strikes.call == [185.0, 190.0, 195.0, 200.0]


def test_trsrv_and_pairs_and_bonds() -> None:
    stocks = [c.structure(x, m.StockInstrument) for x in load_fixture("trsrv_stocks")["AAPL"]]
    assert stocks[0].name == "APPLE INC"
    assert stocks[0].contracts[0] == m.StockContract(conid=265598, exchange="NASDAQ", is_us=True)
    futs = [c.structure(x, m.FutureContract) for x in load_fixture("trsrv_futures")["ES"]]
    assert futs[0].expiration_date == dt.date(2024, 12, 20)
    assert futs[0].long_futures_cut_off == dt.date(2024, 12, 19) and futs[0].underlying_conid == 11004968
    pairs = [c.structure(x, m.CurrencyPair) for x in load_fixture("currency_pairs")["USD"]]
    assert pairs[0] == m.CurrencyPair(symbol="USD.SGD", conid=37928772, ccy_pair="SGD")
    filters = [c.structure(x, m.BondFilter) for x in load_fixture("bond_filters")["bondFilters"]]
    assert [f.column_id for f in filters] == [0, 27, 28, 25, 5]
    assert filters[1].options[0] == m.BondFilterOption(value="202501", text="Jan 2025")


def test_whatif_and_cancel() -> None:
    w = c.structure(load_fixture("order_whatif"), m.WhatIf)
    assert w.amount is not None and w.amount.commission == "1 USD"
    assert w.warn is not None and w.warn.startswith("21/") and w.error is None
    ack = c.structure(load_fixture("order_cancel"), m.CancelAck)
    assert ack.order_id == 987654 and ack.account == "DU123456"


def test_bad_values_name_model_and_field() -> None:
    with pytest.raises(WireFormatError, match=r"Position.*position"):
        c.structure({"conid": 1, "position": "lots"}, m.Position)
    with pytest.raises(WireFormatError, match=r"Quote 1: field 84"):
        c.structure({"conid": 1, "84": "cheap"}, m.Quote)
    with pytest.raises(WireFormatError, match="expected a JSON object"):
        c.structure([1, 2], m.Account)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,300", 1300.0), ("C168.42", 168.42), ("H1.5", 1.5), ("1.2M", 1.2e6), ("12.5K", 12500.0),
        ("-0.04", -0.04), ("0.04%", 0.04), (0.04, 0.04), (7, 7.0), ("", None), (None, None), ("  3 ", 3.0),
    ],
)  # fmt: skip
def test_parse_number(text: Any, expected: float | None) -> None:
    assert c.parse_number(text) == expected


@pytest.mark.parametrize("bad", ["abc", "1.2.3", "M", True, [1]])
def test_parse_number_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match="number"):
        c.parse_number(bad)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_parse_number_roundtrips_formatted(x: float) -> None:
    formatted = f"{x:,.4f}"
    parsed = c.parse_number(formatted)
    assert parsed is not None and math.isclose(parsed, round(x, 4), rel_tol=1e-12, abs_tol=1e-9)


@given(st.integers(min_value=1, max_value=2**31 - 1), st.booleans())
def test_conid_int_or_string(conid: int, as_text: bool) -> None:
    raw: int | str = str(conid) if as_text else conid
    assert c.structure({"conid": raw}, m.SecdefInfo).conid == conid


@given(
    st.builds(
        m.Position,
        account_id=st.text(min_size=1, max_size=10) | st.none(),
        conid=st.integers(min_value=1, max_value=2**31) | st.none(),
        position=st.floats(allow_nan=False, allow_infinity=False) | st.none(),
        currency=st.sampled_from(["USD", "EUR", "JPY"]) | st.none(),
    )
)
def test_position_roundtrip(pos: m.Position) -> None:
    assert c.structure(c.unstructure(pos), m.Position) == pos


def test_contract_to_host_has_the_host_contract_keys_and_round_trips() -> None:
    put = m.IBKRContract(conid=716520604, sec_type="OPT", symbol="AAPL", exchange="SMART", currency="USD",
                         multiplier=100.0, expiry="20240105", strike=195.0, right="P",
                         description="JAN 05 '24 195 Put", tick_size=0.01)  # fmt: skip
    host = put.to_host()
    # HOST_CONTRACT §2: the keys the host reads, with the contract's values.
    expected = {"conid": 716520604, "sec_type": "OPT", "symbol": "AAPL", "exchange": "SMART",
                "currency": "USD", "multiplier": 100.0, "expiry": "20240105", "strike": 195.0, "right": "P",
                "description": "JAN 05 '24 195 Put"}  # fmt: skip
    assert {k: host[k] for k in expected} == expected
    assert host["tick_size"] == 0.01 and host["maturity"] is None
    assert m.IBKRContract(**host) == put  # nothing lost: the dict carries every field


MODEL_MODULES = ("session", "accounts", "orders", "market", "contracts")


def test_models_package_re_exports_each_class_once_and_its_annotations_resolve() -> None:
    """Each model is defined in exactly one area module and re-exported (the very same class, so the
    converter's per-class hooks apply to every import path); its string annotations resolve in its
    module, which cattrs needs to structure it."""
    defined: dict[str, str] = {}
    for short in MODEL_MODULES:
        module = importlib.import_module(f"axion_broker_ibkr.models.{short}")
        for name, obj in vars(module).items():
            if attrs.has(obj) and obj.__module__ == module.__name__:
                assert name not in defined, f"{name} defined in both {defined[name]} and {short}"
                defined[name] = short
                assert getattr(m, name) is obj
                assert set(typing.get_type_hints(obj)) >= {f.name for f in attrs.fields(obj)}
    assert set(defined) | {"OrderReply", "SummarySection"} == set(m.__all__)  # the two type aliases
    assert m.OrderReply == m.orders.OrderReply
    assert c.structure({"serverInfo": {"serverName": "JifN19053"}}, m.IServerAccounts) == (
        m.IServerAccounts(server_info=m.ServerInfo(server_name="JifN19053"))
    )
