"""Modifying one leg of an order group against the simulator, with both clients: a new entry quantity
resizes its exits (IBKR's OCA exit group keeps equal quantities), whether the simulator resizes the
children itself (as TWS does) or leaves them to the client; one exit's quantity alone is refused,
naming the leg and field, with nothing sent; ``modify_group`` changes every exit together; an OCO
order's quantity changes only with the others'. Every leg's modification is in the order log."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.errors import OrderValidationError
from tests.client.conftest import call
from tests.client.test_groups_sim import ALL, _bracket, _pin, group_client, group_sim, store
from tests.client.test_modify_every_type import _contract

__all__ = ["group_client", "group_sim", "store"]  # the fixtures, re-used


def _sizes(sim: Any, ids: list[str]) -> list[float]:
    book = {str(o["orderId"]): o for o in sim.admin.state()["orders"]}
    return [float(book[i]["totalSize"]) for i in ids]


def _terms(leg_order: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**leg_order, **changes}


async def _placed(client: Any, kind: str, sim: Any, coid: str) -> tuple[Any, Any, dict[str, Any]]:
    contract = await _contract(client, kind, "STK")
    _pin(sim, contract)
    order = _bracket(contract, 195.0, 2, coid)
    result = await call(client.place_order(order, contract))
    return contract, result, order


def _exit_ticket(order: dict[str, Any], leg: str) -> dict[str, Any]:
    """The full ticket of an exit as modify_order takes it (the side opposite the entry's)."""
    base = {"side": "sell", "qty": order["qty"], "time_in_force": order["time_in_force"]}
    if leg == "take_profit":
        return base | {"order_type": "limit", "limit_price": order["take_profit"]["limit_price"]}
    return base | {"order_type": "stop", "stop_price": order["stop_loss"]["stop_price"]}


@pytest.mark.parametrize("follow", [True, False], ids=["sim-resizes-children", "client-resizes-children"])
async def test_a_new_entry_quantity_resizes_the_exits(
    kind: str, group_sim: Any, store: Any, group_client: Any, follow: bool
) -> None:
    journal = store.journal
    group_sim.admin.config(children_follow_parent=follow)
    client = group_client(auto_confirm=ALL)
    coid = f"gm-{kind}-{follow}"
    contract, placed, order = await _placed(client, kind, group_sim, coid)
    ids = [str(leg.order_id) for leg in placed.legs]
    entry = {k: v for k, v in order.items() if k not in ("take_profit", "stop_loss")}
    result = await call(client.modify_order(ids[0], _terms(entry, qty=3), contract))
    assert result.group_id == coid and result.order_id == ids[0]
    assert [leg.client_order_id for leg in result.legs] == [coid, f"{coid}.tp", f"{coid}.sl"]
    assert _sizes(group_sim, ids) == [3.0, 3.0, 3.0]
    assert len(group_sim.admin.state()["orders"]) == 3  # modified in place, nothing new
    for c in (coid, f"{coid}.tp", f"{coid}.sl"):
        row = journal.get(c)
        assert row.quantity == 3.0 and row.status == "open"
        (mod,) = journal.modifications(c)  # each leg's modification is in the log
        assert mod.status == "accepted" and float(mod.quantity) == 3.0
    said = journal.modifications(f"{coid}.sl")[0].message or ""
    assert ("resized by IBKR" in said) is follow  # not sent again when IBKR resized it itself
    assert journal.get(f"{coid}.tp").price == order["take_profit"]["limit_price"]  # terms kept
    # The group stays one: the entry's fill activates exits of the new size.
    group_sim.admin.fill(ids[0], price=195.0)
    group_sim.admin.fill(ids[1])
    group_sim.admin.tick()
    book = {str(o["orderId"]): o for o in group_sim.admin.state()["orders"]}
    assert [book[i]["status"] for i in ids] == ["Filled", "Filled", "Cancelled"]
    assert float(book[ids[1]]["filledQuantity"]) == 3.0


async def test_one_exit_quantity_alone_is_refused_and_both_together_are_modified(
    kind: str, group_sim: Any, store: Any, group_client: Any
) -> None:
    journal = store.journal
    client = group_client(auto_confirm=ALL)
    coid = f"gx-{kind}"
    contract, placed, order = await _placed(client, kind, group_sim, coid)
    ids = [str(leg.order_id) for leg in placed.legs]
    before = group_sim.admin.state()["orders"]
    stop = _exit_ticket(order, "stop_loss")
    with pytest.raises(OrderValidationError) as info:
        await call(client.modify_order(ids[2], _terms(stop, qty=1), contract))
    assert info.value.field == "stop_loss.qty"
    assert "take_profit" in info.value.reason and "modify_group" in info.value.reason
    assert group_sim.admin.state()["orders"] == before  # nothing sent
    assert journal.modifications(f"{coid}.sl") == []  # nothing recorded either
    with pytest.raises(OrderValidationError) as info:  # an exit larger than the entry
        await call(
            client.modify_group(
                coid,
                {
                    "take_profit": _terms(_exit_ticket(order, "take_profit"), qty=5),
                    "stop_loss": _terms(stop, qty=5),
                },
                contract,
            )
        )
    assert info.value.field == "take_profit.qty" and "exceeds the entry" in info.value.reason
    with pytest.raises(OrderValidationError) as info:
        await call(
            client.modify_group(
                coid, {"take_profit": _exit_ticket(order, "take_profit"), "nope": stop}, contract
            )
        )
    assert info.value.field == "changes['nope']"
    assert group_sim.admin.state()["orders"] == before

    result = await call(
        client.modify_group(
            coid,
            {
                "take_profit": _terms(_exit_ticket(order, "take_profit"), qty=1),
                f"{coid}.sl": _terms(stop, qty=1),
            },
            contract,
        )
    )
    assert [leg.client_order_id for leg in result.legs] == [f"{coid}.tp", f"{coid}.sl"]
    assert _sizes(group_sim, ids) == [2.0, 1.0, 1.0]
    assert [journal.get(c).quantity for c in (coid, f"{coid}.tp", f"{coid}.sl")] == [2.0, 1.0, 1.0]
    assert journal.modifications(coid) == []  # the entry was not touched


async def test_an_oco_order_quantity_changes_only_with_the_others(
    kind: str, group_sim: Any, group_client: Any
) -> None:
    client = group_client(auto_confirm=ALL)
    contract = await _contract(client, kind, "STK")
    _pin(group_sim, contract)
    a = {"symbol": "AAPL", "side": "buy", "qty": 3, "order_type": "stop", "stop_price": 210.0}
    b = {"symbol": "AAPL", "side": "buy", "qty": 3, "order_type": "limit", "limit_price": 190.0}
    gid = f"go-{kind}"
    placed = await call(client.place_order({"client_order_id": gid, "oco": [a, b]}, contract))
    ids = [str(leg.order_id) for leg in placed.legs]
    with pytest.raises(OrderValidationError) as info:
        await call(
            client.modify_order(
                ids[0], {**{k: v for k, v in a.items() if k != "qty"}, "quantity": 2}, contract
            )
        )
    assert info.value.field == "oco[0].quantity" and "oco[1]" in info.value.reason
    price_only = await call(client.modify_order(ids[1], {**b, "limit_price": 189.0}, contract))
    assert price_only.legs == ()  # a price change is one order's business
    result = await call(
        client.modify_group(f"{gid}.o1", {"oco[0]": {**a, "qty": 2}, "oco[1]": {**b, "qty": 2}}, contract)
    )
    assert [leg.client_order_id for leg in result.legs] == [f"{gid}.o1", f"{gid}.o2"]
    assert _sizes(group_sim, ids) == [2.0, 2.0]


async def test_a_held_question_about_the_entry_resizes_the_exits_once_answered_yes(
    kind: str, group_sim: Any, store: Any, group_client: Any
) -> None:
    """``hold_questions=True`` on an entry's quantity change: IBKR's question about the entry's
    modification is held (nothing modified yet); the yes modifies the entry, then resizes its exits."""
    journal = store.journal
    group_sim.admin.config(children_follow_parent=False)
    placer = group_client(auto_confirm=ALL)
    coid = f"gh-{kind}"
    contract, placed, order = await _placed(placer, kind, group_sim, coid)
    ids = [str(leg.order_id) for leg in placed.legs]
    trader = group_client(auto_confirm=["o354", "o10151", "o403"])  # o163 is asked of the trader
    entry = {k: v for k, v in order.items() if k not in ("take_profit", "stop_loss")}
    far = _terms(entry, qty=3, limit_price=190.0)  # 5 % under the market: o163
    held = await call(trader.modify_order(ids[0], far, contract, hold_questions=True))
    assert held.question is not None and held.question.message_ids == ("o163",)
    assert _sizes(group_sim, ids) == [2.0, 2.0, 2.0]  # nothing modified while the question is open
    done = await call(trader.answer_question(coid, True))
    assert done.group_id == coid and [leg.client_order_id for leg in done.legs] == [
        coid, f"{coid}.tp", f"{coid}.sl"
    ]  # fmt: skip
    assert _sizes(group_sim, ids) == [3.0, 3.0, 3.0]
    assert [journal.get(c).quantity for c in (coid, f"{coid}.tp", f"{coid}.sl")] == [3.0, 3.0, 3.0]
