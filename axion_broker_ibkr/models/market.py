"""Market-data models: snapshot quotes and history bars."""

from __future__ import annotations

import datetime as dt

from attrs import define, field


@define(frozen=True, kw_only=True)
class Quote:
    """A market-data snapshot (or a merged ``smd`` state) with field ids mapped to names.

    ``last_is_close`` is set when IBKR prefixed the last price with ``C`` (previous close),
    ``halted`` when it prefixed ``H``. ``fields`` keeps every raw field id -> text received.
    ``has_data`` is false for a pre-flight answer (only conid/conidEx).

    Sizes: ``bid_size``/``ask_size`` are in **shares** (units of the contract) when ``size_lot`` is
    set: IBKR shows a US stock's bid/ask sizes (fields 88/85) divided by 100, and the client
    multiplies them back (``size_lot`` 100.0; 1.0 for every other contract). ``size_lot`` is
    ``None`` when the quote did not carry its security type (6070) and listing exchange (7221);
    the sizes are then IBKR's displayed numbers. ``fields`` keeps IBKR's texts unchanged.
    ``last_size`` (7059) is never scaled. ``change`` (82) and ``change_pct`` (83) read IBKR's
    forms ``"+1.25"`` / ``"-0.40"`` and ``"+0.84%"`` / ``"0.84"``; ``change_pct`` is in percent.
    """

    conid: int
    conidex: str | None = None
    last: float | None = None
    bid: float | None = None
    ask: float | None = None
    #: Shares bid / offered (see the class notes: in shares when ``size_lot`` is set).
    bid_size: float | None = None
    ask_size: float | None = None
    last_size: float | None = None
    volume: float | None = None
    high: float | None = None
    low: float | None = None
    open: float | None = None
    close: float | None = None
    prior_close: float | None = None
    change: float | None = None
    change_pct: float | None = None
    mark: float | None = None
    symbol: str | None = None
    company_name: str | None = None
    availability: str | None = None
    #: Factor applied to IBKR's displayed bid/ask sizes (100.0 US stock, 1.0 other, None unknown).
    size_lot: float | None = None
    last_is_close: bool = False
    halted: bool = False
    updated: int | None = None
    server_id: str | None = None
    fields: dict[str, str] = field(factory=dict)
    #: Snapshot only: requested field ids that had not arrived when the client stopped waiting.
    missing_fields: tuple[str, ...] = ()

    @property
    def has_data(self) -> bool:
        return bool(self.fields)


@define(frozen=True, kw_only=True)
class Candle:
    """One history bar; ``time`` is the bar start in epoch milliseconds (UTC)."""

    time: int
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    volume: float | None = None

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time / 1000, tz=dt.UTC)


@define(frozen=True, kw_only=True)
class History:
    """``GET /iserver/marketdata/history``."""

    server_id: str | None = None
    symbol: str | None = None
    text: str | None = None
    price_factor: float | None = None
    start_time: str | None = None
    time_period: str | None = None
    bar_length: int | None = None
    md_availability: str | None = None
    outside_rth: bool | None = None
    direction: int | None = None
    points: int | None = None
    mkt_data_delay: int | None = None
    bars: list[Candle] = field(factory=list)
