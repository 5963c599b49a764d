"""Benchmark: the simulator's time per request against a trivial app served the same way, same run.

Run: ``python bench/sim_latency.py [--calls 200] [--rounds 3]``

Three servers, all uvicorn over HTTPS with a self-signed certificate from the simulator's own
``generate_certificate``, each on its own thread, talked to by httpx keep-alive clients:

* ``sim``: :class:`SimServer` (pacing scaled out of the way, so this is transport + pipeline +
  handler);
* ``baseline``: a one-route Starlette app answering ``{"ok": true}``, bound by uvicorn itself;
* ``nagle``: the same trivial app on a listener made with ``socket.socket(family, SOCK_STREAM)``
  (protocol 0), which is how the simulator used to bind: asyncio then leaves Nagle on for every
  connection and each answer (head and body are separate TLS records) waits for the client's
  delayed ACK. Kept to show the cause, ``--calls-nagle`` calls only (each takes ~40 ms).

Printed: median µs per request for the sync (``httpx.Client``) and async (``httpx.AsyncClient``)
clients, the ratio sim/baseline, and how long ``SimServer.stop()`` takes with an idle keep-alive
connection and an order answer held back by the ``timeout_next_order`` fault.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import socket
import ssl
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from axion_broker_ibkr.sim import SimServer
from axion_broker_ibkr.sim.api.certificate import generate_certificate

ACCT = "DU1234567"
AAPL = 265598
SCALE = 1_000_000.0


@dataclass(frozen=True)
class Target:
    label: str
    base_url: str
    verify: ssl.SSLContext
    #: (label, method, path)
    calls: tuple[tuple[str, str, str], ...]


async def _ok(request: Request) -> Response:
    if request.method == "POST":
        await request.body()
    return JSONResponse({"ok": True})


TRIVIAL_APP = Starlette(routes=[Route("/", _ok, methods=["GET", "POST"])])


@contextmanager
def trivial_server(protocol_zero_listener: bool) -> Iterator[tuple[str, ssl.SSLContext]]:
    """The trivial app on uvicorn + TLS; yields ``(root url, context trusting its certificate)``."""
    with tempfile.TemporaryDirectory(prefix="sim-latency-") as tmp:
        cert, key, _ = generate_certificate(Path(tmp))
        config = uvicorn.Config(
            TRIVIAL_APP,
            host="127.0.0.1",
            port=0,
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        sockets: list[socket.socket] | None = None
        if protocol_zero_listener:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets = [sock]
        thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the baseline server did not start")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"https://127.0.0.1:{port}", ssl.create_default_context(cafile=str(cert))
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def _body(method: str) -> dict[str, Any] | None:
    return {} if method == "POST" else None


def time_sync(target: Target, calls: int, rounds: int) -> dict[str, float]:
    """Median seconds per request over ``rounds`` rounds of ``calls`` requests, per call label."""
    out: dict[str, list[float]] = {label: [] for label, _, _ in target.calls}
    with httpx.Client(base_url=target.base_url, verify=target.verify) as client:
        for _, method, path in target.calls:  # warm-up: handshake, keep-alive, first-call work
            client.request(method, path, json=_body(method)).raise_for_status()
        for _ in range(rounds):
            for label, method, path in target.calls:
                start = time.perf_counter()
                for _ in range(calls):
                    client.request(method, path, json=_body(method)).raise_for_status()
                out[label].append((time.perf_counter() - start) / calls)
    return {label: statistics.median(values) for label, values in out.items()}


async def time_async(target: Target, calls: int, rounds: int) -> dict[str, float]:
    out: dict[str, list[float]] = {label: [] for label, _, _ in target.calls}
    async with httpx.AsyncClient(base_url=target.base_url, verify=target.verify) as client:
        for _, method, path in target.calls:
            (await client.request(method, path, json=_body(method))).raise_for_status()
        for _ in range(rounds):
            for label, method, path in target.calls:
                start = time.perf_counter()
                for _ in range(calls):
                    (await client.request(method, path, json=_body(method))).raise_for_status()
                out[label].append((time.perf_counter() - start) / calls)
    return {label: statistics.median(values) for label, values in out.items()}


def sim_target(sim: SimServer) -> Target:
    verify = ssl.create_default_context(cafile=str(sim.cert_path))
    with httpx.Client(base_url=sim.base_url, verify=verify) as client:  # the session prerequisites
        client.get("/iserver/accounts").raise_for_status()
        client.get("/portfolio/accounts").raise_for_status()
    calls = (
        ("sim GET /iserver/accounts", "GET", "/iserver/accounts"),
        ("sim POST /tickle", "POST", "/tickle"),
        ("sim GET positions/0", "GET", f"/portfolio/{ACCT}/positions/0"),
    )
    return Target("sim", sim.base_url, verify, calls)


def trivial_target(label: str, url: str, verify: ssl.SSLContext) -> Target:
    return Target(label, url, verify, ((f"{label} GET /", "GET", "/"), (f"{label} POST /", "POST", "/")))


def stop_after_stall() -> float:
    """Seconds ``SimServer.stop()`` takes with an idle pooled connection and a stalled order."""
    sim = SimServer(port=0, seed=1, rate_scale=SCALE).start()
    verify = ssl.create_default_context(cafile=str(sim.cert_path))
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 1.0, "quantity": 1, "cOID": "b-1"}
    with httpx.Client(base_url=sim.base_url, verify=verify, timeout=0.3) as client:
        client.get("/iserver/accounts")
        client.post("/iserver/questions/suppress", json={"messageIds": ["o163", "o354", "o10151"]})
        sim.admin.timeout_next_order()
        with suppress(httpx.ReadTimeout):  # the order is booked, its answer held back
            client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})
        with httpx.Client(base_url=sim.base_url, verify=verify) as idle:
            idle.get("/iserver/accounts")
            start = time.perf_counter()
            sim.stop()
            return time.perf_counter() - start


def _print_table(title: str, rows: dict[str, float], baseline: dict[str, float]) -> None:
    print(f"\n{title}")
    print(f"  {'request':<32} {'µs/request':>11} {'x baseline':>11}")
    for label, seconds in rows.items():
        kind = "POST" if " POST " in label else "GET"
        print(f"  {label:<32} {seconds * 1e6:>11.0f} {seconds / baseline[kind]:>10.2f}x")


def _by_method(rows: dict[str, float]) -> dict[str, float]:
    return {("POST" if " POST " in label else "GET"): s for label, s in rows.items()}


def run(calls: int, calls_nagle: int, rounds: int) -> None:
    with (
        SimServer(port=0, seed=1, rate_scale=SCALE) as sim,
        trivial_server(protocol_zero_listener=False) as (base_url, base_verify),
        trivial_server(protocol_zero_listener=True) as (nagle_url, nagle_verify),
    ):
        targets: list[tuple[Target, int]] = [
            (trivial_target("baseline", base_url, base_verify), calls),
            (sim_target(sim), calls),
            (trivial_target("nagle", nagle_url, nagle_verify), calls_nagle),
        ]
        timers: list[tuple[str, Callable[[Target, int], dict[str, float]]]] = [
            ("sync httpx.Client", lambda t, n: time_sync(t, n, rounds)),
            ("async httpx.AsyncClient", lambda t, n: asyncio.run(time_async(t, n, rounds))),
        ]
        for title, timer in timers:
            rows: dict[str, float] = {}
            for target, n in targets:
                rows.update(timer(target, n))
            baseline = _by_method({k: v for k, v in rows.items() if k.startswith("baseline")})
            _print_table(f"{title}: median per request, keep-alive, HTTPS", rows, baseline)
    stop_s = stop_after_stall()
    print(f"\nSimServer.stop() with a stalled order + an idle keep-alive connection: {stop_s:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="requests per round (sim, baseline)")
    parser.add_argument("--calls-nagle", type=int, default=10, help="requests per round (nagle)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    print(
        f"python {platform.python_version()} on {platform.machine()}, httpx {httpx.__version__}, "
        f"uvicorn {uvicorn.__version__}; {args.rounds} rounds x {args.calls} calls "
        f"({args.calls_nagle} for nagle), medians"
    )
    run(args.calls, args.calls_nagle, args.rounds)


if __name__ == "__main__":
    main()
