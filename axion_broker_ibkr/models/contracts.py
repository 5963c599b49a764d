"""Contract models: the resolved :class:`IBKRContract` and the security-definition answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from attrs import define, field


@define(frozen=True, kw_only=True)
class IBKRContract:
    """A resolved instrument, identified by its conid; the host's contract dict is ``to_host()``."""

    conid: int
    sec_type: str
    symbol: str
    exchange: str = "SMART"
    currency: str = "USD"
    multiplier: float | None = None
    expiry: str | None = None  # YYYYMMDD
    strike: float | None = None
    right: str | None = None  # "C" | "P"
    description: str = ""
    listing_exchange: str | None = None
    local_symbol: str | None = None
    trading_class: str | None = None
    underlying_conid: int | None = None
    maturity: str | None = None  # bonds, YYYYMMDD
    coupon: float | None = None
    issuer: str | None = None
    tick_size: float | None = None

    def to_host(self) -> dict[str, Any]:
        """The contract dict of HOST_CONTRACT §2 (plus a few extra keys): every field, by name."""
        return attrs.asdict(self, recurse=False)


@define(frozen=True, kw_only=True)
class ContractInfo:
    """``GET /iserver/contract/{conid}/info`` (snake_case on the wire)."""

    conid: int | None = None
    symbol: str | None = None
    cfi_code: str | None = None
    cusip: str | None = None
    expiry_full: str | None = None
    maturity_date: str | None = None
    industry: str | None = None
    category: str | None = None
    instrument_type: str | None = None
    trading_class: str | None = None
    valid_exchanges: str | None = None
    allow_sell_long: bool | None = None
    is_zero_commission_security: bool | None = None
    local_symbol: str | None = None
    classifier: str | None = None
    currency: str | None = None
    text: str | None = None
    underlying_conid: int | None = None
    rth: bool | None = None
    multiplier: float | None = None
    underlying_issuer: str | None = None
    contract_month: str | None = None
    company_name: str | None = None
    smart_available: bool | None = None
    exchange: str | None = None


@define(frozen=True, kw_only=True)
class IncrementRule:
    lower_edge: float
    increment: float


@define(frozen=True, kw_only=True)
class ContractRules:
    """``POST /iserver/contract/rules``."""

    order_types: list[str] = field(factory=list)
    order_types_outside: list[str] = field(factory=list)
    tif_types: list[str] = field(factory=list)
    cqt_types: list[str] = field(factory=list)
    fraq_types: list[str] = field(factory=list)
    ib_algo_types: list[str] = field(factory=list)
    can_trade_acct_ids: list[str] = field(factory=list)
    increment_rules: list[IncrementRule] = field(factory=list)
    increment: float | None = None
    increment_digits: int | None = None
    increment_type: int | None = None
    size_increment: float | None = None
    default_size: float | None = None
    cash_ccy: str | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    preview: bool | None = None
    force_order_preview: bool | None = None
    algo_eligible: bool | None = None
    overnight_eligible: bool | None = None
    negative_capable: bool | None = None
    error: str | None = None


@define(frozen=True, kw_only=True)
class SearchSection:
    sec_type: str | None = None
    months: str | None = None
    exchange: str | None = None
    conid: int | None = None


@define(frozen=True, kw_only=True)
class Issuer:
    id: str
    name: str | None = None


@define(frozen=True, kw_only=True)
class SecdefSearchResult:
    """One element of ``/iserver/secdef/search`` (conid arrives as a string there)."""

    conid: int | None = None
    company_header: str | None = None
    company_name: str | None = None
    symbol: str | None = None
    description: str | None = None
    restricted: Any = None
    fop: str | None = None
    opt: str | None = None
    war: str | None = None
    sections: list[SearchSection] = field(factory=list)
    issuers: list[Issuer] = field(factory=list)
    bondid: int | None = None


@define(frozen=True, kw_only=True)
class SecdefInfo:
    """One element of ``/iserver/secdef/info`` (an array; several expiries per month)."""

    conid: int | None = None
    symbol: str | None = None
    sec_type: str | None = None
    exchange: str | None = None
    listing_exchange: str | None = None
    right: str | None = None
    strike: float | None = None
    currency: str | None = None
    cusip: str | None = None
    coupon: str | None = None
    desc1: str | None = None
    desc2: str | None = None
    maturity_date: str | None = None
    multiplier: float | None = None
    trading_class: str | None = None
    valid_exchanges: str | None = None


@define(frozen=True, kw_only=True)
class Strikes:
    call: list[float] = field(factory=list)
    put: list[float] = field(factory=list)


@define(frozen=True, kw_only=True)
class StockContract:
    conid: int
    exchange: str | None = None
    is_us: bool | None = None


@define(frozen=True, kw_only=True)
class StockInstrument:
    """One issuer group of ``/trsrv/stocks``."""

    name: str | None = None
    chinese_name: str | None = None
    asset_class: str | None = None
    contracts: list[StockContract] = field(factory=list)


@define(frozen=True, kw_only=True)
class FutureContract:
    """One element of ``/trsrv/futures`` (dates as ``YYYYMMDD`` ints on the wire)."""

    symbol: str | None = None
    conid: int | None = None
    underlying_conid: int | None = None
    expiration_date: dt.date | None = None
    ltd: dt.date | None = None
    short_futures_cut_off: dt.date | None = None
    long_futures_cut_off: dt.date | None = None


@define(frozen=True, kw_only=True)
class CurrencyPair:
    symbol: str | None = None
    conid: int | None = None
    ccy_pair: str | None = None


@define(frozen=True, kw_only=True)
class BondFilterOption:
    value: str | None = None
    text: str | None = None


@define(frozen=True, kw_only=True)
class BondFilter:
    display_text: str | None = None
    column_id: int | None = None
    options: list[BondFilterOption] = field(factory=list)
