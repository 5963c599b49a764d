"""View-models of the Market Data tab (pure, no Streamlit): watchlist parsing, quote rows, candles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import define

try:  # the client's history rule moved from core to core_market; accept either while it settles
    from ..core_market import validate_history
except ImportError:  # pragma: no cover
    from ..core import validate_history  # type: ignore[attr-defined, no-redef, unused-ignore]
from ..models import History, Quote

Row = dict[str, Any]

#: History bar sizes and periods IBKR accepts (REFERENCE §5.3), with a sensible default pair.
BARS: tuple[str, ...] = ("5min", "15min", "30min", "1h", "4h", "1d", "1w")
PERIODS: tuple[str, ...] = ("1d", "1w", "1m", "3m", "6m", "1y")
#: Asset keywords of a watchlist entry -> CPAPI secType.
_WATCH_TYPES = {"STK": "STK", "CASH": "CASH", "FX": "CASH", "FUT": "FUT"}


@define(frozen=True, kw_only=True)
class WatchItem:
    """One watchlist entry: ``AAPL``, ``EUR.USD`` (forex), ``ES:FUT`` (front-month future)."""

    symbol: str
    sec_type: str

    @property
    def label(self) -> str:
        return self.symbol if self.sec_type == "STK" else f"{self.symbol} ({self.sec_type})"


DEFAULT_WATCHLIST = "AAPL, MSFT, EUR.USD, ES:FUT"


def parse_watchlist(text: str) -> list[WatchItem]:
    """``"AAPL, EUR.USD, ES:FUT"`` -> items. A pair with a dot is forex; ``SYM:TYPE`` names the type.

    Raises ``ValueError`` naming the entry for an unknown type; duplicates are dropped.
    """
    items: list[WatchItem] = []
    seen: set[tuple[str, str]] = set()
    for raw in text.replace(";", ",").replace("\n", ",").split(","):
        entry = raw.strip().upper()
        if not entry:
            continue
        symbol, sep, kind = entry.partition(":")
        if sep:
            if kind not in _WATCH_TYPES:
                raise ValueError(f"watchlist entry {entry!r}: unknown type {kind!r} (use STK, FX, FUT)")
            sec_type = _WATCH_TYPES[kind]
        else:
            sec_type = "CASH" if "." in symbol else "STK"
        key = (symbol, sec_type)
        if key not in seen:
            seen.add(key)
            items.append(WatchItem(symbol=symbol, sec_type=sec_type))
    return items


def bars_for_period(period: str) -> list[str]:
    """The bar sizes of :data:`BARS` that IBKR allows with ``period`` (the client's own rule)."""
    allowed = []
    for bar in BARS:
        try:
            validate_history(bar, period)
        except ValueError:
            continue
        allowed.append(bar)
    return allowed


def quote_rows(quotes: Mapping[str, Quote | None]) -> list[Row]:
    """Label -> latest quote (``None`` when no data yet) as table rows, in watchlist order."""
    rows: list[Row] = []
    for label, q in quotes.items():
        if q is None or not q.has_data:
            rows.append(
                {"Instrument": label, "Last": None, "Bid": None, "Ask": None, "Note": "waiting for data"}
            )
            continue
        notes = []
        if q.last_is_close:
            notes.append("last = previous close")
        if q.halted:
            notes.append("halted")
        spread = q.ask - q.bid if q.ask is not None and q.bid is not None else None
        rows.append(
            {
                "Instrument": label,
                "Last": q.last,
                "Bid": q.bid,
                "Ask": q.ask,
                "Spread": spread,
                "Change %": q.change_pct,
                "Volume": q.volume,
                "High": q.high,
                "Low": q.low,
                "conid": q.conid,
                "Updated": _updated_text(q.updated),
                "Note": ", ".join(notes),
            }
        )
    return rows


def _updated_text(updated: int | None) -> str:
    if not updated:
        return ""
    return dt.datetime.fromtimestamp(updated / 1000, tz=dt.UTC).strftime("%H:%M:%S UTC")


def candle_rows(history: History) -> list[Row]:
    """History bars in time order, with the bar start as a UTC datetime."""
    bars = sorted(history.bars, key=lambda b: b.time)
    return [
        {"time": b.start, "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume}
        for b in bars
    ]


def merge_quotes(
    labels: Iterable[tuple[str, int | None]], latest: Mapping[int, Quote]
) -> dict[str, Quote | None]:
    """(label, conid) pairs + conid -> quote -> label -> quote (``None`` when absent)."""
    return {label: (latest.get(conid) if conid is not None else None) for label, conid in labels}
