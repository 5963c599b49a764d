"""Order groups through both clients against the simulator: one POST, every leg in the order log before
it leaves, the entry's fill activating the exits, one exit's fill cancelling the other, an OCO pair,
a refused question declining every leg, and a lost answer that sends nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.client import AsyncIBKRClient, IBKRClient
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.errors import QuestionRefusedError
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.store import open_store
from tests.client.conftest import SIM_SCALE, call, no_wait_retry, sim_config
from tests.client.test_modify_every_type import _contract

ALL = ["o163", "o354", "o10151", "o403"]
ES_PRICE, AAPL_PRICE = 5900.0, 200.0


@pytest.fixture
def group_sim() -> Iterator[Any]:
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=21, rate_scale=SIM_SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    opened = open_store(f"sqlite:///{tmp_path / 'log.sqlite'}")
    try:
        yield opened
    finally:
        opened.close()


def _client(kind: str, sim: Any, journal: Any, **config: Any) -> IBKRClient | AsyncIBKRClient:
    cls = IBKRClient if kind == "sync" else AsyncIBKRClient
    cfg = sim_config(sim, futures_operator="desk-1", **config)
    client = cls(cfg, pacer=Pacer(600, scale=SIM_SCALE), journal=journal, retry=no_wait_retry())
    client.state.poll_interval = 0.05
    return client


@pytest.fixture
async def group_client(kind: str, group_sim: Any, store: Any) -> AsyncIterator[Callable[..., Any]]:
    """Clients of ``kind`` on the group simulator and this test's order log, closed at the end:
    ``group_client(auto_confirm=[...], ...)`` (config keys as :func:`_client`)."""
    made: list[Any] = []

    def make(**config: Any) -> Any:
        made.append(_client(kind, group_sim, store.journal, **config))
        return made[-1]

    yield make
    for client in made:
        await call(client.close())


async def _entry_price(client: Any, contract: IBKRContract) -> float:
    quotes = await call(client.snapshot([contract.conid], wait=3.0))
    bid = quotes[0].bid or quotes[0].last
    assert bid, f"no quote for {contract.conid}"
    return round(float(bid) * 0.97, 2)


def _bracket(contract: IBKRContract, entry: float, qty: int, coid: str) -> dict[str, Any]:
    step = 0.25 if contract.sec_type == "FUT" else 0.01

    def on_grid(x: float) -> float:
        return round(round(x / step) * step, 2)

    return {
        "side": "buy", "qty": qty, "order_type": "limit", "limit_price": on_grid(entry),
        "time_in_force": "gtc", "client_order_id": coid,
        "take_profit": {"limit_price": on_grid(entry * 1.05)},
        "stop_loss": {"stop_price": on_grid(entry * 0.95)},
    }  # fmt: skip


async def _sync_log(client: Any, journal: Any) -> None:
    """What ``follow_stream`` does with the stream's order and trade events, from REST."""
    for order in await call(client.live_orders()):
        journal.apply_order(order)
    for trade in await call(client.trades()):
        journal.apply_trade(trade)


def _pin(sim: Any, contract: IBKRContract) -> None:
    if contract.sec_type == "FUT":
        sim.admin.set_price(contract.conid, ES_PRICE)
    elif contract.sec_type == "OPT":  # the put in the money: a premium worth bracketing
        sim.admin.set_price(265598, round(float(contract.strike or AAPL_PRICE) * 0.85, 2))
    else:
        sim.admin.set_price(265598, AAPL_PRICE)  # options are priced from their underlying


@pytest.mark.parametrize("sec_type", ["STK", "OPT", "FUT"])
async def test_a_bracket_is_placed_its_entry_fills_its_take_profit_fills_and_the_stop_is_cancelled(
    kind: str, group_sim: Any, store: Any, sec_type: str
) -> None:
    journal = store.journal
    client = _client(kind, group_sim, journal, auto_confirm=ALL)
    try:
        contract = await _contract(client, kind, sec_type)
        _pin(group_sim, contract)
        entry = await _entry_price(client, contract)
        coid = f"br-{kind}-{sec_type}"
        result = await call(client.place_order(_bracket(contract, entry, 2, coid), contract))
        assert result.group_id == coid and result.client_order_id == coid
        assert [leg.role for leg in result.legs] == ["entry", "take_profit", "stop_loss"]
        assert [leg.client_order_id for leg in result.legs] == [coid, f"{coid}.tp", f"{coid}.sl"]
        assert all(leg.order_id for leg in result.legs) and result.order_id == result.legs[0].order_id
        assert [leg.ibkr_status for leg in result.legs] == ["Submitted", "PreSubmitted", "PreSubmitted"]
        in_sim = [
            o
            for o in group_sim.admin.state()["orders"]
            if str(o["orderId"]) in {x.order_id for x in result.legs}
        ]
        assert len(in_sim) == 3  # one POST, three orders, nothing else

        rows = {leg.client_order_id: journal.get(leg.client_order_id) for leg in result.legs}
        assert all(row is not None for row in rows.values())
        assert [rows[x.client_order_id].parent_client_order_id for x in result.legs] == [None, coid, coid]
        assert all(rows[x.client_order_id].transcript[0]["group"]["id"] == coid for x in result.legs)
        assert "cOID" not in rows[f"{coid}.tp"].payload and rows[f"{coid}.tp"].payload["parentId"] == coid
        for row in rows.values():  # IBKR's questions about the group, answered under the one policy
            asked = [r for r in row.transcript if "message_ids" in r]
            assert asked and all(r["answer"] is True and r["auto_confirmed"] for r in asked)

        parent_id, tp_id, _sl_id = (leg.order_id for leg in result.legs)
        group_sim.admin.fill(parent_id, price=entry)
        group_sim.admin.fill(tp_id)
        group_sim.admin.tick()
        await _sync_log(client, journal)
        statuses = [journal.get(x.client_order_id).status for x in result.legs]
        assert statuses == ["filled", "filled", "canceled"]
        assert journal.get(coid).filled_quantity == 2 and journal.get(f"{coid}.tp").filled_quantity == 2
    finally:
        await call(client.close())


async def test_an_oco_pair_behaves_as_one(kind: str, group_sim: Any, store: Any) -> None:
    journal = store.journal
    client = _client(kind, group_sim, journal, auto_confirm=ALL)
    try:
        contract = await _contract(client, kind, "STK")
        _pin(group_sim, contract)
        oco = {"client_order_id": f"oco-{kind}", "oco": [
            {"symbol": "AAPL", "side": "buy", "qty": 3, "order_type": "stop", "stop_price": 210.0},
            {"symbol": "AAPL", "side": "buy", "qty": 3, "order_type": "limit", "limit_price": 190.0},
        ]}  # fmt: skip
        result = await call(client.place_order(oco, contract))
        assert [leg.client_order_id for leg in result.legs] == [f"oco-{kind}.o1", f"oco-{kind}.o2"]
        group_sim.admin.fill(result.legs[1].order_id)
        await _sync_log(client, journal)
        assert [journal.get(x.client_order_id).status for x in result.legs] == ["canceled", "filled"]
    finally:
        await call(client.close())


async def test_a_refused_question_declines_every_leg_and_places_nothing(
    kind: str, group_sim: Any, store: Any
) -> None:
    journal = store.journal
    client = _client(kind, group_sim, journal)  # no auto_confirm: o163 is refused
    try:
        contract = await _contract(client, kind, "STK")
        _pin(group_sim, contract)
        order = _bracket(contract, AAPL_PRICE * 0.9, 1, f"q-{kind}")
        with pytest.raises(QuestionRefusedError):
            await call(client.place_order(order, contract))
        assert [journal.get(c).status for c in (f"q-{kind}", f"q-{kind}.tp", f"q-{kind}.sl")] == [
            "declined"
        ] * 3
        assert group_sim.admin.state()["orders"] == []
        # (with hold_questions the question is held for the caller: test_group_questions_sim.py)
    finally:
        await call(client.close())


async def test_a_lost_answer_finds_every_leg_and_sends_nothing_twice(
    kind: str, group_sim: Any, store: Any
) -> None:
    journal = store.journal
    client = _client(kind, group_sim, journal, auto_confirm=ALL, request_timeout=1.0)
    try:
        contract = await _contract(client, kind, "STK")
        _pin(group_sim, contract)
        await call(client.live_orders())  # the pre-flight, so the lookup is not the first call
        group_sim.admin.timeout_next_order()
        result = await call(
            client.place_order(_bracket(contract, AAPL_PRICE * 0.98, 1, f"lost-{kind}"), contract)
        )
        assert "found at IBKR" in result.message
        assert [leg.ibkr_status for leg in result.legs] == ["Submitted", "PreSubmitted", "PreSubmitted"]
        assert len(group_sim.admin.state()["orders"]) == 3  # exactly once
        assert {journal.get(x.client_order_id).order_id for x in result.legs} == {
            x.order_id for x in result.legs
        }
    finally:
        await call(client.close())


async def test_an_exit_is_modified_alone_and_stays_attached(kind: str, group_sim: Any, store: Any) -> None:
    journal = store.journal
    client = _client(kind, group_sim, journal, auto_confirm=ALL)
    try:
        contract = await _contract(client, kind, "STK")
        _pin(group_sim, contract)
        result = await call(client.place_order(_bracket(contract, 195.0, 2, f"mod-{kind}"), contract))
        tp = result.legs[1]
        terms = {"side": "sell", "qty": 2, "order_type": "limit", "limit_price": 212.0,
                 "time_in_force": "gtc", "client_order_id": tp.client_order_id}  # fmt: skip
        modified = await call(client.modify_order(tp.order_id, terms, contract))
        assert modified.order_id == tp.order_id
        book = {str(o["orderId"]): o for o in group_sim.admin.state()["orders"]}
        assert float(book[tp.order_id]["price"]) == 212.0 and book[tp.order_id]["parentId"] == int(
            result.order_id
        )
        assert book[tp.order_id]["status"] == "PreSubmitted"  # still held until the entry fills
        row = journal.get(tp.client_order_id)
        assert row is not None and row.price == 212.0
    finally:
        await call(client.close())


async def test_an_oto_sends_its_order_once_the_entry_fills(kind: str, group_sim: Any, store: Any) -> None:
    client = _client(kind, group_sim, store.journal, auto_confirm=ALL)
    try:
        contract = await _contract(client, kind, "STK")
        _pin(group_sim, contract)
        oto = {"side": "buy", "qty": 1, "order_type": "limit", "limit_price": 196.0,
               "client_order_id": f"oto-{kind}",
               "then": [{"side": "sell", "qty": 1, "order_type": "limit", "limit_price": 204.0}]}  # fmt: skip
        result = await call(client.place_order(oto, contract))
        assert [leg.role for leg in result.legs] == ["entry", "then"]
        assert [leg.ibkr_status for leg in result.legs] == ["Submitted", "PreSubmitted"]
        group_sim.admin.fill(result.order_id)
        book = {str(o["orderId"]): o["status"] for o in group_sim.admin.state()["orders"]}
        assert book[result.legs[1].order_id] == "Submitted"  # working now that the entry filled
    finally:
        await call(client.close())


async def test_a_lost_answer_mid_group_leaves_no_duplicate_and_a_settled_log_after_restart(
    kind: str, group_sim: Any, tmp_path: Path
) -> None:
    """The group's answer is lost and live orders cannot be read either: nothing is re-sent, every
    leg is ``unknown_at_broker``; after a restart, reconciliation settles every leg from IBKR's live
    orders (children through their parent) and the group is complete, with three orders at IBKR."""
    from axion_broker_ibkr.errors import OrderStateUnknownError

    url = f"sqlite:///{tmp_path / 'restart.sqlite'}"
    first = open_store(url)
    client = _client(kind, group_sim, first.journal, auto_confirm=ALL, request_timeout=1.0)
    coid = f"rs-{kind}"
    coids = [coid, f"{coid}.tp", f"{coid}.sl"]
    try:
        contract = await _contract(client, kind, "STK")
        _pin(group_sim, contract)
        await call(client.live_orders())  # the pre-flight
        group_sim.admin.timeout_next_order()
        group_sim.admin.fail(status=503, count=50, path_prefix="/iserver/account/orders")
        with pytest.raises(OrderStateUnknownError, match="nothing was re-sent"):
            await call(client.place_order(_bracket(contract, AAPL_PRICE * 0.98, 1, coid), contract))
        assert [getattr(first.journal.get(c), "status", None) for c in coids] == ["unknown_at_broker"] * 3
    finally:
        group_sim.admin.fail(status=503, count=0)
        await call(client.close())
        first.close()  # the process ends here

    again = open_store(url)
    restarted = IBKRClient(sim_config(group_sim), pacer=Pacer(600, scale=SIM_SCALE), retry=no_wait_retry())
    try:
        decisions = {d.client_order_id: d for d in again.reconcile(restarted)}
        assert set(decisions) == set(coids)
        assert all(d.status == "open" and d.order_id for d in decisions.values())
        assert {d.evidence["group"]["state"] for d in decisions.values()} == {"complete"}
        rows = [r for r in (again.journal.get(c) for c in coids) if r is not None]
        assert [r.status for r in rows] == ["open"] * 3
        assert {r.order_id for r in rows} == {str(o["orderId"]) for o in group_sim.admin.state()["orders"]}
        assert len(group_sim.admin.state()["orders"]) == 3  # exactly once, before and after the restart
        assert again.reconcile(restarted) == []  # settled: nothing left to decide
    finally:
        restarted.close()
        again.close()
