"""Side by side with a peer: this client and ``ibind`` (a bench-only dependency) on the same calls.

Run: ``python bench/peers.py [--calls 30] [--rounds 5] [--frame-rounds 5]``

* REST: the same calls through :class:`IBKRClient` and through ``ibind.IbkrClient`` (both
  synchronous, both keeping one connection alive) against one simulator over HTTPS, with the
  simulator's pacing and our pacer scaled out of the way (``rate_scale``): ``--rounds``
  interleaved rounds of ``--calls`` calls, the median µs per call each, and the ratio
  ours/ibind (goal: <= 1.00x, i.e. no slower). Each library does what its method does: ours
  parses into typed models, ibind wraps the JSON in a ``Result`` (and filters ``/trsrv/stocks``).
* WebSocket: the recorded frames of ``fixtures/ws/frames.jsonl`` (``python bench/stream.py
  --record``) through each client's decoder, no socket: ours ``FrameDecoder.feed`` (text -> typed
  events, merged into its quote/order books) and ``IBKRStreaming.feed`` (the same + dispatch to a
  consumer), and ibind's ``IbkrRouter.route`` (text -> events with market-data fields renamed); frames/s and
  the ratio ours/ibind (goal: >= 2x).

Issue 13 item 9. ibind is imported here only; the package never depends on it.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FRAMES = ROOT / "fixtures" / "ws" / "frames.jsonl"
SCALE = 1_000_000.0
CONID = 265598


def _rest_calls(ours: Any, theirs: Any) -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    from ibind import StockQuery  # type: ignore[import-untyped]

    aapl = [StockQuery("AAPL")]
    return [
        ("POST /iserver/auth/status", ours.auth_status, theirs.authentication_status),
        ("POST /tickle", ours.tickle, theirs.tickle),
        ("GET /iserver/accounts", ours.accounts, theirs.receive_brokerage_accounts),
        ("GET /portfolio/accounts", ours.portfolio_accounts, theirs.portfolio_accounts),
        (
            f"GET /iserver/contract/{CONID}/info",
            lambda: ours.contract_info(CONID),
            lambda: theirs.contract_information_by_conid(str(CONID)),
        ),
        ("GET /trsrv/stocks", lambda: ours.stocks(["AAPL"]), lambda: theirs.security_stocks_by_symbol(aapl)),
    ]


def _per_call(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def bench_rest(calls: int, rounds: int) -> list[tuple[str, float, float]]:
    from ibind import IbkrClient as IbindClient

    from axion_broker_ibkr.client import IBKRClient
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.pacing import Pacer
    from axion_broker_ibkr.sim import SimServer

    rows: list[tuple[str, float, float]] = []
    with SimServer(port=0, seed=1, rate_scale=SCALE) as sim:
        config = IBKRConfig(
            mode="sim", sim_url=sim.root_url, ssl_verify=sim.cert_fingerprint, max_requests_per_minute=600
        )
        ours = IBKRClient(config, pacer=Pacer(600, scale=SCALE))
        ours.connect()  # the session's start-up sequence, as a program would
        theirs = IbindClient(
            url=ours.base_url.rstrip("/") + "/",
            cacert=str(sim.cert_path),
            use_session=True,
            auto_register_shutdown=False,
            log_responses=False,
            max_retries=0,
        )
        try:
            for label, our_call, their_call in _rest_calls(ours, theirs):
                our_call(), their_call()  # warm-up: connections open, first-call quirks done
                mine, peer = [], []
                for _ in range(rounds):
                    mine.append(_per_call(our_call, calls))
                    peer.append(_per_call(their_call, calls))
                rows.append((label, statistics.median(mine), statistics.median(peer)))
        finally:
            ours.close()
            theirs.close()
    return rows


def _frames_per_second(feed: Callable[[str], Any], frames: list[str], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for frame in frames:
            feed(frame)
    return len(frames) * rounds / (time.perf_counter() - start)


def bench_frames(rounds: int, repeat: int) -> tuple[dict[str, float], int]:
    from ibind.ibkr_ws.ibkr_router import IbkrRouter  # type: ignore[import-untyped]

    from axion_broker_ibkr.streaming import IBKRStreaming
    from axion_broker_ibkr.streaming.decode import FrameDecoder

    if not FRAMES.exists():
        sys.exit(f"{FRAMES} is missing: run `python bench/stream.py --record` first")
    frames = FRAMES.read_text(encoding="utf-8").splitlines()

    class NoClient:  # never connects: feed() is the socket reader's per-frame path
        ws_url = "wss://127.0.0.1:1/v1/api/ws"
        ssl_context = None

    def stream_feed() -> Callable[[str], Any]:
        stream = IBKRStreaming(NoClient())  # type: ignore[arg-type]
        consumer = stream.events()
        count = 0

        def feed(frame: str) -> None:
            nonlocal count
            stream.feed(frame)
            count += 1
            if count % 256 == 0:  # a consumer that keeps up, taking events in batches
                consumer.drain()

        return feed

    makers: dict[str, Callable[[], Callable[[str], Any]]] = {
        "ours: FrameDecoder.feed": lambda: FrameDecoder().feed,
        "ours: IBKRStreaming.feed": stream_feed,
        "ibind: IbkrRouter.route": lambda: IbkrRouter(log_raw_messages=False).route,
    }
    rates: dict[str, list[float]] = {name: [] for name in makers}
    for _ in range(repeat):  # interleaved, so that other load on the machine hits all alike
        for name, make in makers.items():
            rates[name].append(_frames_per_second(make(), frames, rounds))
    return {name: statistics.median(values) for name, values in rates.items()}, len(frames)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frame-rounds", type=int, default=5, help="passes over the recorded frames")
    parser.add_argument("--repeat", type=int, default=3, help="frame measurements (median reported)")
    args = parser.parse_args()
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    logging.getLogger("ibind").setLevel(logging.ERROR)
    from importlib.metadata import version

    print(f"python {platform.python_version()} on {platform.machine()}; ibind {version('ibind')}")
    rows = bench_rest(args.calls, args.rounds)
    print(
        f"\nREST over HTTPS to the simulator, sync, {args.rounds} rounds x {args.calls} calls, median µs/call"
    )
    print(f"  {'call':<34} {'ours':>8} {'ibind':>8} {'ours/ibind':>11}")
    ratios = []
    for label, mine, peer in rows:
        ratios.append(mine / peer)
        print(f"  {label:<34} {mine * 1e6:>8.0f} {peer * 1e6:>8.0f} {mine / peer:>10.2f}x")
    geo = statistics.geometric_mean(ratios)
    verdict = "met" if max(ratios) <= 1.0 else "NOT met"
    print(f"  geometric mean {geo:.2f}x, worst {max(ratios):.2f}x (goal: <= 1.00x, no slower): {verdict}")

    rates, count = bench_frames(args.frame_rounds, args.repeat)
    print(f"\nWebSocket frames, {count} recorded x {args.frame_rounds} rounds, median of {args.repeat}")
    peer = rates["ibind: IbkrRouter.route"]
    for name, rate in rates.items():
        print(f"  {name:<28} {rate:>12,.0f} frames/s  {rate / peer:>5.2f}x ibind")
    decode = rates["ours: FrameDecoder.feed"] / peer
    full = rates["ours: IBKRStreaming.feed"] / peer
    print(f"  goal >= 2x ibind's frames/s: decoder {decode:.2f}x ({'met' if decode >= 2 else 'NOT met'}), "
          f"decode+merge+dispatch {full:.2f}x ({'met' if full >= 2 else 'NOT met'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
