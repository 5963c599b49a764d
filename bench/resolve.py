"""Benchmark: bulk resolution of US stocks to conids, cold (empty cache) and warm.

Run: ``python bench/resolve.py [--symbols 500]``

* ``synthetic``: ``--symbols`` tickers answered by an in-process ``/trsrv/stocks`` (httpx
  MockTransport) that knows every symbol, one US listing each (the simulator's universe is small);
* ``simulator``: every US stock the embedded simulator lists, over HTTPS.

Printed: requests sent and wall time, cold and warm, for the sync and async resolvers.
Targets (issue #4 item 9): at most 10 requests cold for 500 stocks, none warm.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import string
import time
from typing import Any

import httpx

from axion_broker_ibkr.client import AsyncIBKRClient, IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.resolver import AsyncContractResolver, ContractResolver
from axion_broker_ibkr.sim import SimServer

SCALE = 1_000_000.0


def tickers(n: int) -> list[str]:
    letters = string.ascii_uppercase
    combos = ("".join(p) for size in (3, 4) for p in itertools.product(letters, repeat=size))
    return list(itertools.islice(combos, n))


class Counter:
    """``/trsrv/stocks`` for any symbol: one US listing each; counts the requests."""

    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/api/trsrv/stocks":
            raise AssertionError(f"unexpected request {request.url}")
        self.requests += 1
        symbols = request.url.params["symbols"].split(",")
        body = {
            s: [
                {
                    "name": f"{s} CORP",
                    "assetClass": "STK",
                    "contracts": [{"conid": 10_000 + i, "exchange": "NYSE", "isUS": True}],
                }
            ]
            for i, s in enumerate(symbols)
        }
        return httpx.Response(
            200, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )


def _row(label: str, phase: str, requests: int, seconds: float, n: int) -> None:
    print(f"  {label:<28} {phase:<5} {n:>5} stocks {requests:>4} requests {seconds * 1000:>9.1f} ms")


def synthetic(n: int) -> None:
    symbols = tickers(n)
    counter = Counter()
    cfg = IBKRConfig(mode="gateway", max_requests_per_minute=600)
    client = IBKRClient(cfg, transport=httpx.MockTransport(counter))
    resolver = ContractResolver(client)
    for phase in ("cold", "warm"):
        before, start = counter.requests, time.perf_counter()
        out = resolver.resolve_stocks(symbols)
        assert len(out) == n
        _row("synthetic, sync", phase, counter.requests - before, time.perf_counter() - start, n)

    async def run_async() -> None:
        acounter = Counter()
        aclient = AsyncIBKRClient(cfg, transport=httpx.MockTransport(acounter))
        aresolver = AsyncContractResolver(aclient)
        for phase in ("cold", "warm"):
            before, start = acounter.requests, time.perf_counter()
            out = await aresolver.resolve_stocks(symbols)
            assert len(out) == n
            _row("synthetic, async", phase, acounter.requests - before, time.perf_counter() - start, n)
        await aclient.aclose()

    asyncio.run(run_async())
    client.close()


def simulator() -> None:
    with SimServer(port=0, seed=1, rate_scale=SCALE) as sim:
        cfg = IBKRConfig(
            mode="sim", sim_url=sim.root_url, ssl_verify=sim.cert_fingerprint, max_requests_per_minute=600
        )
        symbols = _sim_us_stocks()
        client = IBKRClient(cfg, pacer=Pacer(600, scale=SCALE))
        resolver = ContractResolver(client)

        def sent() -> int:
            counts: dict[str, Any] = sim.admin.state()["request_counts"]
            return sum(v for k, v in counts.items() if k.startswith("/trsrv") or k.startswith("/iserver"))

        for phase in ("cold", "warm"):
            before, start = sent(), time.perf_counter()
            out = resolver.resolve_stocks(symbols)
            elapsed = time.perf_counter() - start
            assert len(out) == len(symbols)
            _row("simulator (HTTPS), sync", phase, sent() - before, elapsed, len(symbols))
        client.close()


def _sim_us_stocks() -> list[str]:
    from importlib import resources

    raw = json.loads(resources.files("axion_broker_ibkr.sim").joinpath("data/instruments.json").read_text())
    return sorted({s["symbol"] for s in raw["stocks"] if s.get("country") == "US"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=500)
    args = parser.parse_args()
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    print("bulk stock resolution (target: <= 10 requests cold for 500 stocks, 0 warm)")
    synthetic(args.symbols)
    simulator()


if __name__ == "__main__":
    main()
