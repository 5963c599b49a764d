"""Side by side with a peer: this client and ``ibind`` (a bench-only dependency) on the same calls.

Run: ``python bench/peers.py [--calls 30] [--rounds 5] [--frame-rounds 5] [--repeat 7]``

* REST: the same calls through :class:`IBKRClient` and through ``ibind.IbkrClient`` (both
  synchronous, both keeping one connection alive) against one simulator over HTTPS, with the
  simulator's pacing and our pacer scaled out of the way (``rate_scale``): ``--rounds``
  interleaved rounds of ``--calls`` calls, the median µs per call each, and the ratio
  ours/ibind (goal: <= 1.00x, i.e. no slower). Each library does what its method does: ours
  parses into typed models, ibind wraps the JSON in a ``Result`` (and filters ``/trsrv/stocks``).
* WebSocket: the recorded frames of ``fixtures/ws/frames.jsonl`` (``python bench/stream.py
  --record``; 89% ``smd`` quote deltas) through each client's decoder, no socket, frames/s in CPU
  time of this process (the decoders do no I/O; the wall clock counts other load on the machine)
  and the ratio to ibind doing the same work (goal: >= 2x). Each measurement makes a fresh decoder
  per side and runs it ``--frame-rounds`` times over the frames (median of ``--repeat``, 7: the
  machine's other load varies). JSON: ours reads frames with ``orjson`` (a package dependency; the
  stdlib when it is missing), ibind with the stdlib ``json`` (what it ships with). The same runs
  over the ``smd`` frames alone are printed too: there both sides do the same work, while on
  ``sor``/``str``/``sbd``/``spl`` frames ours does more (typed models through the package
  converter, merged orders, deduplicated trades; ibind passes its dicts on).
  What each side does per frame:

  - ours ``FrameDecoder.feed``: JSON -> typed events; an ``smd`` delta is merged into the conid's
    quote by ``convert.merge_quote`` (numbers parsed, 31's close/halt prefix, 7762 over 87, US lot
    sizes), the event carries the merged values and builds its frozen ``Quote`` on first access;
    orders, trades and P&L are merged and structured into models.
  - ours ``decoder + every .quote``: the same, and the ``Quote`` object of every frame built.
  - ours ``IBKRStreaming.feed``: the decoder plus liveness, watchdog and dispatch to a consumer.
  - ibind ``route + quote merge`` (the peer figure): ``IbkrRouter.route`` (JSON -> pydantic events,
    market-data fields renamed) plus what an ibind program adds to get usable quotes: each
    ``MarketData`` delta merged into the conid's dict with its numbers parsed (our parser, the
    same text cache); other topics as ibind routes them.
  - ibind ``IbkrRouter.route only``: for reference; deltas unmerged, values left as text.

``--frames-only`` skips the REST part.

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
    from axion_broker_ibkr.drivers.pacing import Pacer
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
    # CPU time of this process: the decoders do no I/O, and other load on the machine then
    # counts far less than it does on the wall clock
    start = time.process_time()
    for _ in range(rounds):
        for frame in frames:
            feed(frame)
    return len(frames) * rounds / (time.process_time() - start)


def ibind_quotes() -> Callable[[str], Any]:
    """ibind's router plus what its user adds to get usable quotes (the work our decoder does).

    ``IbkrRouter.route`` gives a ``MarketData`` event per ``smd`` frame holding only the fields the
    frame carried, renamed, their values still IBKR's display texts (``"20.3M"``, ``"C189.60"``,
    ``"1.47%"``). A program wanting the current bid merges each delta into the conid's quote and
    reads the numbers; here with our own number parser and the same text cache our quote book
    keeps, so both sides do the same parsing. Other topics are left as ibind routes them (ours
    merges orders and P&L and builds typed models there too: extra work on our side).
    """
    from ibind.client.ibkr_definitions import snapshot_by_id  # type: ignore[import-untyped]
    from ibind.events import MarketData  # type: ignore[import-untyped]
    from ibind.ibkr_ws.ibkr_router import IbkrRouter  # type: ignore[import-untyped]

    from axion_broker_ibkr.wire import convert

    numeric = frozenset(snapshot_by_id[key] for key in convert.QUOTE_NUMBER_NAMES if key in snapshot_by_id)
    route = IbkrRouter(log_raw_messages=False).route
    quotes: dict[str, dict[str, Any]] = {}
    numbers: dict[str, float | None] = {}

    def number(text: Any) -> float | None:
        if text.__class__ is not str:
            return convert.parse_number(text)
        found = numbers.get(text, numbers)
        if found is numbers:
            found = numbers[text] = convert.parse_number(text)
        return found  # type: ignore[return-value]

    def feed(frame: str) -> None:
        events = route(frame)
        for event in events if isinstance(events, list) else (events,):
            if isinstance(event, MarketData):
                quote = quotes.setdefault(event.conid, {})
                for name, value in event.data.items():
                    quote[name] = number(value) if name in numeric else value

    return feed


def bench_frames(rounds: int, repeat: int) -> tuple[dict[str, float], int]:
    from ibind.ibkr_ws.ibkr_router import IbkrRouter

    from axion_broker_ibkr.streaming import IBKRStreaming, QuoteEvent
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

    def quote_objects() -> Callable[[str], Any]:
        decoder = FrameDecoder()

        def feed(frame: str) -> None:
            for event in decoder.feed(frame):
                if isinstance(event, QuoteEvent):
                    event.quote  # noqa: B018  # builds the frozen Quote object of every frame

        return feed

    makers: dict[str, Callable[[], Callable[[str], Any]]] = {
        OURS: lambda: FrameDecoder().feed,
        "ours: decoder + every .quote": quote_objects,
        "ours: IBKRStreaming.feed": stream_feed,
        IBIND_SAME: ibind_quotes,
        "ibind: IbkrRouter.route only": lambda: IbkrRouter(log_raw_messages=False).route,
    }
    quote_frames = [frame for frame in frames if '"topic":"smd+' in frame.replace(" ", "")]
    runs = [(name, make, frames) for name, make in makers.items()]
    runs += [(name + QUOTES_ONLY, makers[name], quote_frames) for name in (OURS, IBIND_SAME)]
    rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for _ in range(repeat):  # interleaved, so that other load on the machine hits all alike
        for name, make, some in runs:
            rates[name].append(_frames_per_second(make(), some, rounds))
    return {name: statistics.median(values) for name, values in rates.items()}, len(frames)


OURS = "ours: FrameDecoder.feed"
IBIND_SAME = "ibind: route + quote merge"
QUOTES_ONLY = " (smd)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frame-rounds", type=int, default=5, help="passes over the recorded frames")
    parser.add_argument("--repeat", type=int, default=7, help="frame measurements (median reported)")
    parser.add_argument("--frames-only", action="store_true", help="skip the REST comparison")
    args = parser.parse_args()
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    logging.getLogger("ibind").setLevel(logging.ERROR)
    from importlib.metadata import version

    print(f"python {platform.python_version()} on {platform.machine()}; ibind {version('ibind')}")
    if not args.frames_only:
        rows = bench_rest(args.calls, args.rounds)
        print(f"\nREST over HTTPS to the simulator, sync, {args.rounds} rounds x {args.calls} calls, "
              "median µs/call")  # fmt: skip
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
    peer = rates[IBIND_SAME]
    for name, rate in rates.items():
        if not name.endswith(QUOTES_ONLY):
            print(f"  {name:<30} {rate:>12,.0f} frames/s  {rate / peer:>5.2f}x ibind (same work)")
    mine_smd, peer_smd = rates[OURS + QUOTES_ONLY], rates[IBIND_SAME + QUOTES_ONLY]
    print(f"  the smd frames alone (the quote path: both sides do the same work): ours {mine_smd:,.0f}, "
          f"ibind {peer_smd:,.0f} frames/s: {mine_smd / peer_smd:.2f}x")  # fmt: skip
    same = rates[OURS] / peer
    bare = rates[OURS] / rates["ibind: IbkrRouter.route only"]
    print(f"  goal >= 2x ibind's frames/s for the same work (merged, parsed quote values): "
          f"{same:.2f}x ({'met' if same >= 2 else 'NOT met'}); against ibind's bare router, "
          f"which leaves deltas unmerged and values as text: {bare:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
