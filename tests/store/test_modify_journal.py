"""Modifying a live order through the real client, the SQL journal (SQLite and PostgreSQL) and the
simulator: the modification is logged before the POST and settled after it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.errors import GatewayUnavailableError, OrderRejectedError, QuestionRefusedError
from axion_broker_ibkr.store import ModificationMismatchError, Store

from .crash_child import ACCOUNT, CONTRACT, ORDER, RATE_SCALE, make_client
from .simguard import sim_module  # first: skips this module without the simulator


@pytest.fixture
def sim() -> Iterator[Any]:
    server = sim_module.SimServer(port=0, seed=23, rate_scale=RATE_SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(store: Store, sim: Any) -> Iterator[IBKRClient]:
    c = make_client(sim.root_url, str(sim.cert_path), store.journal)
    try:
        yield c
    finally:
        c.close()


def _at_sim(client: IBKRClient, coid: str) -> Any:
    (order,) = [o for o in client.live_orders(force=True) if o.client_order_id == coid]
    return order


def test_accepted_modification_gives_the_row_the_new_terms(store: Store, client: IBKRClient) -> None:
    placed = client.place_order({**ORDER, "client_order_id": "mod-1"}, CONTRACT)
    assert placed.order_id is not None
    changed = {**ORDER, "client_order_id": "mod-1", "quantity": 5, "limit_price": 1.10}
    result = client.modify_order(placed.order_id, changed, CONTRACT)
    assert (result.order_id, result.client_order_id, result.status) == (placed.order_id, "mod-1", "open")

    row = store.journal.get("mod-1")
    assert row is not None
    assert (row.quantity, row.price, row.order_id, row.status) == (5.0, 1.10, placed.order_id, "open")
    assert row.payload["cOID"] == "mod-1" and row.payload["price"] == 1.10 and row.payload["quantity"] == 5
    (mod,) = store.journal.modifications("mod-1")
    assert (mod.status, mod.order_id, mod.quantity, mod.price) == ("accepted", placed.order_id, 5.0, 1.10)
    assert mod.previous is not None and (mod.previous["quantity"], mod.previous["price"]) == (3.0, 1.0)
    assert "cOID" not in mod.payload and mod.payload["price"] == 1.10
    assert [q["message_ids"] for q in mod.transcript] == [["o163"]]  # the far limit is asked about again
    assert mod.settled_at is not None and mod.ibkr_status

    at_sim = _at_sim(client, "mod-1")
    assert (at_sim.total_size, at_sim.price) == (5.0, 1.10)  # the terms really changed at the broker


def test_modification_without_the_coid_is_matched_by_order_id(store: Store, client: IBKRClient) -> None:
    placed = client.place_order({**ORDER, "client_order_id": "mod-2"}, CONTRACT)
    assert placed.order_id is not None
    result = client.modify_order(placed.order_id, {**ORDER, "limit_price": 1.05}, CONTRACT)
    assert result.client_order_id == "mod-2"  # the log's cOID, not a fresh one
    row = store.journal.get("mod-2")
    assert row is not None and row.price == 1.05 and row.payload["cOID"] == "mod-2"
    assert [m.status for m in store.journal.modifications(order_id=placed.order_id)] == ["accepted"]


def test_rejected_modification_keeps_the_previous_terms(store: Store, sim: Any, client: IBKRClient) -> None:
    placed = client.place_order({**ORDER, "client_order_id": "mod-3"}, CONTRACT)
    assert placed.order_id is not None
    sim.admin.fill(placed.order_id, quantity=2, price=1.0)
    with pytest.raises(OrderRejectedError, match="below the filled"):
        client.modify_order(placed.order_id, {**ORDER, "client_order_id": "mod-3", "quantity": 1}, CONTRACT)
    row = store.journal.get("mod-3")
    assert row is not None and (row.quantity, row.price) == (3.0, 1.0)
    assert row.payload["quantity"] == 3
    (mod,) = store.journal.modifications("mod-3")
    assert mod.status == "rejected" and mod.quantity == 1.0
    assert mod.message is not None and "below the filled" in mod.message
    assert _at_sim(client, "mod-3").total_size == 3.0


def test_refused_question_keeps_the_terms_and_records_the_question(store: Store, sim: Any) -> None:
    config = IBKRConfig(
        mode="sim", sim_url=sim.root_url, ssl_verify=str(sim.cert_path), account_id=ACCOUNT, auto_confirm=()
    )
    with IBKRClient(config, journal=store.journal, pacer=Pacer(600, scale=RATE_SCALE)) as client:
        placed = client.place_order({**ORDER, "client_order_id": "mod-4"}, CONTRACT, confirm=["o163"])
        assert placed.order_id is not None
        with pytest.raises(QuestionRefusedError) as info:  # o163 asked again, not confirmed this time
            client.modify_order(placed.order_id, {**ORDER, "limit_price": 1.20}, CONTRACT)
        assert info.value.message_ids == ["o163"]
        row = store.journal.get("mod-4")
        assert row is not None and row.price == 1.0
        (mod,) = store.journal.modifications("mod-4")
        assert mod.status == "refused" and mod.price == 1.20 and "o163" in (mod.message or "")
        assert [(q["message_ids"], q["answer"]) for q in mod.transcript] == [(["o163"], False)]
        assert _at_sim(client, "mod-4").price == 1.0


def test_lost_answer_is_recorded_as_unknown_and_not_resent(
    store: Store, sim: Any, client: IBKRClient
) -> None:
    placed = client.place_order({**ORDER, "client_order_id": "mod-5"}, CONTRACT)
    assert placed.order_id is not None
    sim.admin.fail(503, count=1, path_prefix=f"/iserver/account/{ACCOUNT}/order/")
    with pytest.raises(GatewayUnavailableError):
        client.modify_order(placed.order_id, {**ORDER, "limit_price": 1.15}, CONTRACT)
    row = store.journal.get("mod-5")
    assert row is not None and row.price == 1.0
    (mod,) = store.journal.modifications("mod-5")
    assert mod.status == "unknown_at_broker" and "NOT re-sent" in (mod.message or "")
    assert _at_sim(client, "mod-5").price == 1.0


def test_a_modification_for_another_order_is_refused_before_sending(store: Store, client: IBKRClient) -> None:
    first = client.place_order({**ORDER, "client_order_id": "mod-6"}, CONTRACT)
    second = client.place_order({**ORDER, "client_order_id": "mod-7"}, CONTRACT)
    assert first.order_id is not None and second.order_id is not None
    wrong = {**ORDER, "client_order_id": "mod-6", "limit_price": 1.3}
    with pytest.raises(ModificationMismatchError, match="order id"):
        client.modify_order(second.order_id, wrong, CONTRACT)  # mod-6's cOID, mod-7's order id
    with pytest.raises(ModificationMismatchError, match="side"):
        client.modify_order(first.order_id, {**ORDER, "side": "sell", "limit_price": 1.3}, CONTRACT)
    assert store.journal.modifications("mod-6") == [] and store.journal.modifications("mod-7") == []
    assert _at_sim(client, "mod-6").price == 1.0 and _at_sim(client, "mod-7").price == 1.0
