"""Account and portfolio models: accounts, summary, ledger, positions, P&L."""

from __future__ import annotations

from typing import Any

from attrs import define, field

from .session import ServerInfo


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


def _no_multiplier(value: float | None) -> float | None:
    """IBKR writes "no multiplier" (a stock) as ``null`` (its documented example) or ``0.0`` (the
    secdef form, ibind's recorded response): both read as ``None``."""
    return None if value == 0 else value


@define(frozen=True, kw_only=True)
class Position:
    """One row of ``GET /portfolio/{acct}/positions/{page}``.

    ``strike`` comes as a number (IBKR's documented example) or as text (``"0"``, ``"217.5"``: the
    secdef form real gateways send once security definitions are cached, as ibind's recorded
    response shows); both read as a float. ``multiplier`` is ``None`` for contracts without one.
    """

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
    multiplier: float | None = field(default=None, converter=_no_multiplier)
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
class CashBalance:
    """One ``cashBalances`` entry of the brokerage summary; the base-currency aggregate's
    ``currency`` reads ``"Total (in USD)"``."""

    currency: str | None = None
    balance: float | None = None
    settled_cash: float | None = None


@define(frozen=True, kw_only=True)
class BrokerageSummary:
    """``GET /iserver/account/{acct}/summary``: the brokerage side's at-a-glance account figures
    (IBKR's OpenAPI model; money in the account's base currency)."""

    account_type: str | None = None
    status: str | None = None
    balance: float | None = None
    sma: float | None = None
    buying_power: float | None = None
    available_funds: float | None = None
    excess_liquidity: float | None = None
    net_liquidation_value: float | None = None
    equity_with_loan_value: float | None = None
    reg_t_loan: float | None = None
    securities_gvp: float | None = None
    total_cash_value: float | None = None
    accrued_interest: float | None = None
    reg_t_margin: float | None = None
    initial_margin: float | None = None
    maintenance_margin: float | None = None
    cash_balances: list[CashBalance] = field(factory=list)


#: ``GET /iserver/account/{acct}/summary/{section}``: segment (``total``, ``securities``,
#: ``commodities``, ``Crypto at Paxos``; for ``market_value`` a currency or ``Total (in USD)``) ->
#: IBKR's label -> IBKR's display text (``"1,112,961 USD"``, ``"Unlimited"``), kept as sent; read a
#: money text with :func:`axion_broker_ibkr.wire.convert.summary_amount`.
SummarySection = dict[str, dict[str, str]]


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
