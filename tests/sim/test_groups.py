"""Order groups in the simulator: one POST, held children, OCA cancel/reduce, partial fills, group cancel."""

from __future__ import annotations

from typing import Any

import httpx

from axion_broker_ibkr.sim import SimServer

from .conftest import AAPL, ACCT, live_orders
from .test_orders import ALL_QUESTIONS, pin


def _leg(side: str, kind: str, price: float | None, qty: float = 10, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"conid": AAPL, "side": side, "orderType": kind, "quantity": qty, "tif": "GTC"}
    if price is not None:
        out["price"] = price
    return out | extra


def _bracket(coid: str = "br-1", qty: float = 10, child_coids: bool = False) -> list[dict[str, Any]]:
    tp = _leg("SELL", "LMT", 210.0, qty, parentId=coid)
    sl = _leg("SELL", "STP", 190.0, qty, parentId=coid)
    if child_coids:  # tolerated: the reference says children carry none, some callers send one
        tp["cOID"], sl["cOID"] = f"{coid}.tp", f"{coid}.sl"
    return [_leg("BUY", "LMT", 199.0, qty, cOID=coid), tp, sl]


def _post(api: httpx.Client, orders: list[dict[str, Any]]) -> list[int]:
    answer = api.post(f"/iserver/account/{ACCT}/orders", json={"orders": orders}).json()
    assert isinstance(answer, list) and len(answer) == len(orders), answer  # one element per order
    return [int(a["order_id"]) for a in answer]


def _status(api: httpx.Client, ids: list[int]) -> list[str]:
    by_id = {o["orderId"]: o for o in live_orders(api)}
    return [by_id[i]["status"] for i in ids]


def _setup(sim: SimServer, api: httpx.Client) -> None:
    pin(sim, 200.0)
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})


def test_a_bracket_is_one_post_children_held_then_take_profit_cancels_the_stop(
    fsim: SimServer, api: httpx.Client
) -> None:
    _setup(fsim, api)
    ids = _post(api, _bracket())
    assert _status(api, ids) == ["Submitted", "PreSubmitted", "PreSubmitted"]
    fsim.admin.set_price(AAPL, 195.0)  # below the stop too: the held stop must not trigger
    assert _status(api, ids) == ["Filled", "Submitted", "PreSubmitted"]
    fsim.admin.set_price(AAPL, 211.0)
    assert _status(api, ids) == ["Filled", "Filled", "Cancelled"]


def test_children_with_their_own_coid_are_tolerated(fsim: SimServer, api: httpx.Client) -> None:
    _setup(fsim, api)
    ids = _post(api, _bracket("br-2", child_coids=True))
    refs = {o["orderId"]: o.get("order_ref") for o in live_orders(api)}
    assert [refs[i] for i in ids] == ["br-2", "br-2.tp", "br-2.sl"]


def test_a_partial_entry_fill_sizes_the_exits(fsim: SimServer, api: httpx.Client) -> None:
    _setup(fsim, api)
    parent, tp, sl = _post(api, _bracket("br-3"))
    fsim.admin.fill(parent, quantity=4, price=199.0)
    assert _status(api, [parent, tp, sl]) == ["Submitted", "Submitted", "PreSubmitted"]
    fsim.admin.fill(tp, price=210.0)  # the take-profit can sell only the 4 bought so far
    rows = {o["orderId"]: o for o in live_orders(api)}
    assert rows[tp]["filledQuantity"] == 4.0 and rows[tp]["status"] == "Submitted"
    assert rows[sl]["totalSize"] == 6.0  # the stop is reduced by what the take-profit sold
    fsim.admin.fill(parent, price=199.0)  # the rest of the entry
    fsim.admin.fill(tp, price=210.0)
    assert _status(api, [parent, tp, sl]) == ["Filled", "Filled", "Cancelled"]
    position = [p for p in api.get(f"/portfolio/{ACCT}/positions/0").json() if p["conid"] == AAPL]
    assert not position or position[0]["position"] == 0


def test_cancelling_the_parent_cancels_the_group_and_a_child_its_sibling(
    fsim: SimServer, api: httpx.Client
) -> None:
    _setup(fsim, api)
    ids = _post(api, _bracket("br-4"))
    assert api.delete(f"/iserver/account/{ACCT}/order/{ids[0]}").json()["msg"] == "Request was submitted"
    fsim.admin.tick()
    assert _status(api, ids) == ["Cancelled"] * 3
    parent, tp, sl = _post(api, _bracket("br-5"))
    fsim.admin.fill(parent, price=199.0)
    api.delete(f"/iserver/account/{ACCT}/order/{tp}")
    fsim.admin.tick()
    assert _status(api, [parent, tp, sl]) == ["Filled", "Cancelled", "Cancelled"]


def test_a_partly_filled_parent_cancelled_keeps_its_exits(fsim: SimServer, api: httpx.Client) -> None:
    _setup(fsim, api)
    parent, tp, sl = _post(api, _bracket("br-6"))
    fsim.admin.fill(parent, quantity=3, price=199.0)
    api.delete(f"/iserver/account/{ACCT}/order/{parent}")
    fsim.admin.tick()
    assert _status(api, [parent, tp, sl]) == ["Cancelled", "Submitted", "PreSubmitted"]
    fsim.admin.fill(tp, price=210.0)
    rows = {o["orderId"]: o for o in live_orders(api)}
    assert rows[tp]["filledQuantity"] == 3.0  # sized to the filled part only


def test_an_oco_pair_is_one_post_and_one_fill_cancels_the_other(fsim: SimServer, api: httpx.Client) -> None:
    _setup(fsim, api)
    a = _leg("BUY", "STP", 205.0, cOID="oco-1.o1", isSingleGroup=True)
    b = _leg("BUY", "LMT", 195.0, cOID="oco-1.o2", isSingleGroup=True)
    ids = _post(api, [a, b])
    assert _status(api, ids) == ["PreSubmitted", "Submitted"]
    fsim.admin.set_price(AAPL, 194.0)
    assert _status(api, ids) == ["Cancelled", "Filled"]


def test_a_group_with_a_bad_leg_creates_nothing(fsim: SimServer, api: httpx.Client) -> None:
    _setup(fsim, api)
    before = len(fsim.admin.state()["orders"])
    orders = _bracket("br-7")
    orders[2]["orderType"] = "NOPE"
    answer = api.post(f"/iserver/account/{ACCT}/orders", json={"orders": orders})
    assert "error" in answer.json()
    orphan = [_leg("SELL", "LMT", 210.0, parentId="nobody")]
    assert "error" in api.post(f"/iserver/account/{ACCT}/orders", json={"orders": orphan}).json()
    assert len(fsim.admin.state()["orders"]) == before


def test_modifying_the_parents_quantity_resizes_its_children_unless_switched_off(
    fsim: SimServer, api: httpx.Client
) -> None:
    _setup(fsim, api)
    parent, tp, sl = _post(api, _bracket("br-8"))
    entry = _leg("BUY", "LMT", 199.0, 12)
    assert "order_id" in api.post(f"/iserver/account/{ACCT}/order/{parent}", json=entry).json()[0]
    rows = {o["orderId"]: o for o in live_orders(api)}
    assert [rows[i]["totalSize"] for i in (parent, tp, sl)] == [12.0, 12.0, 12.0]  # as TWS does
    assert rows[tp]["parentId"] == parent  # still attached
    assert fsim.admin.config(children_follow_parent=False)["children_follow_parent"] is False
    api.post(f"/iserver/account/{ACCT}/order/{parent}", json=_leg("BUY", "LMT", 199.0, 8))
    rows = {o["orderId"]: o for o in live_orders(api)}
    assert [rows[i]["totalSize"] for i in (parent, tp, sl)] == [8.0, 12.0, 12.0]  # left to the client
    one = api.post(f"/iserver/account/{ACCT}/order/{sl}", json=_leg("SELL", "STP", 190.0, 8)).json()
    assert "order_id" in one[0]  # a child modified alone is accepted (the client keeps them equal)
