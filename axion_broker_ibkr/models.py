"""Typed models of the Client Portal Web API, with Python names.

The models know nothing of IBKR's wire names (camelCase, snake_case, ``cOID``, ``conidex`` ...):
those live in the rename tables of :mod:`axion_broker_ibkr.convert`, which is the only place that
turns JSON into these classes and back. Every received field is optional: a field IBKR did not
send is ``None``, never ``0``. Numbers that IBKR sends as display strings (``"1,300"``,
``"C168.42"``, ``"1.2M"``) are parsed by the converter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from attrs import define, field

# --------------------------------------------------------------------------------------------
# Session


@define(frozen=True, kw_only=True)
class ServerInfo:
    server_name: str | None = None
    server_version: str | None = None


@define(frozen=True, kw_only=True)
class AuthStatus:
    """``POST /iserver/auth/status`` (also ``ssodh/init``, ``tickle.iserver.authStatus``, ws ``sts``)."""

    authenticated: bool | None = None
    connected: bool | None = None
    competing: bool | None = None
    message: str | None = None
    # Real payloads carry ``fail`` at top level; the OpenAPI puts it under serverInfo [conflict]:
    # the converter reads both and prefers the top level.
    fail: str | None = None
    mac: str | None = None
    hardware_info: str | None = None
    server_info: ServerInfo | None = None


@define(frozen=True, kw_only=True)
class TickleIServer:
    auth_status: AuthStatus | None = None
    tickle: bool | None = None


@define(frozen=True, kw_only=True)
class Tickle:
    """``POST /tickle``. ``session`` authenticates the WebSocket; treat it as a secret."""

    session: str | None = None
    sso_expires: int | None = None
    collission: bool | None = None  # sic, IBKR's spelling
    user_id: int | None = None
    hmds: dict[str, Any] | None = None
    iserver: TickleIServer | None = None


@define(frozen=True, kw_only=True)
class GatewayStatus:
    """What :class:`~axion_broker_ibkr.gateway.IBKRGateway` reports about the gateway.

    ``mode`` says whether this is a real gateway or the embedded simulator; it is on every status.
    """

    mode: str
    url: str
    connected: bool = False
    authenticated: bool = False
    competing: bool = False
    reachable: bool = False
    sso_session: bool = False
    message: str = ""
    fail: str = ""
    server_name: str | None = None
    server_version: str | None = None
    selected_account: str | None = None
    last_checked: dt.datetime | None = None
    last_tickle: dt.datetime | None = None
    reauthentications: int = 0
    login_url: str | None = None

    @property
    def healthy(self) -> bool:
        return self.reachable and self.connected and self.authenticated and not self.competing


# --------------------------------------------------------------------------------------------
# Accounts and portfolio


@define(frozen=True, kw_only=True)
class AccountProps:
    has_child_accounts: bool | None = None
    supports_cash_qty: bool | None = None
    no_fx_conv: bool | None = None
    is_prop: bool | None = None
    supports_fractions: bool | None = None
    allow_customer_time: bool | None = None


@define(frozen=True, kw_only=True)
class IServerAccounts:
    """``GET /iserver/accounts``."""

    accounts: list[str] = field(factory=list)
    acct_props: dict[str, AccountProps] = field(factory=dict)
    aliases: dict[str, str] = field(factory=dict)
    allow_features: dict[str, Any] = field(factory=dict)
    chart_periods: dict[str, list[str]] = field(factory=dict)
    groups: list[Any] = field(factory=list)
    profiles: list[Any] = field(factory=list)
    selected_account: str | None = None
    server_info: ServerInfo | None = None
    session_id: str | None = None
    is_ft: bool | None = None
    is_paper: bool | None = None


@define(frozen=True, kw_only=True)
class AccountParent:
    mmc: list[Any] = field(factory=list)
    account_id: str | None = None
    is_m_parent: bool | None = None
    is_m_child: bool | None = None
    is_multiplex: bool | None = None


@define(frozen=True, kw_only=True)
class Account:
    """One element of ``GET /portfolio/accounts``."""

    id: str | None = None
    account_id: str | None = None
    account_van: str | None = None
    account_title: str | None = None
    display_name: str | None = None
    account_alias: str | None = None
    account_status: int | None = None
    currency: str | None = None
    type: str | None = None
    trading_type: str | None = None
    business_type: str | None = None
    ib_entity: str | None = None
    faclient: bool | None = None
    clearing_status: str | None = None
    covestor: bool | None = None
    no_client_trading: bool | None = None
    track_virtual_fx_portfolio: bool | None = None
    brokerage_access: bool | None = None
    parent: AccountParent | None = None
    desc: str | None = None

    @property
    def is_paper(self) -> bool:
        acct = (self.account_id or self.id or "").upper()
        return self.type == "DEMO" or acct.startswith(("DU", "DF"))


@define(frozen=True, kw_only=True)
class SummaryValue:
    """One value of ``GET /portfolio/{acct}/summary``: money in ``amount``, text in ``value``."""

    amount: float | None = None
    currency: str | None = None
    is_null: bool | None = None
    timestamp: int | None = None
    value: str | None = None
    severity: int | None = None


@define(frozen=True, kw_only=True)
class LedgerEntry:
    """One currency of ``GET /portfolio/{acct}/ledger`` (``BASE`` is the base-currency total)."""

    currency: str | None = None
    secondkey: str | None = None
    acctcode: str | None = None
    cashbalance: float | None = None
    settledcash: float | None = None
    exchangerate: float | None = None
    netliquidationvalue: float | None = None
    stockmarketvalue: float | None = None
    stockoptionmarketvalue: float | None = None
    futuremarketvalue: float | None = None
    futureoptionmarketvalue: float | None = None
    futuresonlypnl: float | None = None
    commoditymarketvalue: float | None = None
    corporatebondsmarketvalue: float | None = None
    tbondsmarketvalue: float | None = None
    tbillsmarketvalue: float | None = None
    warrantsmarketvalue: float | None = None
    issueroptionsmarketvalue: float | None = None
    cryptocurrencyvalue: float | None = None
    moneyfunds: float | None = None
    cashbalancefxsegment: float | None = None
    interest: float | None = None
    dividends: float | None = None
    funds: float | None = None
    unrealizedpnl: float | None = None
    realizedpnl: float | None = None
    sessionid: int | None = None
    severity: int | None = None
    timestamp: int | None = None
    key: str | None = None
    endofbundle: int | None = None


@define(frozen=True, kw_only=True)
class Position:
    """One row of ``GET /portfolio/{acct}/positions/{page}``."""

    account_id: str | None = None
    conid: int | None = None
    contract_desc: str | None = None
    position: float | None = None
    mkt_price: float | None = None
    mkt_value: float | None = None
    currency: str | None = None
    avg_cost: float | None = None
    avg_price: float | None = None
    realized_pnl: float | None = None
    unrealized_pnl: float | None = None
    exchs: Any = None
    expiry: str | None = None
    put_or_call: str | None = None
    multiplier: float | None = None
    strike: float | None = None
    exercise_style: str | None = None
    con_exch_map: list[Any] | None = None
    asset_class: str | None = None
    und_conid: int | None = None
    model: str | None = None
    ticker: str | None = None
    name: str | None = None
    listing_exchange: str | None = None
    country_code: str | None = None


@define(frozen=True, kw_only=True)
class PnLRow:
    """One row of ``GET /iserver/account/pnl/partitioned`` (key ``<acct>.Core``) or ws ``spl``."""

    row_type: int | None = None
    dpl: float | None = None
    nl: float | None = None
    upl: float | None = None
    el: float | None = None
    uel: float | None = None
    mv: float | None = None


# --------------------------------------------------------------------------------------------
# Orders: answers and monitoring


@define(frozen=True, kw_only=True)
class OrderAck:
    """An accepted order: ``[{"order_id": "123", "order_status": "Submitted", ...}]``."""

    order_id: str | None = None
    order_status: str | None = None
    encrypt_message: str | None = None
    parent_order_id: str | None = None
    local_order_id: str | None = None


@define(frozen=True, kw_only=True)
class OrderQuestion:
    """An order reply message (question) that must be confirmed or refused."""

    id: str
    message: list[str] = field(factory=list)
    message_ids: list[str] = field(factory=list)
    is_suppressed: bool | None = None


@define(frozen=True, kw_only=True)
class OrderReject:
    """HTTP 200 with ``{"error": ...}``: a business rejection."""

    error: str


OrderReply = list[OrderAck] | list[OrderQuestion] | OrderReject


@define(frozen=True, kw_only=True)
class CancelAck:
    """``DELETE /iserver/account/{acct}/order/{id}``: an acknowledgement, not a final state."""

    msg: str | None = None
    order_id: int | None = None
    conid: int | None = None
    account: str | None = None


@define(frozen=True, kw_only=True)
class WhatIfAmount:
    amount: str | None = None
    commission: str | None = None
    total: str | None = None


@define(frozen=True, kw_only=True)
class WhatIfChange:
    current: str | None = None
    change: str | None = None
    after: str | None = None


@define(frozen=True, kw_only=True)
class WhatIf:
    """``POST .../orders/whatif``: values are IBKR's formatted text; see the ``*_value`` helpers."""

    amount: WhatIfAmount | None = None
    equity: WhatIfChange | None = None
    initial: WhatIfChange | None = None
    maintenance: WhatIfChange | None = None
    position: WhatIfChange | None = None
    warn: str | None = None
    error: str | None = None


@define(frozen=True, kw_only=True)
class Order:
    """A live order (``/iserver/account/orders`` row, or a merged ws ``sor`` state).

    ``price`` and ``avg_price`` arrive as strings and are parsed; ``client_order_id`` is IBKR's
    ``order_ref`` (our ``cOID``).
    """

    order_id: int | None = None
    account: str | None = None
    acct: str | None = None
    conid: int | None = None
    conidex: str | None = None
    cash_ccy: str | None = None
    size_and_fills: str | None = None
    order_desc: str | None = None
    description1: str | None = None
    description2: str | None = None
    ticker: str | None = None
    sec_type: str | None = None
    listing_exchange: str | None = None
    exchange: str | None = None
    remaining_quantity: float | None = None
    filled_quantity: float | None = None
    total_size: float | None = None
    total_cash_size: float | None = None
    company_name: str | None = None
    status: str | None = None
    order_ccp_status: str | None = None
    orig_order_type: str | None = None
    order_type: str | None = None
    supports_tax_opt: str | None = None
    last_execution_time: str | None = None
    last_execution_time_r: int | None = None
    price: float | None = None
    aux_price: float | None = None
    avg_price: float | None = None
    client_order_id: str | None = None
    time_in_force: str | None = None
    side: str | None = None
    outside_rth: bool | None = None
    parent_id: int | None = None
    bg_color: str | None = None
    fg_color: str | None = None


@define(frozen=True, kw_only=True)
class LiveOrders:
    orders: list[Order] = field(factory=list)
    snapshot: bool | None = None


@define(frozen=True, kw_only=True)
class OrderStatus:
    """``GET /iserver/account/order/status/{id}`` (snake_case on the wire)."""

    order_id: int | None = None
    conid: int | None = None
    conidex: str | None = None
    symbol: str | None = None
    side: str | None = None
    account: str | None = None
    order_type: str | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    size: float | None = None
    total_size: float | None = None
    cum_fill: float | None = None
    average_price: float | None = None
    currency: str | None = None
    order_status: str | None = None
    order_ccp_status: str | None = None
    order_status_description: str | None = None
    tif: str | None = None
    sec_type: str | None = None
    listing_exchange: str | None = None
    company_name: str | None = None
    contract_description_1: str | None = None
    order_description: str | None = None
    order_description_with_contract: str | None = None
    order_not_editable: bool | None = None
    cannot_cancel_order: bool | None = None
    deactivate_order: bool | None = None
    editable_fields: str | None = None
    child_order_type: str | None = None
    size_and_fills: str | None = None
    order_time: str | None = None
    outside_rth: bool | None = None
    request_id: str | None = None
    server_id: str | None = None
    sub_type: str | None = None


@define(frozen=True, kw_only=True)
class Trade:
    """One execution (``/iserver/account/trades`` row or ws ``str`` item)."""

    execution_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_description: str | None = None
    trade_time: str | None = None
    trade_time_r: int | None = None
    size: float | None = None
    price: float | None = None
    client_order_id: str | None = None
    order_id: int | None = None
    submitter: str | None = None
    exchange: str | None = None
    commission: float | None = None
    net_amount: float | None = None
    account: str | None = None
    account_code: str | None = None
    company_name: str | None = None
    contract_description_1: str | None = None
    contract_description_2: str | None = None
    sec_type: str | None = None
    listing_exchange: str | None = None
    conid: int | None = None
    conidex: str | None = None
    open_close: str | None = None
    liquidation_trade: str | None = None


@define(frozen=True, kw_only=True, repr=False)
class OrderResult:
    """What place/modify returns: the host's vocabulary in ``status``, IBKR's in ``ibkr_status``.

    ``transcript`` is the question/answer exchange (for the order log); ``mode`` says whether the
    order went to a real gateway or the simulator. The account id is kept whole here and masked
    in ``repr`` (and therefore in logs).
    """

    order_id: str | None
    client_order_id: str
    status: str
    mode: str
    account_id: str
    ibkr_status: str | None = None
    fill_price: float | None = None
    fill_qty: float = 0.0
    fee: float | None = None
    message: str = ""
    transcript: list[dict[str, Any]] = field(factory=list)

    def __repr__(self) -> str:
        from .masking import mask_account

        return (
            f"OrderResult(order_id={self.order_id!r}, client_order_id={self.client_order_id!r}, "
            f"status={self.status!r}, ibkr_status={self.ibkr_status!r}, mode={self.mode!r}, "
            f"account_id={mask_account(self.account_id)!r}, fill_qty={self.fill_qty!r}, "
            f"fill_price={self.fill_price!r}, message={self.message!r})"
        )

    def to_host(self) -> dict[str, Any]:
        """The order-result dict of HOST_CONTRACT §4 (plus ``mode``, ``ibkr_status``, ``transcript``)."""
        return {
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "status": self.status,
            "fill_price": self.fill_price,
            "fill_qty": self.fill_qty,
            "fee": self.fee,
            "message": self.message,
            "ibkr_status": self.ibkr_status,
            "mode": self.mode,
            "account_id": self.account_id,
            "transcript": list(self.transcript),
        }


# --------------------------------------------------------------------------------------------
# Market data


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


# --------------------------------------------------------------------------------------------
# Contracts


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
