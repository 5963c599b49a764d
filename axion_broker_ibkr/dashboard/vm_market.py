"""View-models of the Market Data tab (pure, no Streamlit): watchlist parsing, quote rows, candles."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import define

from ..models import History, IBKRContract, Quote
from ..naming import describe_contract
from ..ops.marketdata import validate_history

Row = dict[str, Any]

#: History bar sizes and periods IBKR accepts (REFERENCE §5.3), with a sensible default pair.
BARS: tuple[str, ...] = ("5min", "15min", "30min", "1h", "4h", "1d", "1w")
PERIODS: tuple[str, ...] = ("1d", "1w", "1m", "3m", "6m", "1y")
#: Asset keywords of a watchlist entry -> CPAPI secType.
_WATCH_TYPES = {"STK": "STK", "CASH": "CASH", "FX": "CASH", "FUT": "FUT", "OPT": "OPT", "BOND": "BOND"}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# The watchlist takes contracts as the page names them: ``AAPL 2027-01-15 185 P``,
# ``ES Dec 2026`` (or ``ES 202612``), ``IBM 3.3% 2029-05-15`` (or IBKR's ``IBM 3.3 05/15/29``).
_OPTION_RE = re.compile(r"^([A-Z0-9.]+) (\d{4})-?(\d{2})-?(\d{2}) (\d+(?:\.\d+)?) ?(C|P|CALL|PUT)$")
_FUTURE_RE = re.compile(r"^([A-Z0-9]+) (?:(" + "|".join(_MONTH_NAMES) + r") (\d{4})|(\d{4})(\d{2}))$")
_BOND_RE = re.compile(r"^([A-Z0-9.-]+) (\d+(?:\.\d+)?)% (\d{4})-(\d{2})-(\d{2})$")
_BOND_IBKR_RE = re.compile(r"^([A-Z0-9.-]+) (\d+(?:\.\d+)?(?: \d+/\d+)?) (\d{2})/(\d{2})/(\d{2,4})$")


@define(frozen=True, kw_only=True)
class WatchItem:
    """One watchlist entry: ``AAPL``, ``EUR.USD`` (forex), ``ES:FUT`` (front-month future), an
    option / dated future / bond by its terms (``details``: the resolver's expiry, strike, right,
    coupon, maturity)."""

    symbol: str
    sec_type: str
    details: tuple[tuple[str, Any], ...] = ()
    name: str | None = None  # the contract in full, when the entry gave its terms

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.symbol if self.sec_type == "STK" else f"{self.symbol} ({self.sec_type})"

    @property
    def key(self) -> str:
        """Identity of the entry (the cache key of its resolved conid)."""
        return f"{self.sec_type}:{self.symbol}:{self.details}"


DEFAULT_WATCHLIST = "AAPL, MSFT, EUR.USD, ES:FUT"


def watch_label(item: WatchItem, contract: IBKRContract) -> str:
    """A resolved watchlist entry named in full: ``ES Dec 2026 (ESZ6)`` for ``ES:FUT``, the bond
    with its CUSIP; the entry's own label when the contract gives no more (a symbol alone)."""
    name = describe_contract(contract)
    return name if name and name != str(contract.conid) else item.label


def _dated(entry: str) -> WatchItem | None:
    """An option, dated future or bond given by its terms; ``None`` when ``entry`` is none of them."""
    if m := _OPTION_RE.match(entry):
        sym, y, mo, d, strike, right = m.groups()
        _check_date(entry, int(y), int(mo), int(d))
        details: tuple[tuple[str, Any], ...] = (
            ("expiry", f"{y}{mo}{d}"),
            ("right", right[0]),
            ("strike", float(strike)),
        )
        name = f"{sym} {y}-{mo}-{d} {float(strike):g} {right[0]}"
        return WatchItem(symbol=sym, sec_type="OPT", details=details, name=name)
    if m := _FUTURE_RE.match(entry):
        sym, mon, year, y2, mo2 = m.groups()
        month = _MONTH_NAMES.index(mon) + 1 if mon else int(mo2)
        year = year or y2
        if not 1 <= month <= 12:
            raise ValueError(f"watchlist entry {entry!r}: month {month} out of range")
        name = f"{sym} {_MONTH_NAMES[month - 1].title()} {year}"
        return WatchItem(symbol=sym, sec_type="FUT", details=(("expiry", f"{year}{month:02d}"),), name=name)
    if m := _BOND_RE.match(entry):
        sym, coupon, y, mo, d = m.groups()
        _check_date(entry, int(y), int(mo), int(d))
        bond_details: tuple[tuple[str, Any], ...] = (("coupon", float(coupon)), ("maturity", f"{y}{mo}{d}"))
        return WatchItem(
            symbol=sym, sec_type="BOND", details=bond_details, name=f"{sym} {float(coupon):g}% {y}-{mo}-{d}"
        )
    if m := _BOND_IBKR_RE.match(entry):  # the resolver reads IBKR's description form itself
        return WatchItem(symbol=entry, sec_type="BOND", name=entry)
    return None


def _check_date(entry: str, year: int, month: int, day: int) -> None:
    try:
        dt.date(year, month, day)
    except ValueError:
        raise ValueError(
            f"watchlist entry {entry!r}: {year:04d}-{month:02d}-{day:02d} is not a date"
        ) from None


def parse_watchlist(text: str) -> list[WatchItem]:
    """``"AAPL, EUR.USD, ES:FUT, AAPL 2027-01-15 185 P, ES Dec 2026, IBM 3.3% 2029-05-15"`` -> items.

    A pair with a dot is forex; ``SYM:TYPE`` names the type (STK, FX, FUT, OPT, BOND); options,
    dated futures and bonds are given by their terms. Raises ``ValueError`` naming the entry for an
    unknown type or an impossible date; duplicates are dropped.
    """
    items: list[WatchItem] = []
    seen: set[str] = set()
    for raw in text.replace(";", ",").replace("\n", ",").split(","):
        entry = " ".join(raw.strip().upper().split())
        if not entry:
            continue
        item = _dated(entry)
        if item is None:
            symbol, sep, kind = entry.partition(":")
            if sep:
                if kind not in _WATCH_TYPES:
                    raise ValueError(
                        f"watchlist entry {entry!r}: unknown type {kind!r} (use STK, FX, FUT, OPT, BOND)"
                    )
                sec_type = _WATCH_TYPES[kind]
                if sec_type == "OPT":
                    raise ValueError(
                        f"watchlist entry {entry!r}: an option needs its terms, e.g. 'AAPL 2027-01-15 185 P'"
                    )
            else:
                sec_type = "CASH" if "." in symbol else "STK"
            item = WatchItem(symbol=symbol.strip(), sec_type=sec_type)
        if item.key not in seen:
            seen.add(item.key)
            items.append(item)
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
