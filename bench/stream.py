"""Streaming throughput: frames per second decoded, merged and dispatched on one core.

Feeds the recorded frames of ``fixtures/ws/frames.jsonl`` through ``IBKRStreaming.feed`` (the same
path the socket reader uses: JSON decode -> typed events -> merged quote/order/P&L state -> one
consumer queue, drained as a consumer would) and compares with a baseline measured in the same run:
bare ``json.loads`` of the same frames.

    python bench/stream.py                 # measure (target: at least 50,000 frames/s)
    python bench/stream.py --record        # regenerate fixtures/ws/frames.jsonl (seeded)

The recording mixes frame types the way a quote-heavy session does: mostly ``smd`` deltas (the
first frame per conid is a full quote, later ones carry 1-4 changed fields), plus ``sor`` order
updates, ``str`` executions, ``spl`` P&L, ``sbd`` ladders and ``system`` heartbeats.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FRAMES = ROOT / "fixtures" / "ws" / "frames.jsonl"
FIXTURES = ROOT / "fixtures" / "cpapi"
TARGET = 50_000.0

CONIDS = (8314, 265598, 756733, 11004968, 12087792, 4391, 76792991, 9579970)
QUOTE_FIELDS = ("31", "84", "86", "88", "85", "7059", "87", "7762", "82", "83")
#: frame kind -> share of frames (out of 100)
MIX = {"smd": 88, "sor": 4, "str": 2, "spl": 3, "hb": 2, "sbd": 1}


class _Recorder:
    """Seeded frame generator; one method per frame kind (``MIX`` says how often each is used)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.prices = {c: self.rng.uniform(20, 500) for c in CONIDS}
        self.filled: dict[int, float] = {}
        self.seen: set[int] = set()
        self.ts = 1_712_596_911_593
        self.n = 0

    def smd(self) -> dict[str, Any]:
        rng = self.rng
        conid = rng.choice(CONIDS)
        self.prices[conid] *= 1 + rng.gauss(0, 0.0005)
        p = self.prices[conid]
        frame: dict[str, Any] = {"topic": f"smd+{conid}", "conid": conid, "_updated": self.ts}
        chosen: tuple[str, ...] = tuple(rng.sample(QUOTE_FIELDS, rng.randint(1, 4)))
        if conid not in self.seen:  # the first frame of a conid is a full quote
            self.seen.add(conid)
            frame.update({"conidEx": str(conid), "server_id": "q2", "6119": "q2", "6509": "RpB"})
            chosen = QUOTE_FIELDS
        values = {
            "31": f"{p:.2f}",
            "84": f"{p - 0.01:.2f}",
            "86": f"{p + 0.01:.2f}",
            "88": f"{rng.randint(1, 90)}00",
            "85": f"{rng.randint(1, 90)}00",
            "7059": str(rng.randint(1, 500)),
            "87": f"{rng.uniform(1, 90):.1f}M",
            "7762": str(rng.randint(10**6, 10**8)),
            "82": f"{rng.uniform(-3, 3):.2f}",
            "83": f"{rng.uniform(-2, 2):.2f}%",
        }
        frame.update({f: values[f] for f in chosen})
        return frame

    def sor(self) -> dict[str, Any]:
        oid = 922_048_000 + self.rng.randint(1, 40)
        if oid not in self.filled:
            self.filled[oid] = 0.0
            item = json.loads((FIXTURES / "ws_sor.json").read_text(encoding="utf-8"))["args"][0]
            item.update({"orderId": oid, "acct": "DU1234567", "order_ref": f"cOID-{oid}"})
        else:
            done = self.filled[oid] = min(100.0, self.filled[oid] + self.rng.randint(1, 30))
            item = {
                "acct": "DU1234567",
                "orderId": oid,
                "filledQuantity": done,
                "remainingQuantity": 100.0 - done,
                "avgPrice": f"{self.rng.uniform(371, 372):.2f}",
                "status": "Filled" if done >= 100 else "Submitted",
            }
        return {"topic": "sor", "args": [item]}

    def str_(self) -> dict[str, Any]:
        item = json.loads((FIXTURES / "trades.json").read_text(encoding="utf-8"))[0]
        item.update({"execution_id": f"0000e0d5.{self.n:08x}.01.01", "trade_time_r": self.ts})
        return {"topic": "str", "args": [item]}

    def spl(self) -> dict[str, Any]:
        row = {"rowType": 1, "dpl": round(self.rng.gauss(0, 500), 2), "upl": round(self.rng.gauss(0, 900), 2)}
        return {"topic": "spl", "args": {"DU1234567.Core": row}}

    def sbd(self) -> dict[str, Any]:
        mid = self.prices[265598]
        rows = []
        for r in range(10):
            side = "ask" if r < 5 else "bid"
            rows.append({"row": r, "focus": int(r == 5), "price": f"{mid + (5 - r) * 0.01:.2f}",
                         side: str(self.rng.randint(1, 9) * 100)})  # fmt: skip
        return {"topic": "sbd+DU1234567+265598", "data": rows}

    def hb(self) -> dict[str, Any]:
        return {"topic": "system", "hb": self.ts}

    def record(self, count: int) -> list[str]:
        makers = {
            "smd": self.smd,
            "sor": self.sor,
            "str": self.str_,
            "spl": self.spl,
            "sbd": self.sbd,
            "hb": self.hb,
        }
        kinds = [k for k, n in MIX.items() for _ in range(n)]
        frames = []
        for self.n in range(count):
            self.ts += self.rng.randint(1, 40)
            frames.append(json.dumps(makers[self.rng.choice(kinds)](), separators=(",", ":")))
        return frames


def _load() -> list[str]:
    if not FRAMES.exists():
        sys.exit(f"{FRAMES} is missing: run `python bench/stream.py --record` first")
    return FRAMES.read_text(encoding="utf-8").splitlines()


def _baseline(frames: list[str], rounds: int) -> float:
    loads = json.loads
    start = time.perf_counter()
    for _ in range(rounds):
        for frame in frames:
            loads(frame)
    return len(frames) * rounds / (time.perf_counter() - start)


async def _stream_rate(frames: list[str], rounds: int) -> tuple[float, dict[str, Any]]:
    from axion_broker_ibkr.streaming import IBKRStreaming

    class NoClient:  # the benchmark never connects; feed() is the reader's per-frame path
        ws_url = "wss://127.0.0.1:1/v1/api/ws"
        ssl_context = None

    stream = IBKRStreaming(NoClient())  # type: ignore[arg-type]
    consumer = stream.events()
    feed = stream.feed
    start = time.perf_counter()
    for _ in range(rounds):
        for n, frame in enumerate(frames):
            feed(frame)
            if n % 256 == 0:  # the consumer keeps up: it takes events in batches, as a busy task would
                consumer.drain()
    rate = len(frames) * rounds / (time.perf_counter() - start)
    return rate, stream.stats()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="regenerate fixtures/ws/frames.jsonl")
    parser.add_argument("--count", type=int, default=6000, help="frames to record")
    parser.add_argument("--rounds", type=int, default=10, help="passes over the recorded frames")
    parser.add_argument("--repeat", type=int, default=3, help="measurements (median and best are reported)")
    args = parser.parse_args()
    if args.record:
        FRAMES.parent.mkdir(parents=True, exist_ok=True)
        FRAMES.write_text("\n".join(_Recorder(seed=5).record(args.count)) + "\n", encoding="utf-8")
        print(f"wrote {args.count} frames to {FRAMES.relative_to(ROOT)}")
        return 0
    frames = _load()
    base, ours = [], []
    stats: dict[str, Any] = {}
    for _ in range(args.repeat):
        base.append(_baseline(frames, args.rounds))
        rate, stats = asyncio.run(_stream_rate(frames, args.rounds))
        ours.append(rate)
    b, s = statistics.median(base), statistics.median(ours)
    print(f"frames: {len(frames)} recorded x {args.rounds} rounds, median of {args.repeat} runs, one thread")
    print(f"baseline json.loads only:            {b:>12,.0f} frames/s")
    print(f"IBKRStreaming decode+merge+dispatch: {s:>12,.0f} frames/s  ({s / b:.1%} of baseline, "
          f"{b / s:.1f}x its cost)")  # fmt: skip
    print(f"best run: baseline {max(base):,.0f}, stream {max(ours):,.0f} frames/s "
          f"({max(ours) / max(base):.1%}; other load on the machine only ever slows a run down)")  # fmt: skip
    print(f"target {TARGET:,.0f} frames/s (median): {'met' if s >= TARGET else 'NOT met'}")
    events = stats.get("events", 0)
    print(f"events dispatched in the last run: {events:,}; dropped: {stats['dropped']}; "
          f"bad frames: {stats['frames'].get('bad_frames', 0)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
