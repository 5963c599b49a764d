"""Every public call of both clients against the simulator, over real HTTPS sockets."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.errors import QuestionRefusedError
from axion_broker_ibkr.resolver import AsyncContractResolver, ContractResolver
from tests.client.conftest import call, sim_client

BUY = {
    "symbol": "AAPL",
    "side": "buy",
    "qty": 2,
    "order_type": "limit",
    "time_in_force": "day",
    "asset_type": "stock",
}


async def test_reads(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    try:
        start = await call(client.connect())
        assert start.status.authenticated and client.mode == "sim"
        assert client.account_id == "DU1234567"
        assert client.ssl_context.verify_mode.name == "CERT_REQUIRED"
        assert client.ws_url.startswith("wss://127.0.0.1:") and client.ws_url.endswith("/v1/api/ws")
        accts = await call(client.portfolio_accounts())
        assert {a.account_id for a in accts} >= {"DU1234567"} and all(a.is_paper for a in accts)
        summary = await call(client.account_summary())
        assert summary["netliquidation"].amount and summary["netliquidation"].amount > 0
        ledger = await call(client.ledger())
        assert "BASE" in ledger
        positions = await call(client.positions())
        assert positions and all(p.conid for p in positions)
        pnl = await call(client.pnl())
        assert "DU1234567.Core" in pnl
        tickle = await call(client.tickle())
        assert tickle.session
        quotes = await call(client.snapshot([265598, 8314]))
        assert [q.conid for q in quotes] == [265598, 8314]
        assert all(q.has_data and q.last is not None and q.bid is not None for q in quotes)
        hist = await call(client.history(265598, bar="1d", period="1m"))
        assert len(hist.bars) > 5 and all(
            b.high is None or b.low is None or b.high >= b.low for b in hist.bars
        )
        found = await call(client.search("AAPL"))
        assert any(r.conid == 265598 for r in found)
        info = await call(client.contract_info(265598))
        assert info.currency == "USD"
        rules = await call(client.contract_rules(265598))
        assert "LMT" in [t.upper() for t in rules.order_types] or rules.order_types
        stocks = await call(client.stocks(["AAPL", "IBM"]))
        assert set(stocks) == {"AAPL", "IBM"}
        fut = await call(client.futures(["ES"]))
        assert fut["ES"]
        pairs = await call(client.currency_pairs("EUR"))
        assert any(p.symbol == "EUR.USD" for p in pairs)
        assert await call(client.unsubscribe_all()) is True
        assert await call(client.trades(days=1)) is not None
    finally:
        await call(client.close())


async def test_positions_read_every_page(kind: str, fault_sim: Any) -> None:
    fault_sim.admin.config(positions_page_size=1)
    client = sim_client(kind, fault_sim)
    try:
        rows = await call(client.positions())
        assert len(rows) >= 2
        assert len({r.conid for r in rows}) == len(rows)
    finally:
        await call(client.close())


async def test_option_chain_calls(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    try:
        found = await call(client.search("AAPL"))
        aapl = next(r for r in found if r.conid == 265598)
        opt = next(s for s in aapl.sections if s.sec_type == "OPT")
        month = (opt.months or "").split(";")[0]
        strikes = await call(client.strikes(265598, month))
        assert strikes.call
        strike = strikes.call[len(strikes.call) // 2]
        infos = await call(client.secdef_info(265598, "OPT", month=month, strike=strike, right="C"))
        assert infos and all(i.right == "C" and i.strike == strike for i in infos)
    finally:
        await call(client.close())


async def test_order_lifecycle(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    try:
        quote = (await call(client.snapshot([265598])))[0]
        assert quote.bid is not None
        price = round(quote.bid * 0.99, 2)  # rests: below the market, inside IBKR's 3 % band
        order = {**BUY, "limit_price": price}
        preview = await call(client.whatif(order, {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"}))
        assert preview.amount is not None
        result = await call(client.place_order(order, {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"}))
        assert result.status == "open" and result.order_id and result.mode == "sim"
        entry = client.journal.get(result.client_order_id)  # type: ignore[union-attr]
        assert entry is not None and entry.status == "open" and entry.mode == "sim"
        live = await call(client.live_orders(filters=["submitted", "PreSubmitted"]))
        assert any(o.client_order_id == result.client_order_id for o in live)
        status = await call(client.order_status(result.order_id))
        assert str(status.order_id) == result.order_id
        moved = await call(
            client.modify_order(result.order_id, {**order, "limit_price": round(price - 0.5, 2)},
                                {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"})
        )  # fmt: skip
        assert moved.order_id == result.order_id
        ack = await call(client.cancel_order(result.order_id))
        assert ack.msg
    finally:
        await call(client.close())


async def test_question_policy_against_the_sim(kind: str, fast_sim: Any) -> None:
    contract = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"}
    client = sim_client(kind, fast_sim)
    allowing = sim_client(kind, fast_sim, auto_confirm=["o163"])
    try:
        quote = (await call(client.snapshot([265598])))[0]
        assert quote.bid is not None
        far = {**BUY, "limit_price": round(quote.bid * 0.8, 2)}  # > 3 % from the market: o163
        with pytest.raises(QuestionRefusedError, match="Percentage constraint") as info:
            await call(client.place_order(far, contract))
        assert info.value.message_ids == ["o163"]
        result = await call(allowing.place_order(far, contract))
        assert result.status == "open"
        assert result.transcript and result.transcript[0]["message_ids"] == ["o163"]
        await call(allowing.cancel_order(result.order_id))
    finally:
        await call(client.close())
        await call(allowing.close())


async def test_resolver_against_the_sim(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    r: Any = ContractResolver(client) if kind == "sync" else AsyncContractResolver(client)  # type: ignore[arg-type]
    try:
        for symbol, asset, details, sec in [
            ("AAPL", "stock", {}, "STK"),
            ("EUR.USD", "forex", {}, "CASH"),
            ("USD.EUR", "forex", {}, "CASH"),
            ("ES", "futures", {}, "FUT"),
        ]:
            c = await call(r.resolve(symbol, asset, details))
            assert c.sec_type == sec and c.conid > 0, symbol
    finally:
        await call(client.close())


async def test_marketable_order_reports_its_fill(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    try:
        quote = (await call(client.snapshot([8314])))[0]
        assert quote.ask is not None
        buy = {**BUY, "symbol": "IBM", "qty": 1, "limit_price": round(quote.ask * 1.01, 2)}
        result = await call(client.place_order(buy, {"conid": 8314, "sec_type": "STK", "symbol": "IBM"}))
        assert result.status == "filled" and result.ibkr_status == "Filled"  # the sim matches on arrival
        assert result.fill_qty == 1 and result.fill_price is not None
        entry = client.journal.get(result.client_order_id)  # type: ignore[union-attr]
        assert entry is not None and entry.filled_quantity == 1 and entry.avg_fill_price == result.fill_price
    finally:
        await call(client.close())


async def test_session_calls_and_unsubscribe(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim, suppress_questions=["o163", "o354"])
    try:
        status = await call(client.init_session(compete=False))
        assert status.authenticated
        assert await call(client.suppress_questions()) is True
        assert set(fault_sim.admin.state()["session"]["suppressed"]) >= {"o163", "o354"}
        assert await call(client.switch_account("DU7654321")) is True
        assert fault_sim.admin.state()["session"]["selected_account"] == "DU7654321"
        assert client.account_id == "DU7654321"
        await call(client.snapshot([265598]))
        assert await call(client.unsubscribe(265598)) is True
        await call(client.reauthenticate())
        assert client.reauthentications == 1 and fault_sim.admin.state()["session"]["brokerage"] is True
    finally:
        await call(client.close())


async def test_bond_resolution_against_the_sim(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    r: Any = ContractResolver(client) if kind == "sync" else AsyncContractResolver(client)  # type: ignore[arg-type]
    try:
        filters = await call(client.bond_filters("e1400789"))
        maturities = next(f for f in filters if f.column_id == 27).options
        assert maturities
        month = maturities[0].value
        bond = await call(r.resolve("IBM", "bond", {"issuer": "e1400789", "maturity": month}))
        assert bond.sec_type == "BOND" and bond.maturity and bond.maturity.startswith(str(month))
        assert bond.issuer == "International Business Machines Corp"
    finally:
        await call(client.close())
