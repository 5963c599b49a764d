"""Issue 16.3: every order the plugin can produce reaches the simulator and is accepted there, or is
refused by the plugin with a clear error before anything is sent.

The accepted combinations are :data:`axion_broker_ibkr.orders.plan.PLANS` itself (security type x
order type x TIF, MIDPRICE included), so a combination added to the rules is tested here without
editing this file. The refused TIFs (``fok``, ``gtd``, ``cls``: no documented wire form, REFERENCE
§4.1/§10) are refused by the translator, with no request to the orders endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.orders.plan import PLANS
from axion_broker_ibkr.orders.rules import REFUSED_TIFS, SEC_TYPES
from tests.client.conftest import SIM_SCALE, call, sim_client
from tests.client.test_modify_every_type import _contract

ASSETS = {"STK": "stock", "OPT": "options", "CASH": "forex", "FUT": "futures", "BOND": "bond"}
QTY = {"STK": 2, "OPT": 1, "CASH": 20000, "FUT": 1, "BOND": 10000}
MARKET = {"STK": 100.0, "CASH": 1.1, "FUT": 5900.0, "BOND": 99.0}
STEP = {"STK": 0.01, "OPT": 0.01, "CASH": 0.00005, "FUT": 0.25, "BOND": 0.001}
#: Every question the simulator may ask for these orders is answered yes for this client's orders.
CONFIRM = ("o163", "o354", "o403", "o10151", "o10152", "o10331")


@pytest.fixture(scope="module")
def order_sim() -> Iterator[Any]:
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=21, rate_scale=SIM_SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _grid(value: float, step: float) -> float:
    return round(round(value / step) * step, 6)


def _order(contract: IBKRContract, sec_type: str, order_type: str, tif: str, market: float) -> dict[str, Any]:
    """A buy of this combination priced so that the simulator takes it (stops above the market)."""
    step = contract.increment_rules[0].increment if contract.increment_rules else STEP[sec_type]
    order: dict[str, Any] = {
        "symbol": contract.symbol, "side": "buy", "qty": QTY[sec_type], "order_type": order_type,
        "time_in_force": tif, "asset_type": ASSETS[sec_type],
    }  # fmt: skip
    below, above = _grid(market * 0.99, step), _grid(market * 1.01, step)
    if order_type in ("limit", "midprice"):
        order["limit_price"] = below
    if order_type in ("stop", "stop_limit"):
        order["stop_price"] = above
    if order_type == "stop_limit":
        order["limit_price"] = _grid(market * 1.02, step)
    if order_type in ("trailing_stop", "trailing_stop_limit"):
        order["trail_amount"] = _grid(max(market * 0.02, step), step)
    if order_type == "trailing_stop_limit":
        order["stop_price"], order["limit_price"] = above, _grid(market * 1.02, step)
    return order


def _combos(sec_type: str) -> list[tuple[str, str]]:
    return sorted((o, t) for (s, o, t) in PLANS if s == sec_type)


def test_the_plans_cover_midprice_for_stocks_only() -> None:
    assert ("STK", "midprice", "day") in PLANS and ("STK", "midprice", "ioc") in PLANS
    assert not any(o == "midprice" for (s, o, _) in PLANS if s != "STK")
    assert not any(t == "cls" for (_, _, t) in PLANS)


@pytest.mark.parametrize("sec_type", sorted(SEC_TYPES))
async def test_every_combination_is_accepted_by_the_simulator(
    kind: str, order_sim: Any, sec_type: str
) -> None:
    client = sim_client(kind, order_sim, futures_operator="Test Operator", auto_confirm=CONFIRM)
    try:
        contract = await _contract(client, kind, sec_type)
        if sec_type == "OPT":
            quote = (await call(client.snapshot([contract.conid])))[0]
            market = float(quote.last or quote.bid or 0.0)
            assert market > 0
        else:
            market = MARKET[sec_type]
            order_sim.admin.set_price(contract.conid, market)
        combos = _combos(sec_type)
        assert combos
        for order_type, tif in combos:
            order = _order(contract, sec_type, order_type, tif, market)
            placed = await call(client.place_order(order, contract))
            assert placed.order_id, (order_type, tif, placed)
            taken = ("open", "filled", "partially_filled") + (("canceled",) if tif == "ioc" else ())
            assert placed.status in taken, (order_type, tif, placed)  # an unfilled IOC is cancelled
            if placed.status == "open":
                await call(client.cancel_order(placed.order_id, sec_type=sec_type))
    finally:
        await call(client.close())


@pytest.mark.parametrize("tif", sorted(REFUSED_TIFS))
async def test_refused_tifs_never_reach_the_gateway(kind: str, order_sim: Any, tif: str) -> None:
    client = sim_client(kind, order_sim)
    try:
        contract = await _contract(client, kind, "STK")
        before = len(order_sim.admin.state()["orders"])
        order = _order(contract, "STK", "limit", tif, MARKET["STK"])
        with pytest.raises(OrderValidationError) as info:
            await call(client.place_order(order, contract))
        assert info.value.field == "time_in_force" and REFUSED_TIFS[tif] in str(info.value)
        assert len(order_sim.admin.state()["orders"]) == before
    finally:
        await call(client.close())


async def test_midprice_needs_its_cap_and_is_refused_for_options(kind: str, order_sim: Any) -> None:
    client = sim_client(kind, order_sim)
    try:
        stock = await _contract(client, kind, "STK")
        with pytest.raises(OrderValidationError) as info:
            await call(
                client.place_order(
                    {**_order(stock, "STK", "midprice", "day", 100.0), "limit_price": None}, stock
                )
            )
        assert info.value.field == "limit_price"
        with pytest.raises(OrderValidationError) as info:
            await call(client.place_order(_order(stock, "STK", "midprice", "opg", 100.0), stock))
        assert info.value.field == "time_in_force"
        fx = await _contract(client, kind, "CASH")
        with pytest.raises(OrderValidationError) as info:
            await call(client.place_order(_order(fx, "CASH", "midprice", "day", 1.1), fx))
        assert info.value.field == "order_type" and "midprice is not taken for CASH" in str(info.value)
    finally:
        await call(client.close())


def test_the_simulator_refuses_midprice_outside_stocks(order_sim: Any) -> None:
    """The simulator agrees with the plugin: its contract rules list midprice for stocks only, and a
    MIDPRICE ticket for another security type is refused (the plugin never sends one)."""
    from tests.sim.conftest import ACCT, EURUSD, client_for

    with client_for(order_sim) as c:
        c.get("/iserver/accounts")
        stock = c.post("/iserver/contract/rules", json={"conid": 265598, "isBuy": True}).json()
        fx = c.post("/iserver/contract/rules", json={"conid": EURUSD, "isBuy": True}).json()
        assert "midprice" in stock["orderTypes"] and "midprice" not in fx["orderTypes"]
        order = {"conidex": f"{EURUSD}@IDEALPRO", "side": "BUY", "orderType": "MIDPRICE", "price": 1.0,
                 "quantity": 20000, "tif": "DAY"}  # fmt: skip
        answer = c.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}).json()
        assert "MIDPRICE" in answer["error"]
