"""The real client with the SQL journal, against the simulator: the order path end to end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.store import DuplicateOrderError, Store

from .crash_child import CONTRACT, ORDER, RATE_SCALE, make_client
from .simguard import sim_module  # first: skips this module without the simulator


@pytest.fixture
def sim() -> Iterator[Any]:
    server = sim_module.SimServer(port=0, seed=17, rate_scale=RATE_SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _count_at_sim(client: Any, coid: str) -> int:
    return sum(1 for o in client.live_orders() if o.client_order_id == coid)


def test_place_order_logs_then_settles(store: Store, sim: Any) -> None:
    client = make_client(sim.root_url, str(sim.cert_path), store.journal)
    try:
        result = client.place_order({**ORDER, "client_order_id": "e2e-1"}, CONTRACT)
        got = store.journal.get("e2e-1")
        assert got is not None
        assert (got.status, got.order_id, got.mode) == ("open", result.order_id, "sim")
        assert got.payload["cOID"] == "e2e-1"
        assert [q["message_ids"] for q in got.transcript] == [["o163"]]  # the auto-confirmed question

        with pytest.raises(DuplicateOrderError):
            client.place_order({**ORDER, "client_order_id": "e2e-1"}, CONTRACT)
        assert _count_at_sim(client, "e2e-1") == 1

        sim.admin.fill(result.order_id, quantity=1, price=1.0)
        assert sum(store.journal.apply_trade(t) for t in client.trades(days=1)) == 1
        got = store.journal.get("e2e-1")
        assert got is not None
        assert (got.status, got.filled_quantity) == ("partially_filled", 1.0)
    finally:
        client.close()


def test_lost_reply_is_settled_by_the_client_with_the_sql_journal(store: Store, sim: Any) -> None:
    # The simulator stalls the answer; the client gives up after a short timeout.
    client = make_client(sim.root_url, str(sim.cert_path), store.journal, request_timeout=1.0)
    try:
        sim.admin.timeout_next_order()
        result = client.place_order({**ORDER, "client_order_id": "e2e-lost"}, CONTRACT)
        got = store.journal.get("e2e-lost")
        assert got is not None
        assert (got.status, got.order_id) == ("open", result.order_id)
        assert store.journal.unsettled() == []
        assert _count_at_sim(client, "e2e-lost") == 1
    finally:
        client.close()
