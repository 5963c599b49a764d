"""Crash tests: a real child process is SIGKILLed between the log commit and the POST, and after
the POST before the reply is recorded. After a restart, reconciliation settles every row, and
the same order (same cOID) is refused before anything is sent: no order goes out twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.store import DuplicateOrderError, open_store, reconcile_with_client
from tests.conftest import ROOT

from .crash_child import CONTRACT, ORDER, RATE_SCALE, make_client
from .simguard import sim_module

READY_TIMEOUT = 60.0


@pytest.fixture
def sim() -> Iterator[Any]:
    """A simulator of this test's own, with pacing scaled up (the client's pacer matches)."""
    server = sim_module.SimServer(port=0, seed=13, rate_scale=RATE_SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _run_until(point: str, db_url: str, sim: Any, coid: str, tmp_path: Path) -> None:
    """Start the child, wait until it reports ``point``, SIGKILL it."""
    ready = tmp_path / f"ready-{point}"
    log_file = tmp_path / f"child-{point}.log"
    with log_file.open("wb") as err:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.store.crash_child",
                db_url,
                sim.root_url,
                str(sim.cert_path),
                point,
                coid,
                str(ready),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while not ready.exists():
                if child.poll() is not None:
                    pytest.fail(
                        f"child exited {child.returncode} before {point}: {log_file.read_text()[-2000:]}"
                    )
                if time.monotonic() > deadline:
                    pytest.fail(f"child never reached {point}: {log_file.read_text()[-2000:]}")
                time.sleep(0.05)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def _at_sim(client: IBKRClient, coid: str) -> list[Any]:
    return [o for o in client.live_orders() if o.client_order_id == coid]


def test_sigkill_at_both_points_then_restart(db_url: str, sim: Any, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    before_post, after_post = f"crash-a-{tag}", f"crash-b-{tag}"
    _run_until("after_commit", db_url, sim, before_post, tmp_path)
    _run_until("after_post", db_url, sim, after_post, tmp_path)

    # "Restart": a new process would open the same database and a new client.
    store = open_store(db_url)
    client = make_client(sim.root_url, str(sim.cert_path), store.journal)
    try:
        assert {e.client_order_id for e in store.journal.unsettled()} == {before_post, after_post}
        assert _at_sim(client, before_post) == []  # the POST never left
        (sent,) = _at_sim(client, after_post)  # it left exactly once

        decisions = {d.client_order_id: d for d in reconcile_with_client(store.journal, client)}
        assert set(decisions) == {before_post, after_post}
        assert store.journal.unsettled() == []

        lost = store.journal.get(before_post)
        assert lost is not None and lost.status == "unknown_at_broker"
        assert "never left" in (store.journal.evidence(before_post) or {})["reason"]

        found = store.journal.get(after_post)
        assert found is not None
        assert found.status == "open"
        assert found.order_id == str(sent.order_id)
        evidence = store.journal.evidence(after_post) or {}
        assert evidence["matched_by"] == "client_order_id"
        assert evidence["live_orders"][0]["order_id"] == sent.order_id

        # Retrying either order under its cOID is refused before anything is sent.
        for coid in (before_post, after_post):
            with pytest.raises(DuplicateOrderError):
                client.place_order({**ORDER, "client_order_id": coid}, CONTRACT)
        assert _at_sim(client, before_post) == []
        assert len(_at_sim(client, after_post)) == 1
    finally:
        client.close()
        store.close()


def test_filled_while_down_is_settled_from_the_executions(db_url: str, sim: Any, tmp_path: Path) -> None:
    """Killed after the POST; the order fills at the broker while the process is down."""
    coid = f"crash-f-{uuid.uuid4().hex[:8]}"
    _run_until("after_post", db_url, sim, coid, tmp_path)
    store = open_store(db_url)
    client = make_client(sim.root_url, str(sim.cert_path), store.journal)
    try:
        (sent,) = _at_sim(client, coid)
        execution = sim.admin.fill(sent.order_id, quantity=ORDER["quantity"], price=1.0)

        (decision,) = reconcile_with_client(store.journal, client)
        assert (decision.client_order_id, decision.status) == (coid, "filled")
        got = store.journal.get(coid)
        assert got is not None
        assert (got.status, got.filled_quantity, got.avg_fill_price) == ("filled", 3.0, 1.0)
        assert got.order_id == str(sent.order_id)
        evidence = store.journal.evidence(coid) or {}
        assert [t["execution_id"] for t in evidence["trades"]] == [execution["execution_id"]]
    finally:
        client.close()
        store.close()
