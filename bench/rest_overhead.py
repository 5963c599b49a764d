"""Benchmark: the client's cost per REST call against raw httpx, same simulator, same socket kind.

Run: ``python bench/rest_overhead.py [--calls 20] [--rounds 3]`` (the simulator answers in about 1 ms)

For each endpoint, ``--rounds`` interleaved rounds of ``--calls`` calls are timed for:

* ``raw``: ``httpx.Client`` / ``httpx.AsyncClient`` with keep-alive and the same SSLContext,
  ``response.json()`` only (the baseline);
* ``client``: :class:`IBKRClient` / :class:`AsyncIBKRClient` (pacer booking, the I/O-free core,
  status mapping, parsing into the models).

The simulator's pacing is scaled out of the way (``rate_scale``) and so is the client's pacer, so
both measure transport + library work only. Printed: median µs per call and the ratio
client/raw (target: at most 1.15x, issue #4 item 9).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from axion_broker_ibkr.client import AsyncIBKRClient, IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.sim import SimServer

SCALE = 1_000_000.0
#: (label, method, path, params, client call)
ENDPOINTS: list[tuple[str, str, str, dict[str, str] | None, Callable[[Any], Any]]] = [
    ("GET /iserver/accounts", "GET", "/iserver/accounts", None, lambda c: c.accounts()),
    ("GET /trsrv/stocks", "GET", "/trsrv/stocks", {"symbols": "AAPL"}, lambda c: c.stocks(["AAPL"])),
    (
        "GET /iserver/contract/info",
        "GET",
        "/iserver/contract/265598/info",
        None,
        lambda c: c.contract_info(265598),
    ),
    ("POST /iserver/auth/status", "POST", "/iserver/auth/status", None, lambda c: c.auth_status()),
]


def _config(sim: SimServer) -> IBKRConfig:
    return IBKRConfig(
        mode="sim", sim_url=sim.root_url, ssl_verify=sim.cert_fingerprint, max_requests_per_minute=600
    )


def _time_sync(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


async def _time_async(fn: Callable[[], Awaitable[Any]], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - start) / calls


def _raw_call(http: httpx.Client, method: str, path: str, params: dict[str, str] | None) -> Callable[[], Any]:
    body = {} if method == "POST" else None
    return lambda: http.request(method, path, params=params, json=body).json()


def _araw_call(
    http: httpx.AsyncClient, method: str, path: str, params: dict[str, str] | None
) -> Callable[[], Awaitable[Any]]:
    body = {} if method == "POST" else None

    async def go() -> Any:
        return (await http.request(method, path, params=params, json=body)).json()

    return go


def bench_sync(sim: SimServer, calls: int, rounds: int) -> list[tuple[str, float, float]]:
    client = IBKRClient(_config(sim), pacer=Pacer(600, scale=SCALE))
    client.accounts()  # resolves the endpoint, opens the keep-alive connection
    raw = httpx.Client(
        base_url=client.base_url, verify=client.ssl_context, headers={"Accept": "application/json"}
    )
    out = []
    for label, method, path, params, call in ENDPOINTS:
        raw_fn, client_fn = _raw_call(raw, method, path, params), (lambda call=call: call(client))
        raw_fn(), client_fn()  # warm-up
        raw_t, client_t = [], []
        for _ in range(rounds):
            raw_t.append(_time_sync(raw_fn, calls))
            client_t.append(_time_sync(client_fn, calls))
        out.append((label, statistics.median(raw_t), statistics.median(client_t)))
    raw.close()
    client.close()
    return out


async def bench_async(sim: SimServer, calls: int, rounds: int) -> list[tuple[str, float, float]]:
    client = AsyncIBKRClient(_config(sim), pacer=Pacer(600, scale=SCALE))
    await client.accounts()
    raw = httpx.AsyncClient(
        base_url=client.base_url, verify=client.ssl_context, headers={"Accept": "application/json"}
    )
    out = []
    for label, method, path, params, call in ENDPOINTS:
        raw_fn = _araw_call(raw, method, path, params)

        async def client_fn(call: Callable[[Any], Any] = call) -> Any:
            return await call(client)

        await raw_fn()
        await client_fn()
        raw_t, client_t = [], []
        for _ in range(rounds):
            raw_t.append(await _time_async(raw_fn, calls))
            client_t.append(await _time_async(client_fn, calls))
        out.append((label, statistics.median(raw_t), statistics.median(client_t)))
    await raw.aclose()
    await client.aclose()
    return out


def bench_in_process(calls: int, rounds: int) -> list[tuple[str, float, float]]:
    """The same calls over ``httpx.MockTransport`` (recorded payloads, no socket): the library's own
    cost, which the simulator's per-request latency would otherwise hide."""
    from pathlib import Path

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "cpapi"
    bodies = {
        "/v1/api/iserver/accounts": "iserver_accounts",
        "/v1/api/trsrv/stocks": "trsrv_stocks",
        "/v1/api/iserver/contract/265598/info": "contract_info",
        "/v1/api/iserver/auth/status": "iserver_auth_status",
    }
    payloads = {path: (fixtures / f"{name}.json").read_bytes() for path, name in bodies.items()}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=payloads[request.url.path], headers={"content-type": "application/json"}
        )

    transport = httpx.MockTransport(handler)
    cfg = IBKRConfig(mode="gateway", max_requests_per_minute=600)
    client = IBKRClient(cfg, transport=transport, pacer=Pacer(600, scale=SCALE))
    raw = httpx.Client(base_url=cfg.gateway_url, transport=transport)
    out = []
    for label, method, path, params, call in ENDPOINTS:
        raw_fn, client_fn = _raw_call(raw, method, path, params), (lambda call=call: call(client))
        raw_fn(), client_fn()
        raw_t, client_t = [], []
        for _ in range(rounds):
            raw_t.append(_time_sync(raw_fn, calls))
            client_t.append(_time_sync(client_fn, calls))
        out.append((label, statistics.median(raw_t), statistics.median(client_t)))
    raw.close()
    client.close()
    return out


def _print(title: str, rows: list[tuple[str, float, float]]) -> float:
    print(f"\n{title}")
    print(f"  {'endpoint':<30} {'raw µs':>9} {'client µs':>10} {'added µs':>9} {'ratio':>7}")
    ratios = []
    for label, raw_t, client_t in rows:
        ratio = client_t / raw_t
        ratios.append(ratio)
        added = (client_t - raw_t) * 1e6
        print(f"  {label:<30} {raw_t * 1e6:>9.0f} {client_t * 1e6:>10.0f} {added:>9.0f} {ratio:>6.2f}x")
    worst = max(ratios)
    print(f"  worst ratio {worst:.2f}x")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    print(f"python {platform.python_version()} on {platform.machine()}, httpx {httpx.__version__}; "
          f"{args.rounds} rounds x {args.calls} calls, medians")  # fmt: skip
    with SimServer(port=0, seed=1, rate_scale=SCALE) as sim:
        sync_rows = bench_sync(sim, args.calls, args.rounds)
        async_rows = asyncio.run(bench_async(sim, args.calls, args.rounds))
    _print("simulator over HTTPS, sync: IBKRClient vs httpx.Client (target <= 1.15x)", sync_rows)
    _print("simulator over HTTPS, async: AsyncIBKRClient vs httpx.AsyncClient (target <= 1.15x)", async_rows)
    rows = bench_in_process(args.calls * 50, args.rounds)
    _print("in process (MockTransport, no socket, sync): the library's own cost", rows)


if __name__ == "__main__":
    main()
