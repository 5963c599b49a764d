"""The dashboard's view-models: pure functions from client models (built from IBKR's real example
payloads) to the rows and figures the page shows. No Streamlit, no simulator."""

from __future__ import annotations

import datetime as dt

import pytest

from axion_broker_ibkr import errors
from axion_broker_ibkr import models as m
from axion_broker_ibkr.dashboard import errors_text, vm_account, vm_gateway, vm_market, vm_trading
from axion_broker_ibkr.wire import convert
from tests.conftest import load_fixture


def test_cash_rows_converts_each_currency_and_puts_base_last() -> None:
    ledger = convert.structure_map(load_fixture("portfolio_ledger"), m.LedgerEntry)
    rows = vm_account.cash_rows(ledger)
    assert rows[-1]["Currency"] == "Total (base)"
    assert rows[-1]["Rate to base"] == 1.0
    assert "BASE" not in [r["Currency"] for r in rows]
    by_ccy = {r["Currency"]: r for r in rows}
    for key, entry in ledger.items():
        if key == "BASE":
            continue
        row = by_ccy[key]
        assert entry.cashbalance is not None and entry.exchangerate is not None
        assert row["Cash"] == entry.cashbalance
        assert row["Cash in base"] == pytest.approx(entry.cashbalance * entry.exchangerate)


def test_cash_rows_keeps_missing_rate_as_none_not_zero() -> None:
    rows = vm_account.cash_rows({"EUR": m.LedgerEntry(currency="EUR", cashbalance=100.0)})
    assert rows[0]["Rate to base"] is None
    assert rows[0]["Cash in base"] is None


def test_position_rows_label_asset_classes_mask_accounts_and_sort_by_value() -> None:
    positions = [
        m.Position(account_id="DU1234567", conid=1, contract_desc="AAPL", asset_class="STK", mkt_value=100.0),
        m.Position(
            account_id="DU1234567",
            conid=2,
            contract_desc="ES DEC24",
            asset_class="FUT",
            mkt_value=-5000.0,
            unrealized_pnl=-12.5,
        ),
        m.Position(conid=3, contract_desc="EUR.USD", asset_class="CASH", mkt_value=2000.0),
        m.Position(conid=4, contract_desc="IBM 4 1/2 01/15/30", asset_class="BOND", mkt_value=None),
        m.Position(conid=5, contract_desc="AAPL C 195", asset_class="OPT", mkt_value=30.0),
    ]
    rows = vm_account.position_rows(positions)
    assert [r["conid"] for r in rows] == [2, 3, 1, 5, 4]
    assert [r["Asset"] for r in rows] == ["Future", "Forex", "Stock", "Option", "Bond"]
    assert rows[0]["Account"] == "DU***567"
    assert rows[-1]["Market value"] is None


def test_position_rows_from_fixture_keep_pnl() -> None:
    positions = convert.structure_list(load_fixture("portfolio_positions"), m.Position)
    rows = vm_account.position_rows(positions)
    assert len(rows) == len(positions)
    assert sum(r["Unrealized P&L"] or 0 for r in rows) == pytest.approx(
        sum(p.unrealized_pnl or 0 for p in positions)
    )
    assert all("1234567" not in str(r["Account"]) for r in rows)


def test_asset_class_totals_group_by_class_and_currency() -> None:
    positions = [
        m.Position(asset_class="STK", currency="USD", mkt_value=10.0, unrealized_pnl=1.0),
        m.Position(asset_class="STK", currency="USD", mkt_value=5.0, unrealized_pnl=-3.0),
        m.Position(asset_class="STK", currency="EUR", mkt_value=7.0),
    ]
    totals = vm_account.asset_class_totals(positions)
    assert totals == [
        {"Asset": "Stock", "Currency": "EUR", "Positions": 1, "Market value": 7.0, "Unrealized P&L": 0.0},
        {"Asset": "Stock", "Currency": "USD", "Positions": 2, "Market value": 15.0, "Unrealized P&L": -2.0},
    ]


def test_pnl_chart_rows_skip_positions_without_pnl_and_sort() -> None:
    positions = [
        m.Position(contract_desc="A", unrealized_pnl=5.0),
        m.Position(contract_desc="B"),
        m.Position(contract_desc="C", unrealized_pnl=-2.0),
    ]
    assert [r["Position"] for r in vm_account.pnl_chart_rows(positions)] == ["C", "A"]


def test_headline_metrics_missing_key_is_none_not_zero() -> None:
    summary = {
        "netliquidation": m.SummaryValue(amount=1000.5, currency="USD"),
        "buyingpower": m.SummaryValue(amount=None, is_null=True),
    }
    metrics = {x.key: x for x in vm_account.headline_metrics(summary, base_currency="USD")}
    assert metrics["netliquidation"].text == "1,000.50 USD"
    assert metrics["buyingpower"].value is None
    assert metrics["buyingpower"].text == "—"
    assert metrics["availablefunds"].value is None


def test_pnl_partition_rows_mask_account() -> None:
    pnl = convert.parse_pnl(load_fixture("pnl_partitioned"))
    rows = vm_account.pnl_partition_rows(pnl)
    assert rows[0]["Account"] == "U***567"
    assert rows[0]["Daily P&L"] == pytest.approx(15.7)


def test_search_candidates_skip_bond_placeholder_and_sort_months() -> None:
    results = convert.structure_list(load_fixture("secdef_search_STK"), m.SecdefSearchResult)
    cands = vm_trading.search_candidates(results)
    assert cands, "the IBM stock record must be a candidate"
    assert all(c.conid != 2147483647 for c in cands)
    ibm = next(c for c in cands if c.conid == 8314)
    assert ibm.symbol == "IBM"
    assert ibm.option_months == vm_trading.sort_months(ibm.option_months)
    assert len(ibm.option_months) == len(set(ibm.option_months)) > 0


def test_sort_months_calendar_order() -> None:
    assert vm_trading.sort_months(["JAN25", "OCT24", "bogus", "DEC24"]) == [
        "OCT24",
        "DEC24",
        "JAN25",
        "bogus",
    ]


@pytest.mark.parametrize(("expiry", "month"), [("20241018", "OCT24"), ("202501", "JAN25")])
def test_expiry_to_month(expiry: str, month: str) -> None:
    assert vm_trading.expiry_to_month(expiry) == month


@pytest.mark.parametrize("bad", ["2024-10", "20241318", "abc"])
def test_expiry_to_month_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="expiry"):
        vm_trading.expiry_to_month(bad)


def test_option_choices_and_contract_from_option() -> None:
    infos = convert.structure_list(load_fixture("secdef_info_OPT"), m.SecdefInfo)
    choices = vm_trading.option_choices(infos)
    assert len(choices) == len([i for i in infos if i.conid is not None])
    label, info = choices[0]
    assert str(info.conid) in label
    contract = vm_trading.contract_from_option(info, "AAPL")
    assert contract.conid == info.conid
    assert contract.right == info.right
    assert contract.strike == info.strike
    assert contract.expiry == info.maturity_date


def test_future_choices_drop_expired_and_put_front_month_first() -> None:
    futures = [
        m.FutureContract(symbol="ES", conid=3, expiration_date=dt.date(2025, 3, 21)),
        m.FutureContract(symbol="ES", conid=1, expiration_date=dt.date(2024, 3, 15)),
        m.FutureContract(symbol="ES", conid=2, expiration_date=dt.date(2024, 12, 20)),
    ]
    choices = vm_trading.future_choices(futures, today=dt.date(2024, 6, 1))
    assert [f.conid for _, f in choices] == [2, 3]
    # Named as everywhere else (issue 11): the contract month, not "ES 20241220".
    assert [label for label, _ in choices] == [
        "ES Dec 2024 · expires 2024-12-20 · conid 2",
        "ES Mar 2025 · expires 2025-03-21 · conid 3",
    ]


def test_host_order_sets_only_the_prices_the_type_uses() -> None:
    ticket = vm_trading.OrderTicket(
        symbol="AAPL",
        asset_type="stock",
        side="buy",
        quantity=10,
        order_type="market",
        limit_price=150.0,
        stop_price=140.0,
    )
    order = vm_trading.host_order(ticket)
    assert "limit_price" not in order
    assert "stop_price" not in order
    assert order == {
        "symbol": "AAPL",
        "asset_type": "stock",
        "side": "buy",
        "qty": 10,
        "order_type": "market",
        "time_in_force": "day",
    }
    stop_limit = vm_trading.host_order(
        vm_trading.OrderTicket(
            symbol="AAPL", asset_type="option", side="sell", quantity=1, order_type="stop_limit",
            limit_price=2.5, stop_price=2.6, option_type="call", strike=195.0, expiration="20240105",
            client_order_id="abc",
        )
    )  # fmt: skip
    assert stop_limit["limit_price"] == 2.5
    assert stop_limit["stop_price"] == 2.6
    assert stop_limit["option_type"] == "call"
    assert stop_limit["client_order_id"] == "abc"


def test_order_summary_reads_like_a_ticket() -> None:
    order = {"side": "buy", "qty": 10, "order_type": "limit", "limit_price": 150.0, "time_in_force": "day"}
    assert vm_trading.order_summary(order, "AAPL") == "BUY 10 AAPL LIMIT limit 150 DAY"


def test_whatif_rows_and_warning_from_fixture() -> None:
    whatif = convert.structure(load_fixture("order_whatif"), m.WhatIf)
    head = vm_trading.whatif_headline(whatif)
    assert head["commission"] == "1 USD"
    rows = vm_trading.whatif_rows(whatif)
    assert [r[""] for r in rows] == ["Equity with loan", "Initial margin", "Maintenance margin", "Position"]
    assert rows[1]["Change"] == "652"
    code, text = vm_trading.split_warning(whatif.warn)
    assert code == "21"
    assert text is not None
    assert text.startswith("You are trying to submit an order without having market data")
    assert "\n" not in text


def test_split_warning_without_code() -> None:
    assert vm_trading.split_warning("plain  text") == (None, "plain text")
    assert vm_trading.split_warning(None) == (None, None)


def test_live_order_rows_from_fixture() -> None:
    live = convert.structure(load_fixture("live_orders"), m.LiveOrders)
    rows = vm_trading.live_order_rows(live.orders)
    assert rows[0]["Symbol"] == "AAPL"
    assert rows[0]["cOID"] == "Order123"
    assert rows[0]["Account"] == "U***567"
    assert not vm_trading.is_open(live.orders[0])  # Filled
    assert vm_trading.is_open(m.Order(status="Submitted"))


def test_fill_rows_from_fixture() -> None:
    trades = convert.structure_list(load_fixture("trades"), m.Trade)
    rows = vm_trading.fill_rows(trades)
    assert rows[0]["Side"] == "SELL"
    assert rows[0]["Price"] == pytest.approx(192.26)
    assert rows[0]["Commission"] == pytest.approx(1.01)
    assert "1234567" not in rows[0]["Account"]


def test_parse_watchlist_types_and_dedup() -> None:
    items = vm_market.parse_watchlist("aapl, EUR.USD; ES:FUT\nAAPL, GC:fut")
    assert [(i.symbol, i.sec_type) for i in items] == [
        ("AAPL", "STK"),
        ("EUR.USD", "CASH"),
        ("ES", "FUT"),
        ("GC", "FUT"),
    ]
    assert items[1].label == "EUR.USD (CASH)"


def test_parse_watchlist_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="XYZ"):
        vm_market.parse_watchlist("AAPL:XYZ")


def test_bars_for_period_follow_ibkr_step_table() -> None:
    assert vm_market.bars_for_period("1d") == ["5min", "15min", "30min", "1h", "4h"]
    assert vm_market.bars_for_period("1y") == ["1d", "1w"]
    for period in vm_market.PERIODS:
        assert vm_market.bars_for_period(period)


def test_quote_rows_from_snapshot_fixture() -> None:
    data = load_fixture("marketdata_snapshot")
    quotes = [convert.structure(q, m.Quote) for q in data]
    q = quotes[0]
    rows = vm_market.quote_rows({"X": q, "Y": None})
    assert rows[0]["Last"] == q.last
    assert rows[0]["conid"] == q.conid
    if q.bid is not None and q.ask is not None:
        assert rows[0]["Spread"] == pytest.approx(q.ask - q.bid)
    assert rows[1]["Note"] == "waiting for data"


def test_quote_rows_flags_previous_close() -> None:
    q = convert.quote_from_wire({"conid": 1, "31": "C101.5"})
    row = vm_market.quote_rows({"A": q})[0]
    assert row["Last"] == pytest.approx(101.5)
    assert "previous close" in row["Note"]


def test_candle_rows_sorted_and_chart_layers() -> None:
    from axion_broker_ibkr.dashboard.charts import candle_chart

    history = convert.parse_history(load_fixture("marketdata_history"))
    rows = vm_market.candle_rows(history)
    assert len(rows) == len(history.bars) > 0
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    assert rows[0]["time"].tzinfo is dt.UTC
    spec = candle_chart(rows, "AAPL 1d").to_dict()
    marks = [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]
    ]
    assert marks == ["rule", "bar"]
    assert spec["layer"][0]["encoding"]["y"]["field"] == "low"
    assert spec["layer"][1]["encoding"]["y2"]["field"] == "close"


def test_candle_chart_draws_daily_bars_without_weekend_gaps() -> None:
    """Daily stock bars Thu, Fri, Mon: three categories side by side, no Saturday or Sunday drawn."""
    from axion_broker_ibkr.dashboard.charts import bar_labels, candle_chart

    days = [dt.datetime(2026, 11, d, 14, 30, tzinfo=dt.UTC) for d in (26, 27, 30)]
    rows = [{"time": t, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10} for t in days]
    spec = candle_chart(rows, "AAPL 1d").to_dict()
    x = spec["layer"][0]["encoding"]["x"]
    assert (x["field"], x["type"]) == ("bar", "ordinal")
    assert x["sort"] == ["2026-11-26", "2026-11-27", "2026-11-30"]
    values = next(iter(spec["datasets"].values()))
    assert [v["bar"] for v in values] == ["2026-11-26", "2026-11-27", "2026-11-30"]
    # Intraday bars keep their time; two bars of one date are never one category.
    hours = [dt.datetime(2026, 11, 27, h, 0, tzinfo=dt.UTC) for h in (14, 15)]
    assert bar_labels(hours) == ["2026-11-27 14:00", "2026-11-27 15:00"]


def test_merge_quotes_keeps_watchlist_order() -> None:
    q = m.Quote(conid=5, last=1.0, fields={"31": "1"})
    merged = vm_market.merge_quotes([("B", 5), ("A", None), ("C", 6)], {5: q})
    assert list(merged) == ["B", "A", "C"]
    assert merged["B"] is q
    assert merged["A"] is None
    assert merged["C"] is None


@pytest.mark.parametrize(
    ("mode", "account", "level", "live", "needle"),
    [
        ("sim", "DU1234567", "warning", False, "SIMULATOR"),
        ("gateway", "DU1234567", "info", False, "paper account DU***567"),
        ("gateway", "U7654321", "error", True, "LIVE ACCOUNT U***321"),
        ("sim", "U7654321", "error", True, "LIVE"),
    ],
)
def test_banner_says_mode_and_masked_account(
    mode: str, account: str, level: str, live: bool, needle: str
) -> None:
    b = vm_gateway.banner(mode, account)
    assert b.level == level
    assert b.live is live
    assert needle in b.text
    assert account not in b.text


def test_banner_fallback_is_said() -> None:
    assert "fell back" in vm_gateway.banner("sim", "DU1234567", fallback=True).text


def _status(**kw: object) -> m.GatewayStatus:
    base: dict[str, object] = {
        "mode": "gateway",
        "url": "https://localhost:5000/v1/api",
        "reachable": True,
        "sso_session": True,
        "connected": True,
        "authenticated": True,
    }
    base.update(kw)
    return m.GatewayStatus(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "level", "needle"),
    [
        ({}, "success", "Connected"),
        ({"reachable": False}, "error", "does not answer"),
        (
            {"reachable": False, "message": "certificate not trusted: ... AXION_IBKR_SSL_VERIFY=sha256:ab"},
            "error",
            "AXION_IBKR_SSL_VERIFY=sha256:ab",
        ),
        ({"sso_session": False}, "error", "Not logged in"),
        ({"competing": True}, "error", "Another platform"),
        ({"authenticated": False}, "warning", "Re-authenticate"),
        ({"connected": False}, "warning", "lost its link"),
    ],
)
def test_health_state(changes: dict[str, object], level: str, needle: str) -> None:
    got_level, text = vm_gateway.health_state(_status(**changes))
    assert got_level == level
    assert needle in text


def test_status_rows_mask_account_and_say_ages() -> None:
    now = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)
    status = _status(
        selected_account="DU1234567",
        last_tickle=now - dt.timedelta(seconds=42),
        message="account DU1234567 ok",
        server_name="JifN19053",
        server_version="Build 10.25.0p",
    )
    rows = {r[""]: r["Value"] for r in vm_gateway.status_rows(status, now=now)}
    assert rows["Selected account"] == "DU***567"
    assert rows["Last tickle"] == "42 s ago"
    assert rows["Last checked"] == "never"
    assert rows["Message"] == "account DU***567 ok"
    assert rows["Server"] == "JifN19053 Build 10.25.0p"


def test_counter_rows_flatten_nested() -> None:
    rows = vm_gateway.counter_rows({"b": {"x": 1, "y": "DU1234567"}, "a": 2.5, "c": [1], "d": None})
    assert rows == [
        {"Counter": "a", "Value": "2.5"},
        {"Counter": "b.x", "Value": "1"},
        {"Counter": "b.y", "Value": "DU***567"},
        {"Counter": "c", "Value": "[1]"},
        {"Counter": "d", "Value": "—"},
    ]


def test_login_instructions_name_the_login_url() -> None:
    text = vm_gateway.login_instructions(_status(sso_session=False, login_url="https://localhost:5000"))
    assert "https://localhost:5000" in text
    assert "Log in" in text


@pytest.mark.parametrize(
    ("exc", "needle"),
    [
        (errors.NotAuthenticatedError("401", status_code=401), "Not logged in"),
        (errors.CompetingSessionError("competing"), "Another platform"),
        (errors.BrokerageSessionError("no bridge"), "Re-authenticate"),
        (
            errors.OrderRejectedError("price too far for DU1234567"),
            "IBKR rejected the order: price too far for DU***567",
        ),
        (errors.OrderValidationError("limit_price", "required for limit orders"), "limit_price"),
        (errors.RateLimitedError("429"), "pacing"),
        (
            errors.GatewayError("bad", status_code=500, method="GET", path="/x", body={"error": "unknown"}),
            "unknown",
        ),
        (errors.AmbiguousContractError("ES is ambiguous", candidates=["ESZ4", "ESH5"]), "ESZ4, ESH5"),
        (RuntimeError("boom"), "RuntimeError"),
    ],
)
def test_explain_errors_in_plain_words(exc: BaseException, needle: str) -> None:
    assert needle in errors_text.explain(exc)


def test_ticket_for_takes_symbol_and_option_terms_from_the_contract() -> None:
    option = m.IBKRContract(
        conid=9, sec_type="OPT", symbol="AAPL", expiry="20240105", strike=195.0, right="P"
    )
    ticket = vm_trading.ticket_for(option, side="buy", quantity=2, order_type="limit", limit_price=1.5)
    order = vm_trading.host_order(ticket)
    assert order["symbol"] == "AAPL"
    assert order["asset_type"] == "option"
    assert (order["option_type"], order["strike"], order["expiration"]) == ("put", 195.0, "20240105")
    future = m.IBKRContract(conid=8, sec_type="FUT", symbol="ES", expiry="20241220", exchange="CME")
    fut_order = vm_trading.host_order(
        vm_trading.ticket_for(future, side="sell", quantity=1, order_type="market")
    )
    assert fut_order["asset_type"] == "futures"
    assert "strike" not in fut_order


def test_ticket_orders_pass_the_translator() -> None:
    from axion_broker_ibkr.orders import translate_order

    stock = m.IBKRContract(conid=265598, sec_type="STK", symbol="AAPL")
    order = vm_trading.host_order(
        vm_trading.ticket_for(
            stock, side="buy", quantity=3, order_type="limit", limit_price=185.0, client_order_id="t-1"
        )
    )
    payload = translate_order(order, stock.to_host())
    assert payload["conid"] == 265598
    assert payload["side"] == "BUY"
    assert payload["orderType"] == "LMT"
    assert payload["cOID"] == "t-1"


def test_ticket_for_refuses_unknown_sec_type() -> None:
    with pytest.raises(ValueError, match="sec_type"):
        vm_trading.ticket_for(m.IBKRContract(conid=1, sec_type="IND", symbol="SPX"), side="buy", quantity=1,
                              order_type="market")  # fmt: skip


@pytest.mark.parametrize(
    ("contract", "label"),
    [
        (m.IBKRContract(conid=1, sec_type="STK", symbol="AAPL"), "AAPL (STK, conid 1)"),
        (m.IBKRContract(conid=2, sec_type="CASH", symbol="EUR", currency="USD"), "EUR.USD (CASH, conid 2)"),
        (
            m.IBKRContract(conid=2, sec_type="CASH", symbol="EUR.USD", currency="USD"),
            "EUR.USD (CASH, conid 2)",
        ),
        (
            m.IBKRContract(
                conid=3, sec_type="OPT", symbol="AAPL", expiry="20240105", strike=195.0, right="C"
            ),
            "AAPL 2024-01-05 195 C (OPT, conid 3)",
        ),
    ],
)
def test_contract_label(contract: m.IBKRContract, label: str) -> None:
    assert vm_trading.contract_label(contract) == label


def test_order_log_rows_mask_account_and_text() -> None:
    from axion_broker_ibkr.ops.journal import JournalEntry

    entry = JournalEntry(
        client_order_id="c1", account_id="DU1234567", mode="sim", conid=1, symbol="AAPL", sec_type="STK",
        side="BUY", order_type="LMT", quantity=3, price=185.0, status="rejected",
        message="account DU1234567 lacks funds",
    )  # fmt: skip
    row = vm_trading.order_log_rows([entry])[0]
    assert row["Account"] == "DU***567"
    assert row["Message"] == "account DU***567 lacks funds"
    assert row["Status"] == "Rejected"  # the vocabulary's one spelling (orders.status)


def test_question_text_prefers_ibkrs_wording() -> None:
    transcript = [{"id": "q1", "messages": ["The order price exceeds \nthe Percentage constraint of 3%."]}]
    assert (
        vm_trading.question_text(transcript, "fallback")
        == "The order price exceeds the Percentage constraint of 3%."
    )
    assert vm_trading.question_text([], "fallback") == "fallback"


def test_explain_does_not_repeat_the_rejection_prefix() -> None:
    text = errors_text.explain(errors.OrderRejectedError("IBKR rejected the order: no funds"))
    assert text == "IBKR rejected the order: no funds"


def test_modify_order_dict_keeps_side_type_and_tif() -> None:
    limit = m.Order(order_id=1, side="SELL", orig_order_type="LIMIT", order_type="Limit", time_in_force="GTC")
    assert vm_trading.modify_order_dict(limit, "AAPL", 4, 186.0) == {
        "symbol": "AAPL",
        "side": "sell",
        "qty": 4,
        "order_type": "limit",
        "time_in_force": "gtc",
        "limit_price": 186.0,
    }
    market = m.Order(order_id=2, side="BUY", order_type="Market")
    assert "limit_price" not in (vm_trading.modify_order_dict(market, "AAPL", 1, 99.0) or {})
    assert vm_trading.modify_order_dict(m.Order(order_id=3, order_type="Stop"), "AAPL", 1, 99.0) is None


def test_format_price_keeps_every_digit_and_groups_thousands() -> None:
    assert vm_trading.format_price(185.12) == "185.12"
    assert vm_trading.format_price(5850.25) == "5,850.25"
    assert vm_trading.format_price(5850.0) == "5,850.00"
    assert vm_trading.format_price(1.08525) == "1.08525"
    assert vm_trading.format_price(5850.3, group=False) == "5850.30"
    assert vm_trading.format_price(None) == "—"


def test_quantity_units_singular_plural_and_base_currency() -> None:
    assert vm_trading.quantity_unit("STK", 1) == "share"
    assert vm_trading.quantity_unit("STK", 3) == "shares"
    assert vm_trading.quantity_unit("FUT", 1) == "contract"
    assert vm_trading.quantity_unit("OPT", 5) == "contracts"
    assert vm_trading.quantity_unit("BOND", 10_000) == "face value"
    assert vm_trading.quantity_unit("CASH", 25_000, "EUR") == "EUR"


def test_confirm_ticket_reads_the_translated_payload() -> None:
    from axion_broker_ibkr.orders import translate_order
    from axion_broker_ibkr.orders.model import TranslateOptions

    es = m.IBKRContract(
        conid=495512563,
        sec_type="FUT",
        symbol="ES",
        exchange="CME",
        currency="USD",
        multiplier=50.0,
        expiry="20261218",
        local_symbol="ESZ6",
        tick_size=0.25,
    )
    order = {
        "symbol": "ES",
        "asset_type": "futures",
        "side": "buy",
        "qty": 1,
        "order_type": "limit",
        "limit_price": 5850.30,
        "time_in_force": "gtc",
        "client_order_id": "c1",
    }
    options = TranslateOptions(account_id="DU1234567", futures_operator="trader-7")
    payload = translate_order(order, es.to_host(), options)
    assert payload["price"] == 5850.25  # BUY rounds down onto the 0.25 grid
    head, lines = vm_trading.confirm_ticket(order, payload, es)
    assert head == "BUY 1 contract ES Dec 2026 (ESZ6) LIMIT 5,850.25 GTC"
    assert "Limit price: 5,850.25 (tick rounding: 5850.30 -> 5850.25)" in lines
    assert "Quantity: 1 contract" in lines
    assert "Contract: ES Dec 2026 (ESZ6) (FUT, conid 495512563)" in lines
    assert "Order type: LIMIT (LMT)" in lines
    assert "Time in force: GTC" in lines
    assert "Outside regular hours: no" in lines
    assert "Account: DU***567" in lines
    assert not any("DU1234567" in line for line in lines)

    fx = m.IBKRContract(
        conid=12087792, sec_type="CASH", symbol="EUR.USD", exchange="IDEALPRO", currency="USD"
    )
    fx_order = {**order, "symbol": "EUR.USD", "asset_type": "forex", "qty": 25_000, "limit_price": 1.0815}
    fx_payload = translate_order(fx_order, fx.to_host(), options)
    head, lines = vm_trading.confirm_ticket(fx_order, fx_payload, fx)
    assert "Quantity: 25,000 EUR" in lines
    assert "Limit price: 1.0815" in lines  # nothing rounded: no rounding note
    assert head.startswith("BUY 25,000 EUR EUR.USD LIMIT 1.0815")


def _position(**kw: object) -> m.Position:
    return m.Position(account_id="DU1234567", currency="USD", **kw)  # type: ignore[arg-type]


def test_position_rows_name_contracts_in_full_and_describe_them() -> None:
    rows = vm_account.position_rows(
        [
            _position(conid=1, ticker="AAPL", contract_desc="AAPL", name="APPLE INC", asset_class="STK"),
            _position(
                conid=2,
                ticker="AAPL",
                contract_desc="AAPL DEC 04 '26 190 Call",
                name="APPLE INC",
                asset_class="OPT",
                expiry="20261204",
                put_or_call="C",
                strike=190.0,
                multiplier=100.0,
            ),
            _position(
                conid=3,
                ticker="ES",
                contract_desc="ES DEC 18 '26",
                name="E-mini S&P 500",
                asset_class="FUT",
                expiry="20261218",
                strike=0.0,
                multiplier=50.0,
            ),
            _position(
                conid=4,
                ticker="IBM",
                contract_desc="IBM IBM 3.3 05/15/29",
                name="International Business Machines Corp",
                asset_class="BOND",
                strike=0.0,
            ),
            _position(conid=5, ticker="EUR.USD", contract_desc="EUR.USD", asset_class="CASH"),
        ]
    )
    by_conid = {r["conid"]: (r["Symbol"], r["Description"]) for r in rows}
    assert by_conid == {
        1: ("AAPL", "APPLE INC"),
        2: ("AAPL 2026-12-04 190 C", "APPLE INC"),
        3: ("ES Dec 2026", "E-mini S&P 500"),
        4: ("IBM 3.3% 2029-05-15", "International Business Machines Corp"),
        5: ("EUR.USD", ""),  # nothing beyond the symbol: no symbol twice
    }


def test_live_order_rows_name_contracts_in_full() -> None:
    orders = [
        m.Order(order_id=1, ticker="AAPL", sec_type="OPT", description2="DEC 04 '26 190 Put"),
        m.Order(order_id=2, ticker="ES", sec_type="FUT", description2="DEC 18 '26"),
        m.Order(order_id=3, ticker="IBM", sec_type="BOND", description2="IBM 3.3 05/15/29"),
        m.Order(order_id=4, ticker="EUR.USD", sec_type="CASH", cash_ccy="USD"),
    ]
    names = {r["Order id"]: r["Symbol"] for r in vm_trading.live_order_rows(orders)}
    assert names == {
        1: "AAPL 2026-12-04 190 P",
        2: "ES Dec 2026",
        3: "IBM 3.3% 2029-05-15",
        4: "EUR.USD",
    }


def test_question_policy_says_when_questions_are_off_for_every_program() -> None:
    from axion_broker_ibkr.dashboard.vm_gateway import question_policy

    level, text = question_policy(("o163",), ())
    assert level == "info" and "o163" in text and "No question is switched off" in text
    level, text = question_policy((), ("o163", "o354"))
    assert level == "warning" and "o163, o354" in text and "every program on this gateway" in text
