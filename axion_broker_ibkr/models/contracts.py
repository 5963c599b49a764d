"""Contract models: the resolved :class:`IBKRContract` and the security-definition answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from attrs import define, field

#: The contract-rule keys a resolved contract carries (``/iserver/contract/rules``, REFERENCE §3.1),
#: as :meth:`IBKRContract.to_host` writes them and the translator reads them.
RULE_KEYS: tuple[str, ...] = (
    "increment_rules",
    "sell_increment_rules",
    "size_increment",
    "default_size",
    "order_types",
    "order_types_outside",
    "tif_types",
    "rules_source",
)


def _increments(value: Any) -> tuple[IncrementRule, ...]:
    """``[{lower_edge|lowerEdge, increment}]`` / ``IncrementRule`` / ``(edge, increment)`` -> bands."""
    if not value:
        return ()
    out: list[IncrementRule] = []
    for entry in value:
        if isinstance(entry, IncrementRule):
            out.append(entry)
        elif isinstance(entry, dict):
            edge = entry.get("lower_edge", entry.get("lowerEdge"))
            out.append(IncrementRule(lower_edge=float(edge or 0.0), increment=float(entry["increment"])))
        else:
            edge, increment = entry
            out.append(IncrementRule(lower_edge=float(edge), increment=float(increment)))
    return tuple(out)


def _words(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)


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
    cusip: str | None = None  # bonds: IBKR's ``cusip`` (an ISIN for non-US bonds), when it answers one
    tick_size: float | None = None
    # The contract's own rules (``/iserver/contract/rules``), when IBKR answered them: the price
    # grid of a buy (and of a sell when IBKR answers another one), the size increment, the order
    # types (IBKR's words: ``limit``, ``stop_limit`` ...), those that may fill outside regular
    # hours, and the TIFs (``"IOC/MARKET,LIMIT,..."``). ``rules_source`` says where they came from
    # (``"ibkr"``); ``None`` means the translator uses its static table (``orders/rules.py``).
    increment_rules: tuple[IncrementRule, ...] = field(default=(), converter=_increments)
    sell_increment_rules: tuple[IncrementRule, ...] = field(default=(), converter=_increments)
    size_increment: float | None = None
    default_size: float | None = None
    order_types: tuple[str, ...] | None = field(default=None, converter=_words)
    order_types_outside: tuple[str, ...] | None = field(default=None, converter=_words)
    tif_types: tuple[str, ...] | None = field(default=None, converter=_words)
    rules_source: str | None = None

    def to_host(self) -> dict[str, Any]:
        """The contract dict of HOST_CONTRACT §2 (plus a few extra keys): every field, by name.

        Increment rules are written as ``[{"lower_edge": .., "increment": ..}]`` and word lists
        as lists (plain JSON); ``IBKRContract(**contract.to_host())`` is the same contract."""
        out = attrs.asdict(self, recurse=False)
        for key in ("increment_rules", "sell_increment_rules"):
            out[key] = [{"lower_edge": r.lower_edge, "increment": r.increment} for r in out[key]]
        for key in ("order_types", "order_types_outside", "tif_types"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    def with_rules(self, buy: ContractRules | None, sell: ContractRules | None = None) -> IBKRContract:
        """This contract carrying IBKR's rules for a buy (and a sell); unchanged without any."""
        first = buy or sell
        if first is None:
            return self
        buy_grid = _increments(first.increment_rules)
        if not buy_grid and first.increment:
            buy_grid = (IncrementRule(lower_edge=0.0, increment=first.increment),)
        sell_grid: tuple[IncrementRule, ...] = ()
        if sell is not None and buy is not None:
            sell_grid = _increments(sell.increment_rules)
            if sell_grid == buy_grid:
                sell_grid = ()
        tick = self.tick_size
        if tick is None and len(buy_grid) == 1:
            tick = buy_grid[0].increment
        return attrs.evolve(
            self,
            increment_rules=buy_grid,
            sell_increment_rules=sell_grid,
            size_increment=first.size_increment,
            default_size=first.default_size,
            order_types=first.order_types or None,
            order_types_outside=first.order_types_outside if first.order_types else None,
            tif_types=first.tif_types or None,
            tick_size=tick,
            rules_source="ibkr",
        )


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
