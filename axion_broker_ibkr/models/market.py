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
    """

    conid: int
    conidex: str | None = None
    last: float | None = None
    bid: float | None = None
    ask: float | None = None
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
