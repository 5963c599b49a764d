"""The resolver over the database cache: resolved once in one process, a later process resolves
the same symbols with no HTTP request at all (its transport fails on any request)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.resolver import ContractResolver
from axion_broker_ibkr.store import open_store
from axion_broker_ibkr.store.cache import contract_expiry
from axion_broker_ibkr.store.models import IbkrContractCache
from tests.conftest import ROOT

from .crash_child import RATE_SCALE
from .simguard import sim_module

WANTED = [("AAPL", "stock"), ("ES", "futures")]

COLD = """
import json, sys
from axion_broker_ibkr.resolver import ContractResolver
from axion_broker_ibkr.store import open_store
from tests.store.crash_child import make_client
db_url, sim_url, cert = sys.argv[1:4]
store = open_store(db_url)
resolver = ContractResolver(make_client(sim_url, cert, None), cache=store.cache)
wanted = json.loads(sys.argv[4])
print(json.dumps([resolver.resolve(symbol, asset).to_host() for symbol, asset in wanted]))
"""


@pytest.fixture
def sim() -> Iterator[Any]:
    server = sim_module.SimServer(port=0, seed=19, rate_scale=RATE_SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_warm_resolve_after_a_restart_makes_no_request(db_url: str, sim: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-c", COLD, db_url, sim.root_url, str(sim.cert_path), json.dumps(WANTED)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    cold = json.loads(done.stdout.strip().splitlines()[-1])

    requests: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        requests.append(f"{request.method} {request.url.path}")
        raise AssertionError(f"a warm resolve sent {request.method} {request.url.path}")

    store = open_store(db_url)
    config = IBKRConfig(mode="sim", sim_url="https://127.0.0.1:9", account_id="DU1234567")
    client = IBKRClient(config, transport=httpx.MockTransport(refuse))
    try:
        resolver = ContractResolver(client, cache=store.cache)
        warm = [resolver.resolve(symbol, asset).to_host() for symbol, asset in WANTED]
        assert requests == []
        assert warm == cold
        assert warm[1]["sec_type"] == "FUT"
        assert warm[1]["expiry"]

        with Session(store.engine) as session:
            fut = session.scalars(select(IbkrContractCache).where(IbkrContractCache.sec_type == "FUT")).one()
            stock = session.scalars(
                select(IbkrContractCache).where(IbkrContractCache.sec_type == "STK")
            ).one()
        own = contract_expiry(IBKRContract(conid=fut.conid, sec_type="FUT", symbol="ES", expiry=fut.expiry))
        assert own is not None
        assert fut.expires_at is not None
        assert fut.expires_at <= own  # never later than the contract's expiry (the roll may be earlier)
        assert stock.expires_at is None
    finally:
        client.close()
        store.close()
