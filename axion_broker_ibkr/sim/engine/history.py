"""``/iserver/marketdata/history``: IBKR's bar/period rules and seeded bars that end at the last price."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from typing import Any

from ...errors import HistoryError
from .paper_market import Market, decimals_for
from .universe import Instrument

BAR_SECONDS: dict[str, int] = {
    "1min": 60,
    "2min": 120,
    "3min": 180,
    "5min": 300,
    "10min": 600,
    "15min": 900,
    "30min": 1800,
    "1h": 3600,
    "2h": 7200,
    "3h": 10800,
    "4h": 14400,
    "8h": 28800,
    "1d": 86400,
    "1w": 604800,
    "1m": 2592000,
}
PERIOD_UNITS: dict[str, tuple[int, int]] = {  # unit -> (seconds, max count)
    "min": (60, 30),
    "h": (3600, 8),
    "d": (86400, 1000),
    "w": (604800, 792),
    "m": (2592000, 182),
    "y": (31536000, 15),
}
#: REFERENCE §5.3 "step size" table: (longest period in seconds, smallest bar, largest bar).
STEP_RULES: list[tuple[int, str, str]] = [
    (60, "1min", "1min"),
    (86400, "1min", "8h"),
    (604800, "10min", "1w"),
    (2592000, "1h", "1m"),
    (3 * 2592000, "2h", "1m"),
    (6 * 2592000, "4h", "1m"),
    (31536000, "8h", "1m"),
    (3 * 31536000, "1d", "1m"),
    (15 * 31536000, "1w", "1m"),
]
MAX_BARS = 1000
_PERIOD_RE = re.compile(r"^(\d+)(min|h|d|w|m|y)$")


def parse_period(period: str) -> int:
    m = _PERIOD_RE.match(period)
    if not m:
        raise HistoryError(400, f"Bad Request: invalid period '{period}'")
    count, unit = int(m.group(1)), m.group(2)
    unit_s, max_count = PERIOD_UNITS[unit]
    if not 1 <= count <= max_count:
        raise HistoryError(400, f"Bad Request: period '{period}' out of range (1-{max_count}{unit})")
    return count * unit_s


def check_bar(bar: str, period_s: int, period: str) -> int:
    if bar not in BAR_SECONDS:
        raise HistoryError(400, f"Bad Request: invalid bar '{bar}'")
    bar_s = BAR_SECONDS[bar]
    for longest, smallest, largest in STEP_RULES:
        if period_s <= longest:
            if not BAR_SECONDS[smallest] <= bar_s <= BAR_SECONDS[largest]:
                raise HistoryError(
                    500,
                    f"Chart data unavailable: bar size {bar} is not valid for period {period}"
                    f" (allowed {smallest} to {largest})",
                )
            return bar_s
    raise HistoryError(400, f"Bad Request: period '{period}' too long")


#: Security types that trade every day of the week (no weekend gap in their history).
SEVEN_DAY_TYPES = frozenset({"CRYPTO"})
#: Security types with a Sunday-evening to Friday-evening week (UTC hours of the weekend break,
#: roughly 17:00 New York): forex on IDEALPRO, CME futures and their options.
SUNDAY_OPEN_TYPES = frozenset({"CASH", "FUT", "FOP"})
_WEEK_CLOSE_UTC = 22  # Friday 22:00 UTC .. Sunday 22:00 UTC closed


def trades_at(inst: Instrument, start_s: float, bar_s: int) -> bool:
    """Whether a bar starting at ``start_s`` (UTC seconds) lies in a session of ``inst``'s market.

    Daily bars: Monday to Friday (a forex/futures Sunday evening belongs to Monday's trading day,
    as in IBKR's daily bars); crypto every day. Intraday bars: stocks, options and bonds Monday to
    Friday; forex and futures from Sunday 22:00 to Friday 22:00 UTC. Weekly and longer bars: always.
    """
    if inst.sec_type in SEVEN_DAY_TYPES or bar_s >= 7 * 86400:
        return True
    when = dt.datetime.fromtimestamp(start_s, tz=dt.UTC)
    weekday = when.weekday()  # Monday 0 .. Sunday 6
    if bar_s >= 86400 or inst.sec_type not in SUNDAY_OPEN_TYPES:
        return weekday < 5
    if weekday == 5:
        return False
    if weekday == 4:
        return when.hour < _WEEK_CLOSE_UTC
    if weekday == 6:
        return when.hour >= _WEEK_CLOSE_UTC
    return True


def _session_starts(inst: Instrument, last_start: int, bar_s: int, slots: int) -> list[int]:
    """The bar starts of the window (``slots`` bars of ``bar_s`` back from ``last_start``) that
    fall in the market's sessions, newest first. A window with none (a stock's 1-day window on a
    Sunday) reaches back to the last session instead, as IBKR answers with the last trading day."""
    window = [last_start - k * bar_s for k in range(slots)]
    starts = [s for s in window if trades_at(inst, s, bar_s)]
    if starts:
        return starts
    start = last_start - slots * bar_s
    limit = slots + 8 * 86400 // bar_s  # a long weekend or a holiday week at most
    while len(starts) < slots and limit > 0:
        if trades_at(inst, start, bar_s):
            starts.append(start)
        elif starts:
            break  # the last session is complete
        start -= bar_s
        limit -= 1
    return starts or window


def build_history(
    market: Market, inst: Instrument, bar: str, period: str, outside_rth: bool, start_time: str | None
) -> dict[str, Any]:
    """Bars for ``period`` ending now (or at ``startTime``), at most 1000, oldest first."""
    period_s = parse_period(period)
    bar_s = check_bar(bar, period_s, period)
    now_s = market.clock.now()
    end_s = now_s
    if start_time:
        try:
            # [unconfirmed] whether startTime starts or ends the window: the simulator treats it
            # as the END (direction -1, as the response says), so bars precede it.
            end_s = dt.datetime.strptime(start_time, "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.UTC).timestamp()
        except ValueError as exc:
            raise HistoryError(400, f"Bad Request: invalid startTime '{start_time}'") from exc
    slots = min(MAX_BARS, max(1, period_s // bar_s))
    last_start = int(end_s // bar_s) * bar_s
    starts = _session_starts(inst, last_start, bar_s, slots)
    rng = random.Random(f"{market.seed}:{inst.conid}:{bar}:{last_start}")
    price = market.last(inst.conid)
    step_vol = 0.00017 * math.sqrt(min(bar_s, 86400))
    digits = decimals_for(inst)
    bars: list[dict[str, Any]] = []
    close = price
    for start in starts:
        move = rng.gauss(0.0, step_vol)
        open_ = close / math.exp(move)
        high = max(open_, close) * (1 + abs(rng.gauss(0, step_vol / 2)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, step_vol / 2)))
        volume = float(rng.randint(1_000, 50_000)) * (bar_s / 60) ** 0.5
        bars.append(
            {
                "t": int(start * 1000),
                "o": round(open_, digits),
                "c": round(close, digits),
                "h": round(high, digits),
                "l": round(low, digits),
                "v": round(volume, 2),
            }
        )
        close = open_
    bars.reverse()
    price_factor = 10**digits
    hi = max(bars, key=lambda b: b["h"])
    lo = min(bars, key=lambda b: b["l"])
    first_ms = bars[0]["t"]
    total_volume = round(sum(b["v"] for b in bars), 2)

    def extreme(b: dict[str, Any], key: str) -> str:
        minutes = int((b["t"] - first_ms) / 60000)
        return f"{round(b[key] * price_factor)}/{total_volume}/{minutes}"

    fmt = "%Y%m%d-%H:%M:%S"
    return {
        # REFERENCE names it ``serverId``; the OpenAPI example (our fixture) spells it ``serverid``.
        # Both are sent so a client reading either spelling works.
        "serverId": f"{inst.conid % 100000}",
        "serverid": f"{inst.conid % 100000}",
        "symbol": inst.symbol,
        "text": inst.name,
        "priceFactor": price_factor,
        "startTime": dt.datetime.fromtimestamp(first_ms / 1000, tz=dt.UTC).strftime(fmt),
        "high": extreme(hi, "h"),
        "low": extreme(lo, "l"),
        "timePeriod": period,
        "barLength": bar_s,
        "mdAvailability": "RpB",
        "outsideRth": outside_rth,
        "tradingDayDuration": 1440,
        "volumeFactor": 1,
        "priceDisplayRule": 1,
        "priceDisplayValue": str(digits),
        "chartPanStartTime": dt.datetime.fromtimestamp(now_s, tz=dt.UTC).strftime(fmt),
        "direction": -1,
        "negativeCapable": False,
        "messageVersion": 2,
        "travelTime": 12,
        "data": bars,
        "points": len(bars),
        "mktDataDelay": 0,
    }
