"""View-models of the Account tab: client models -> table rows and chart data (pure, no Streamlit).

Every function takes the models the client returns and gives plain rows (``list[dict]``) that the
page hands to ``st.dataframe`` / ``st.bar_chart``. A value IBKR did not send stays ``None`` (shown
as empty), never ``0``; account ids are masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import define

from ..masking import mask_account
from ..models import LedgerEntry, PnLRow, Position, SummaryValue
from ..naming import describe_row

Row = dict[str, Any]

#: IBKR asset classes -> the words a trader reads on the page.
ASSET_CLASS_LABELS: dict[str, str] = {
    "STK": "Stock",
    "OPT": "Option",
    "CASH": "Forex",
    "FUT": "Future",
    "FOP": "Future option",
    "BOND": "Bond",
    "WAR": "Warrant",
    "IND": "Index",
    "FUND": "Fund",
    "CFD": "CFD",
    "CRYPTO": "Crypto",
}

#: Summary keys shown as headline metrics, in order: (summary key, label).
HEADLINE_METRICS: tuple[tuple[str, str], ...] = (
    ("netliquidation", "Net liquidation"),
    ("buyingpower", "Buying power"),
    ("availablefunds", "Available funds"),
    ("excessliquidity", "Excess liquidity"),
    ("totalcashvalue", "Total cash"),
    ("grosspositionvalue", "Gross position value"),
    ("initmarginreq", "Initial margin"),
    ("maintmarginreq", "Maintenance margin"),
)


@define(frozen=True, kw_only=True)
class Metric:
    """One headline figure: ``value`` is ``None`` when IBKR did not send it."""

    key: str
    label: str
    value: float | None
    currency: str | None

    @property
    def text(self) -> str:
        return format_money(self.value, self.currency)


def format_money(value: float | None, currency: str | None = None) -> str:
    """``1234567.891, "USD"`` -> ``"1,234,567.89 USD"``; ``None`` -> ``"—"`` (not sent, not zero)."""
    if value is None:
        return "—"
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def asset_class_label(asset_class: str | None) -> str:
    if not asset_class:
        return "Unknown"
    return ASSET_CLASS_LABELS.get(asset_class.upper(), asset_class.upper())


def headline_metrics(summary: Mapping[str, SummaryValue], base_currency: str | None = None) -> list[Metric]:
    """The account summary's headline figures, in :data:`HEADLINE_METRICS` order.

    A key the summary lacks (or marks ``is_null``) gives a metric with ``value=None``.
    """
    metrics: list[Metric] = []
    for key, label in HEADLINE_METRICS:
        item = summary.get(key)
        value = None if item is None or item.is_null else item.amount
        currency = (item.currency if item is not None else None) or base_currency
        metrics.append(Metric(key=key, label=label, value=value, currency=currency))
    return metrics


def cash_rows(ledger: Mapping[str, LedgerEntry]) -> list[Row]:
    """One row per currency of the ledger (``BASE`` last), with the rate into base and the
    cash converted into base currency when IBKR sent both numbers."""
    rows: list[Row] = []
    keys = sorted((k for k in ledger if k.upper() != "BASE"), key=str.upper)
    keys += [k for k in ledger if k.upper() == "BASE"]
    for key in keys:
        entry = ledger[key]
        is_base = key.upper() == "BASE"
        rate = 1.0 if is_base else entry.exchangerate
        cash = entry.cashbalance
        in_base = cash * rate if cash is not None and rate is not None else None
        rows.append(
            {
                "Currency": "Total (base)" if is_base else (entry.currency or key),
                "Cash": cash,
                "Settled cash": entry.settledcash,
                "Rate to base": rate,
                "Cash in base": in_base,
                "Net liquidation": entry.netliquidationvalue,
                "Unrealized P&L": entry.unrealizedpnl,
                "Realized P&L": entry.realizedpnl,
            }
        )
    return rows


def _position_symbol(pos: Position, cusips: Mapping[int, str] | None = None) -> str:
    """The contract in full: ``AAPL 2026-12-04 190 C``, ``ES Dec 2026``, ``IBM 3.3% 2029-05-15
    (459200JZ5)`` (``cusips``: conid -> a bond's CUSIP from IBKR's contract info; position rows
    carry none)."""
    symbol = pos.ticker or (pos.contract_desc or "").split(" ")[0] or pos.name
    if not symbol:
        return str(pos.conid) if pos.conid is not None else "?"
    return describe_row(
        pos.asset_class,
        symbol,
        pos.contract_desc,
        expiry=pos.expiry,
        right=pos.put_or_call,
        strike=pos.strike,
        multiplier=pos.multiplier,
        currency=pos.currency,
        cusip=(cusips or {}).get(pos.conid) if pos.conid is not None else None,
    )


def _position_description(pos: Position) -> str:
    """What the contract is, not its symbol again: the issuer / company / product name IBKR gives
    (``APPLE INC``, ``E-mini S&P 500``), else IBKR's contract text when it says more than the symbol."""
    symbol = pos.ticker or ""
    for text in (pos.name, pos.contract_desc):
        if text and text.strip() and text.strip() != symbol:
            return text.strip()
    return ""


def position_rows(positions: Iterable[Position], cusips: Mapping[int, str] | None = None) -> list[Row]:
    """Positions across asset classes, biggest absolute market value first (``cusips``: conid ->
    CUSIP of the bonds, for their names)."""
    rows: list[Row] = []
    for pos in positions:
        rows.append(
            {
                "Symbol": _position_symbol(pos, cusips),
                "Description": _position_description(pos),
                "Asset": asset_class_label(pos.asset_class),
                "Quantity": pos.position,
                "Price": pos.mkt_price,
                "Market value": pos.mkt_value,
                "Avg cost": pos.avg_cost,
                "Unrealized P&L": pos.unrealized_pnl,
                "Realized P&L": pos.realized_pnl,
                "Currency": pos.currency or "",
                "Account": mask_account(pos.account_id),
                "conid": pos.conid,
            }
        )
    rows.sort(key=lambda r: abs(r["Market value"] or 0.0), reverse=True)
    return rows


def asset_class_totals(positions: Iterable[Position]) -> list[Row]:
    """Market value and unrealized P&L per asset class and currency (no FX conversion here:
    positions are in their own currency, so each currency gets its own row)."""
    totals: dict[tuple[str, str], Row] = {}
    for pos in positions:
        key = (asset_class_label(pos.asset_class), pos.currency or "")
        row = totals.setdefault(
            key,
            {"Asset": key[0], "Currency": key[1], "Positions": 0, "Market value": 0.0, "Unrealized P&L": 0.0},
        )
        row["Positions"] += 1
        row["Market value"] += pos.mkt_value or 0.0
        row["Unrealized P&L"] += pos.unrealized_pnl or 0.0
    return sorted(totals.values(), key=lambda r: (r["Asset"], r["Currency"]))


def pnl_chart_rows(positions: Iterable[Position], cusips: Mapping[int, str] | None = None) -> list[Row]:
    """Unrealized P&L per position for the bar chart (positions without a P&L figure are left out)."""
    with_pnl = sorted(
        (p for p in positions if p.unrealized_pnl is not None), key=lambda p: p.unrealized_pnl or 0.0
    )
    rows = [
        {
            "Position": _position_symbol(p, cusips),
            "Asset": asset_class_label(p.asset_class),
            "P&L": p.unrealized_pnl,
        }
        for p in with_pnl
    ]
    return rows


def pnl_partition_rows(pnl: Mapping[str, PnLRow]) -> list[Row]:
    """``/iserver/account/pnl/partitioned`` rows (key ``<acct>.Core``) with the account masked."""
    rows: list[Row] = []
    for key, row in sorted(pnl.items()):
        account, _, part = key.partition(".")
        rows.append(
            {
                "Account": mask_account(account),
                "Model": part or "Core",
                "Daily P&L": row.dpl,
                "Unrealized P&L": row.upl,
                "Net liquidation": row.nl,
                "Excess liquidity": row.el,
                "Margin value": row.mv,
            }
        )
    return rows
