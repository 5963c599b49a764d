"""Reconciling an order group after a crash between the order-log write and IBKR's answer, against the
simulator: every leg is settled from live orders (children through their parent), nothing is re-sent,
and each leg's evidence says whether its group is complete, broken (with the reason) or not placed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.ops.groupflow import _entry
from axion_broker_ibkr.ops.orderpath import OrderContext
from axion_broker_ibkr.orders.groups import OrderGroup, translate_group
from axion_broker_ibkr.store import Store
from tests.client.conftest import SIM_SCALE, no_wait_retry, sim_config
from tests.sim.conftest import client_for

ACCT = "DU1234567"
AAPL = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL", "exchange": "SMART", "currency": "USD"}
ALL = ["o163", "o354", "o10151", "o403"]


@pytest.fixture
def sim() -> Iterator[Any]:
    from axion_broker_ibkr.sim import SimServer

    with SimServer(port=0, seed=3, rate_scale=SIM_SCALE) as server:
        server.admin.set_price(265598, 200.0)
        yield server


def _group(client: IBKRClient, coid: str) -> OrderGroup:
    order = {"side": "buy", "qty": 4, "order_type": "limit", "limit_price": 195.0, "time_in_force": "gtc",
             "client_order_id": coid, "take_profit": {"limit_price": 210.0},
             "stop_loss": {"stop_price": 185.0}}  # fmt: skip
    return translate_group(order, AAPL, client.translate_options(ACCT))


def _crash_after_logging(store: Store, group: OrderGroup) -> None:
    """What place_group writes before its POST; the process then dies before the answer."""
    ctx = OrderContext(account_id=ACCT, mode="sim", auto_confirm=frozenset(), max_rounds=5)
    for leg in group.legs:
        store.journal.record_pending(_entry(group, leg, AAPL, ctx))


def _post_raw(sim: Any, payloads: list[dict[str, Any]]) -> None:
    """The POST that left before the crash (its answer is never read by the plugin)."""
    with client_for(sim) as http:
        http.get("/iserver/accounts")
        http.post("/iserver/questions/suppress", json={"messageIds": ALL})
        answer = http.post(f"/iserver/account/{ACCT}/orders", json={"orders": payloads}).json()
        assert len(answer) == len(payloads) and all("order_id" in a for a in answer), answer


@pytest.fixture
def client(sim: Any) -> Iterator[IBKRClient]:
    c = IBKRClient(sim_config(sim), pacer=Pacer(600, scale=SIM_SCALE), retry=no_wait_retry())
    try:
        yield c
    finally:
        c.close()


def test_a_group_whose_answer_was_lost_is_settled_complete(
    sim: Any, store: Store, client: IBKRClient
) -> None:
    group = _group(client, "RG-1")
    _crash_after_logging(store, group)
    _post_raw(sim, group.payloads())
    decisions = {d.client_order_id: d for d in store.reconcile(client)}
    assert set(decisions) == {"RG-1", "RG-1.tp", "RG-1.sl"}
    assert all(d.status == "open" and d.order_id for d in decisions.values())
    assert decisions["RG-1.tp"].evidence["matched_by"] == "parent_order_id"
    assert {d.evidence["group"]["state"] for d in decisions.values()} == {"complete"}
    assert len(sim.admin.state()["orders"]) == 3  # nothing re-sent
    row = store.journal.get("RG-1.sl")
    assert row is not None and row.order_id == decisions["RG-1.sl"].order_id


def test_a_group_with_only_its_parent_at_ibkr_is_broken_with_the_reason(
    sim: Any, store: Store, client: IBKRClient
) -> None:
    group = _group(client, "RG-2")
    _crash_after_logging(store, group)
    _post_raw(sim, group.payloads()[:1])  # only the parent reached IBKR (a partial acknowledgement)
    decisions = {d.client_order_id: d for d in store.reconcile(client)}
    assert decisions["RG-2"].status == "open"
    assert decisions["RG-2.tp"].status == decisions["RG-2.sl"].status == "unknown_at_broker"
    verdict = decisions["RG-2.tp"].evidence["group"]
    assert verdict["state"] == "broken" and "RG-2.tp" in verdict["reason"] and "re-sent" in verdict["reason"]
    assert decisions["RG-2"].evidence["group"] == verdict
    assert len(sim.admin.state()["orders"]) == 1  # the missing exits are not sent by reconciliation


def test_a_group_that_never_left_is_not_placed(sim: Any, store: Store, client: IBKRClient) -> None:
    group = _group(client, "RG-3")
    _crash_after_logging(store, group)
    decisions = store.reconcile(client)
    assert {d.status for d in decisions} == {"unknown_at_broker"}
    assert {d.evidence["group"]["state"] for d in decisions} == {"not_placed"}
    assert sim.admin.state()["orders"] == []
