"""Benchmark: one pacing budget shared by several processes behind one gateway.

Run: ``python bench/pacing.py [--procs 8] [--calls 200] [--scale 5]``

One simulator with its pacing and its penalty box on (``rate_scale`` = ``--scale``: every limit of
REFERENCE §7 multiplied, so the run takes seconds rather than minutes). ``--procs`` processes
(``multiprocessing``, spawned) each make ``--calls`` mixed calls (contract info, stock lookups,
accounts, snapshots, a few ``/tickle`` and live-orders calls) through :class:`IBKRClient`, with the
client's pacer scaled the same way, twice:

* ``shared``: the default ``file`` store, one budget for all processes (what 0.2 does);
* ``memory``: one budget per process (the 0.1 behaviour; the baseline, which should meet 429s).

Printed per run: the 429 answers the simulator gave (goal for ``shared``: 0), the request rate the
simulator saw against the allowed rate (the global 10/s x scale, lowered where the mix's
per-endpoint limits bound it; goal >= 90 %), and the pacer's per-booking cost of each store.
A 429 stops that process's traffic for the back-off; the call is retried after it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
from typing import Any

#: (path counted by the simulator, requests per window, window s, burst) of the mix's limited calls.
LIMITED = {
    "/tickle": (1, 1.0, 2),
    "/iserver/account/orders": (1, 5.0, 2),
    "/iserver/marketdata/snapshot": (10, 1.0, 10),
}
GLOBAL = (10, 1.0, 10)


def _call(client: Any, i: int, worker: int) -> None:
    """The i-th call of a worker's mix: mostly unlimited endpoints, some paced ones (staggered
    between workers, as separate programs would be)."""
    kind = (i + 7 * worker) % 50
    if kind == 7:
        client.tickle()
    elif i == 29 + 19 * worker:  # once per process (a session's first call primes: 2 requests)
        client.live_orders()
    elif kind % 5 == 0:
        client.snapshot([265598], ["31", "84", "86"])
    elif kind % 3 == 0:
        client.stocks(["AAPL"])
    elif kind % 3 == 1:
        client.contract_info(265598)
    else:
        client.accounts()


def _worker(
    worker: int, url: str, pin: str, store: str, pacing_dir: str, scale: float, calls: int, go: Any, out: Any
) -> None:
    from axion_broker_ibkr.client import IBKRClient
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.drivers.pacing import Pacer
    from axion_broker_ibkr.drivers.pacing_stores import open_pacing_store
    from axion_broker_ibkr.errors import RateLimitedError

    config = IBKRConfig(
        mode="sim", sim_url=url, ssl_verify=pin, max_requests_per_minute=600, pacing_store=store,
        pacing_dir=pacing_dir, rate_limit_backoff=5.0,
    )  # fmt: skip
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    pacer = Pacer(600, scale=scale, rate_limit_backoff=5.0, store=open_pacing_store(config, host, int(port)))
    limited = 0
    waited = [0.0]
    reserve = pacer.reserve

    def timed_reserve(method: str, path: str) -> float:
        delay = reserve(method, path)
        waited[0] += delay
        return delay

    pacer.reserve = timed_reserve  # type: ignore[method-assign]
    deadline = time.monotonic() + 60.0
    with IBKRClient(config, pacer=pacer) as client:
        client.accounts()  # the session's precondition, before the clock starts
        go.wait()
        start = time.monotonic()
        for i in range(calls):
            while time.monotonic() < deadline:
                try:
                    _call(client, i, worker)
                    break
                except RateLimitedError:
                    limited += 1
                    time.sleep(max(0.05, pacer.blocked_for))
        out.put((start, time.monotonic(), limited, waited[0]))


def _allowed_seconds(counts: dict[str, int], scale: float) -> float:
    """The shortest time the simulator's limits allow for these requests."""
    n, window, burst = GLOBAL
    total = sum(counts.values())
    best = max(0.0, (total - burst * scale) / (n * scale / window))
    for path, (n, window, burst) in LIMITED.items():
        k = counts.get(path, 0)
        best = max(best, (k - burst * scale) / (n * scale / window))
    return best


def run(store: str, procs: int, calls: int, scale: float) -> dict[str, float]:
    from axion_broker_ibkr.sim import SimServer

    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="axion-ibkr-pacing-") as tmp:
        sim = SimServer(port=0, rate_scale=scale, penalty_seconds=2.0).start()
        try:
            go, out = ctx.Event(), ctx.Queue()
            args = (sim.root_url, sim.cert_fingerprint, store, tmp, scale, calls, go, out)
            workers = [ctx.Process(target=_worker, args=(k, *args)) for k in range(procs)]
            for w in workers:
                w.start()
            time.sleep(0.5)
            while sum(sim.state.pacer.counts.values()) < procs:  # every worker's first call is in
                time.sleep(0.1)
            time.sleep(0.5)
            before = dict(sim.state.pacer.counts)
            too_many_before = sum(sim.state.pacer.too_many.values())
            go.set()
            results = [out.get(timeout=300) for _ in workers]
            for w in workers:
                w.join(timeout=30)
            counts = {p: c - before.get(p, 0) for p, c in sim.state.pacer.counts.items()}
            too_many = sum(sim.state.pacer.too_many.values()) - too_many_before
            boxed = sim.state.pacer.boxed_times
        finally:
            sim.stop()
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    requests = sum(counts.values())
    elapsed = end - start
    allowed = requests / max(_allowed_seconds(counts, scale), 1e-9)
    return {
        "requests": requests,
        "seconds": elapsed,
        "rate": requests / elapsed,
        "allowed": min(allowed, GLOBAL[0] * scale),
        "too_many": too_many,
        "boxed": boxed,
        "rate_limited_errors": sum(r[2] for r in results),
        "waiting": statistics.mean(r[3] / (r[1] - r[0]) for r in results),
        "spread": max(r[1] for r in results) - min(r[1] for r in results),
    }


def booking_cost(store: str, n: int = 20000) -> float:
    """Median µs per :meth:`Pacer.reserve` with ``store`` (no contention; nothing is sent)."""
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.drivers.pacing import Pacer
    from axion_broker_ibkr.drivers.pacing_stores import open_pacing_store

    with tempfile.TemporaryDirectory(prefix="axion-ibkr-pacing-") as tmp:
        config = IBKRConfig(pacing_store=store, pacing_dir=tmp)
        pacer = Pacer(600, scale=1e9, store=open_pacing_store(config, "127.0.0.1", 5000))
        rounds = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n // 5):
                pacer.reserve("GET", "/iserver/accounts")
            rounds.append((time.perf_counter() - t) / (n // 5) * 1e6)
        pacer.close()
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--scale", type=float, default=5.0)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    os.environ.pop("AXION_IBKR_PACING_STORE", None)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(
        f"{args.procs} processes x {args.calls} mixed calls, "
        f"simulator and pacers at rate_scale {args.scale:g}"
    )
    print(f"per-booking cost: memory {booking_cost('memory'):.1f} µs, file {booking_cost('file'):.1f} µs")
    runs = [("shared (file store)", "file")]
    if not args.skip_baseline:
        runs.append(("baseline (memory per process)", "memory"))
    for label, store in runs:
        r = run(store, args.procs, args.calls, args.scale)
        print(
            f"{label:<30} 429 answers: {int(r['too_many']):>4}  penalty box engaged: {int(r['boxed'])}  "
            f"requests: {int(r['requests'])} in {r['seconds']:.1f} s  "
            f"rate {r['rate']:.1f}/s of allowed {r['allowed']:.1f}/s "
            f"({100 * r['rate'] / r['allowed']:.0f} %)  "
            f"calls refused by the back-off: {int(r['rate_limited_errors'])}  "
            f"time spent waiting for the pacer: {100 * r['waiting']:.0f} %"
        )


if __name__ == "__main__":
    main()
