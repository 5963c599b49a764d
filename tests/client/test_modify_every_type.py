"""Issue 10 item 5: a live order of every security type is modified from its own terms.

The modify ticket's contract comes from the order itself (its conid, then IBKR's definition of
that conid: ``/trsrv/secdef`` gives strike, right, expiry and multiplier, which
``/iserver/contract/{conid}/info`` does not), never from the caller; tested against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.resolver import AsyncContractResolver, ContractResolver
from tests.client.conftest import call, running_sim, sim_client


@pytest.fixture(scope="module")
def modify_sim() -> Iterator[Any]:
    with running_sim(seed=13) as server:  # one simulator for the module's orders
        yield server


def _book_price(sim: Any, order_id: str) -> float:
    for row in sim.admin.state()["orders"]:
        if str(row.get("orderId")) == str(order_id):
            return float(row["price"])
    raise AssertionError(f"order {order_id} is not in the simulator's book")


async def _contract(client: Any, kind: str, sec_type: str) -> IBKRContract:
    r: Any = ContractResolver(client) if kind == "sync" else AsyncContractResolver(client)
    if sec_type == "STK":
        return await call(r.resolve("AAPL", "stock", {}))  # type: ignore[no-any-return]
    if sec_type == "CASH":
        return await call(r.resolve("EUR.USD", "forex", {}))  # type: ignore[no-any-return]
    if sec_type == "FUT":
        return await call(r.resolve("ES", "futures", {}))  # type: ignore[no-any-return]
    if sec_type == "BOND":
        filters = await call(client.bond_filters("e1400789"))
        month = next(f for f in filters if f.column_id == 27).options[0].value
        return await call(r.resolve("IBM", "bond", {"issuer": "e1400789", "maturity": month}))  # type: ignore[no-any-return]
    found = await call(client.search("AAPL"))
    section = next(s for x in found if x.conid == 265598 for s in x.sections if s.sec_type == "OPT")
    month = (section.months or "").split(";")[0]
    strikes = await call(client.strikes(265598, month))
    strike = strikes.put[len(strikes.put) // 2]
    infos = await call(client.secdef_info(265598, "OPT", month=month, strike=strike, right="P"))
    details = {"expiry": infos[0].maturity_date, "strike": strike, "right": "P"}
    return await call(r.resolve("AAPL", "options", details))  # type: ignore[no-any-return]


#: (security type, host asset type, quantity, market price the test sets (options: their own),
#: the grid step when the contract carries no rules)
CASES = [
    ("STK", "stock", 2, 100.0, 0.01),
    ("OPT", "options", 1, 0.0, 0.01),
    ("CASH", "forex", 20000, 1.1, 0.00005),
    ("FUT", "futures", 1, 5900.0, 0.25),
    ("BOND", "bond", 10000, 99.0, 0.001),
]


@pytest.mark.parametrize(("sec_type", "asset", "qty", "market", "step"), CASES, ids=[c[0] for c in CASES])
async def test_modify_from_the_orders_own_terms(
    kind: str, modify_sim: Any, sec_type: str, asset: str, qty: float, market: float, step: float
) -> None:
    client = sim_client(kind, modify_sim, futures_operator="Test Operator")
    try:
        contract = await _contract(client, kind, sec_type)
        assert contract.sec_type == sec_type
        if sec_type == "OPT":  # priced from its underlying: read its own market
            quote = (await call(client.snapshot([contract.conid])))[0]
            market = float(quote.last or quote.bid or 0.0)
            assert market > 0
        else:
            modify_sim.admin.set_price(contract.conid, market)
        step = contract.increment_rules[0].increment if contract.increment_rules else step
        first = round(round(market * 0.99 / step) * step, 6)
        order = {"symbol": contract.symbol, "side": "buy", "qty": qty, "order_type": "limit",
                 "limit_price": first, "time_in_force": "day", "asset_type": asset}  # fmt: skip
        placed = await call(client.place_order(order, contract))
        assert placed.status == "open" and placed.order_id, placed

        own = await call(client.order_contract(contract.conid))
        assert (own.sec_type, own.symbol, own.currency) == (sec_type, contract.symbol, contract.currency)
        if sec_type == "OPT":
            assert (own.strike, own.right, own.expiry, own.multiplier) == (
                contract.strike, "P", contract.expiry, 100.0
            )  # fmt: skip
        if sec_type == "FUT":
            assert (own.expiry, own.multiplier, own.exchange) == (contract.expiry, 50.0, contract.exchange)
        assert own.rules_source == "ibkr" and own.increment_rules

        second = round(first - 4 * step, 6)
        moved = await call(client.modify_order(placed.order_id, {**order, "limit_price": second}))
        assert moved.order_id == placed.order_id and moved.status == "open", moved
        assert abs(_book_price(modify_sim, placed.order_id) - second) < step / 10
        await call(client.cancel_order(placed.order_id, sec_type=sec_type))
    finally:
        await call(client.close())


async def test_modify_without_a_known_conid_is_refused(kind: str, modify_sim: Any) -> None:
    client = sim_client(kind, modify_sim)
    try:
        bad = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit", "limit_price": 1.0,
               "conid": "x"}  # fmt: skip
        with pytest.raises(OrderValidationError, match="conid"):
            await call(client.modify_order("1", bad))
    finally:
        await call(client.close())


# -- against IBKR's documented shapes (REFERENCE §3.1): strike as text, putOrCall, a CASH ticker
# that is the base currency alone. Tolerant of both CASH readings (``EUR`` or ``EUR.USD``).


def _secdef(**record: Any) -> dict[str, Any]:
    base = {"conid": 1, "currency": "USD", "strike": "0", "undConid": 0, "multiplier": 0.0}
    return {"secdef": [{**base, **record}]}


@pytest.mark.parametrize(
    ("record", "info", "expected"),
    [
        ({"conid": 1, "assetClass": "OPT", "ticker": "AAPL", "strike": "217.5", "putOrCall": "C",
          "expiry": "20241018", "multiplier": 100.0, "undConid": 265598},
         {"con_id": 1, "instrument_type": "OPT", "symbol": "AAPL", "exchange": "SMART", "multiplier": "100",
          "local_symbol": "AAPL  241018C00217500"},
         {"sec_type": "OPT", "symbol": "AAPL", "strike": 217.5, "right": "C", "expiry": "20241018",
          "multiplier": 100.0, "underlying_conid": 265598}),
        ({"conid": 1, "assetClass": "CASH", "ticker": "EUR"},
         {"con_id": 1, "instrument_type": "CASH", "symbol": "EUR", "currency": "USD",
          "local_symbol": "EUR.USD"},
         {"sec_type": "CASH", "symbol": "EUR.USD", "exchange": "IDEALPRO", "strike": None, "right": None}),
        ({"conid": 1, "assetClass": "CASH", "ticker": "EUR"},
         {"con_id": 1, "instrument_type": "CASH", "symbol": "EUR", "currency": "USD"},
         {"sec_type": "CASH", "symbol": "EUR.USD", "exchange": "IDEALPRO"}),
        ({"conid": 1, "assetClass": "FUT", "ticker": "ES", "expiry": "20261218", "multiplier": 50.0},
         {"con_id": 1, "instrument_type": "FUT", "symbol": "ES", "exchange": "CME"},
         {"sec_type": "FUT", "symbol": "ES", "exchange": "CME", "expiry": "20261218", "multiplier": 50.0}),
    ],
    ids=["OPT", "CASH-base-ticker", "CASH-no-local-symbol", "FUT"],
)  # fmt: skip
async def test_order_contract_reads_ibkrs_definition(
    kind: str, router: Any, record: dict[str, Any], info: dict[str, Any], expected: dict[str, Any]
) -> None:
    from tests.client.conftest import make_client

    router.on("GET", "/trsrv/secdef", _secdef(**record)).on("GET", "/iserver/contract/1/info", info)
    client = make_client(kind, router)
    try:
        contract = await call(client.order_contract(1))
        assert {k: getattr(contract, k) for k in expected} == expected
        assert contract.rules_source is None  # IBKR gave no rules here: the static table decides
    finally:
        await call(client.close())


async def test_order_contract_of_an_unknown_conid_is_not_found(kind: str, router: Any) -> None:
    from axion_broker_ibkr.errors import ContractNotFoundError
    from tests.client.conftest import make_client

    router.on("GET", "/trsrv/secdef", {"secdef": []})
    client = make_client(kind, router)
    try:
        with pytest.raises(ContractNotFoundError, match="conid 7"):
            await call(client.order_contract(7))
    finally:
        await call(client.close())
