"""Market-data operations of the I/O-free core: snapshot (pre-flight handled), history (IBKR's
bar/period rules checked before sending), unsubscribe. See :mod:`axion_broker_ibkr.ops.iserver`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from attrs import evolve

from .. import models as m
from ..wire import convert
from .effects import Op, Response, SessionState, Sleep, error_for, error_text
from .effects import call as _call
from .effects import get as _get
from .effects import post as _post
from .iserver import ensure_accounts

# --------------------------------------------------------------------------------------------
# Market data

MAX_SNAPSHOT_CONIDS = 100
MAX_SNAPSHOT_FIELDS = 50


def _conid_text(conid: int | str) -> str:
    text = str(conid).strip()
    if not re.fullmatch(r"\d+(@[A-Z0-9.]+)?", text):
        raise ValueError(f"conids: expected a conid or 'conid@EXCHANGE', got {conid!r}")
    return text


def _poll_delays(total: float) -> Iterable[float]:
    """0.2, 0.4, 0.8, 1, 1, ... until ``total`` seconds have been spent."""
    spent, step = 0.0, 0.2
    while spent + 1e-9 < total:
        delay = min(step, total - spent)
        yield delay
        spent += delay
        step = min(step * 2, 1.0)


def snapshot(
    state: SessionState, conids: Sequence[int | str], fields: Sequence[str], *, wait: float
) -> Op[list[m.Quote]]:
    """Quotes with the pre-flight handled: ask once, ask again only for the conids that came back
    without data, give up after ``wait`` seconds. Each quote's ``missing_fields`` lists the
    requested fields that had not arrived (a missing field is unknown, never zero)."""
    keys = [_conid_text(c) for c in conids]
    if not keys:
        raise ValueError("conids: at least one conid is required")
    field_ids = [str(f) for f in fields]
    if not field_ids or len(field_ids) > MAX_SNAPSHOT_FIELDS:
        raise ValueError(f"fields: between 1 and {MAX_SNAPSHOT_FIELDS} field ids, got {len(field_ids)}")
    yield from ensure_accounts(state)
    quotes: dict[str, m.Quote] = {}
    pending = list(dict.fromkeys(keys))
    delays = iter(_poll_delays(wait))
    while True:
        for start in range(0, len(pending), MAX_SNAPSHOT_CONIDS):
            batch = pending[start : start + MAX_SNAPSHOT_CONIDS]
            params = {"conids": ",".join(batch), "fields": ",".join(field_ids)}
            data = yield from _call(_get("/iserver/marketdata/snapshot", params))
            for row in data or []:
                quote = convert.quote_from_wire(row)
                key = _match_key(quote, batch)
                if key is not None and (quote.has_data or key not in quotes):
                    quotes[key] = quote
        pending = [k for k in pending if k not in quotes or not quotes[k].has_data]
        delay = next(delays, None)
        if not pending or delay is None:
            break
        yield Sleep(delay)
    out: list[m.Quote] = []
    for key in dict.fromkeys(keys):
        quote = quotes.get(key) or m.Quote(conid=int(key.split("@")[0]))
        missing = tuple(f for f in field_ids if f not in quote.fields)
        out.append(evolve(quote, missing_fields=missing))
    return out


def _match_key(quote: m.Quote, batch: Sequence[str]) -> str | None:
    for candidate in (quote.conidex, str(quote.conid)):
        if candidate in batch:
            return candidate
    for key in batch:
        if key.split("@")[0] == str(quote.conid):
            return key
    return None


def unsubscribe(conid: int | str) -> Op[bool]:
    """Stop one stream. Unknown stream: the docs say 500, ibind sees 404 [conflict]: both -> False."""
    req = _post("/iserver/marketdata/unsubscribe", {"conid": int(_conid_text(conid).split("@")[0])})
    req = evolve(req, ok_statuses=frozenset({404, 500}))
    resp: Response = yield req
    return resp.status_code == 200 and isinstance(resp.data, Mapping) and bool(resp.data.get("success"))


def unsubscribe_all() -> Op[bool]:
    data = yield from _call(_get("/iserver/marketdata/unsubscribeall"))
    return bool(isinstance(data, Mapping) and data.get("unsubscribed"))


# --------------------------------------------------------------------------------------------
# History: IBKR's bar/period rules, checked before anything is sent

HISTORY_BARS: dict[str, int] = {  # bar -> minutes
    "1min": 1, "2min": 2, "3min": 3, "5min": 5, "10min": 10, "15min": 15, "30min": 30,
    "1h": 60, "2h": 120, "3h": 180, "4h": 240, "8h": 480, "1d": 1440, "1w": 10080, "1m": 43200,
}  # fmt: skip
_PERIOD_UNITS: dict[str, tuple[int, int]] = {  # unit -> (minutes, max count)
    "min": (1, 30), "h": (60, 8), "d": (1440, 1000), "w": (10080, 792), "m": (43200, 182), "y": (525600, 15),
}  # fmt: skip
#: (period in minutes, smallest bar, largest bar): IBKR's "step size" table (REFERENCE §5.3).
_STEP_RULES: tuple[tuple[int, str, str], ...] = (
    (1, "1min", "1min"),
    (60, "1min", "8h"),
    (1440, "1min", "8h"),
    (10080, "10min", "1w"),
    (43200, "1h", "1m"),
    (3 * 43200, "2h", "1m"),
    (6 * 43200, "4h", "1m"),
    (525600, "8h", "1m"),
    (2 * 525600, "1d", "1m"),
    (15 * 525600, "1w", "1m"),
)
HISTORY_SOURCES = ("trades", "midpoint", "bid_ask")


def period_minutes(period: str) -> int:
    match = re.fullmatch(r"(\d+)(min|h|d|w|m|y)", period.strip())
    if match is None:
        raise ValueError(f"period: expected e.g. '30min', '8h', '5d', '2w', '6m', '1y'; got {period!r}")
    count, unit = int(match.group(1)), match.group(2)
    minutes, max_count = _PERIOD_UNITS[unit]
    if not 1 <= count <= max_count:
        raise ValueError(f"period: {unit} periods run from 1 to {max_count}; got {period!r}")
    return count * minutes


def validate_history(bar: str, period: str) -> None:
    """Raise ``ValueError`` naming the field when IBKR would refuse this bar/period pair."""
    if bar not in HISTORY_BARS:
        raise ValueError(f"bar: must be one of {', '.join(HISTORY_BARS)}; got {bar!r}")
    minutes = period_minutes(period)
    rule = _STEP_RULES[0]
    for candidate in _STEP_RULES:
        if candidate[0] <= minutes:
            rule = candidate
    _, smallest, largest = rule
    if not HISTORY_BARS[smallest] <= HISTORY_BARS[bar] <= HISTORY_BARS[largest]:
        raise ValueError(f"bar: a {period} period takes bars from {smallest} to {largest}; got {bar!r}")
    if HISTORY_BARS[bar] > minutes:
        raise ValueError(f"bar: {bar!r} is longer than the period {period!r}")


def history(
    state: SessionState,
    conid: int | str,
    *,
    bar: str,
    period: str,
    exchange: str | None = None,
    start_time: str | None = None,
    outside_rth: bool | None = None,
    source: str | None = None,
) -> Op[m.History]:
    validate_history(bar, period)
    if start_time is not None and not re.fullmatch(r"\d{8}-\d{2}:\d{2}:\d{2}", start_time):
        raise ValueError(f"start_time: expected 'YYYYMMDD-HH:mm:ss' (UTC); got {start_time!r}")
    if source is not None and source.lower() not in HISTORY_SOURCES:
        raise ValueError(f"source: must be one of {', '.join(HISTORY_SOURCES)}; got {source!r}")
    yield from ensure_accounts(state)
    params = {
        "conid": _conid_text(conid),
        "bar": bar,
        "period": period,
        "exchange": exchange,
        "startTime": start_time,
        "outsideRth": outside_rth,
        "source": source,
    }
    req = evolve(_get("/iserver/marketdata/history", params), ok_statuses=frozenset({500}))
    resp: Response = yield req
    if resp.status_code != 200:
        # An empty range is reported as an error containing "No data." (ibind): no bars, not a failure.
        text = error_text(resp.data, resp.text)
        if "no data" in text.lower():
            return m.History(text=text)
        raise error_for(req, resp, login_url="")
    return convert.parse_history(resp.data)
