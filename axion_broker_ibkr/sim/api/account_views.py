"""The gateway's views of a paper account: ``/portfolio/{acct}/ledger``, ``/summary``, the brokerage
summary and its sections, the partitioned P&L row (JSON answers; the accounts are ``sim.engine``)."""

from __future__ import annotations

from typing import Any

from ..engine.paper_accounts import BASE_CURRENCY, Account, margin, position_value
from ..engine.paper_market import Market

#: Ledger key that holds the market value of each security type.
MARKET_VALUE_KEY = {
    "STK": "stockmarketvalue",
    "OPT": "stockoptionmarketvalue",
    "FUT": "futuremarketvalue",
    "BOND": "corporatebondsmarketvalue",
}


def ledger(account: Account, market: Market, now_s: int) -> dict[str, dict[str, Any]]:
    """``/portfolio/{acct}/ledger``: one entry per currency plus ``BASE`` (all in base currency)."""
    currencies = set(account.cash) | {BASE_CURRENCY}
    per: dict[str, dict[str, float]] = {}
    for conid in account.positions:
        currencies.add(market.universe.by_conid[conid].currency)
    for ccy in currencies:
        per[ccy] = {
            k: 0.0
            for k in (
                *MARKET_VALUE_KEY.values(),
                "tbondsmarketvalue",
                "tbillsmarketvalue",
                "unrealizedpnl",
                "futuresonlypnl",
            )
        }
    for conid, pos in account.positions.items():
        inst = market.universe.by_conid[conid]
        value, upnl = position_value(market, inst, pos)
        key = MARKET_VALUE_KEY.get(inst.sec_type, "stockmarketvalue")
        if inst.sec_type == "BOND" and inst.extra.get("kind") == "tbond":
            key = "tbondsmarketvalue"
        elif inst.sec_type == "BOND" and inst.extra.get("kind") == "tbill":
            key = "tbillsmarketvalue"
        per[inst.currency][key] += value
        per[inst.currency]["unrealizedpnl"] += upnl
        if inst.sec_type == "FUT":
            per[inst.currency]["futuresonlypnl"] += upnl
    entries: dict[str, dict[str, Any]] = {}
    totals: dict[str, float] = {}
    for ccy in sorted(currencies):
        rate = market.fx_rate(ccy, BASE_CURRENCY)
        cash = account.cash.get(ccy, 0.0)
        values = per[ccy]
        nlv = cash + sum(
            values[k] for k in (*MARKET_VALUE_KEY.values(), "tbondsmarketvalue", "tbillsmarketvalue")
        )
        entry = _ledger_entry(
            account.account_id, ccy, rate, cash, nlv, values, account.realized.get(ccy, 0.0), now_s
        )
        entries[ccy] = entry
        for key, value in entry.items():
            if isinstance(value, float) and key != "exchangerate":
                totals[key] = totals.get(key, 0.0) + value * rate
    base = _ledger_entry(
        account.account_id,
        "BASE",
        1.0,
        totals.get("cashbalance", 0.0),
        totals.get("netliquidationvalue", 0.0),
        totals,
        totals.get("realizedpnl", 0.0),
        now_s,
    )
    entries["BASE"] = base
    entries[BASE_CURRENCY]["endofbundle"] = 1
    return entries


def _ledger_entry(
    acct: str,
    ccy: str,
    rate: float,
    cash: float,
    nlv: float,
    values: dict[str, float],
    realized: float,
    now_s: int,
) -> dict[str, Any]:
    def v(key: str) -> float:
        return round(values.get(key, 0.0), 2)

    return {
        "commoditymarketvalue": 0.0,
        "futuremarketvalue": v("futuremarketvalue"),
        "settledcash": round(cash, 2),
        "exchangerate": rate if ccy != "BASE" and ccy != BASE_CURRENCY else 1,
        "sessionid": 1,
        "cashbalance": round(cash, 2),
        "corporatebondsmarketvalue": v("corporatebondsmarketvalue"),
        "warrantsmarketvalue": 0.0,
        "netliquidationvalue": round(nlv, 2),
        "interest": 0.0,
        "unrealizedpnl": v("unrealizedpnl"),
        "stockmarketvalue": v("stockmarketvalue"),
        "moneyfunds": 0.0,
        "currency": ccy,
        "realizedpnl": round(realized, 2),
        "funds": 0.0,
        "acctcode": acct,
        "issueroptionsmarketvalue": 0.0,
        "key": "LedgerList",
        "timestamp": now_s,
        "severity": 0,
        "stockoptionmarketvalue": v("stockoptionmarketvalue"),
        "futuresonlypnl": v("futuresonlypnl"),
        "tbondsmarketvalue": v("tbondsmarketvalue"),
        "futureoptionmarketvalue": 0.0,
        "cashbalancefxsegment": 0.0,
        "secondkey": ccy,
        "tbillsmarketvalue": v("tbillsmarketvalue"),
        "dividends": 0.0,
    }


def summary(account: Account, market: Market, now_ms: int) -> dict[str, dict[str, Any]]:
    """``/portfolio/{acct}/summary``: lower-case keys in total, ``-c`` and ``-s`` variants."""
    led = ledger(account, market, now_ms // 1000)["BASE"]
    init, maint = margin(account, market)
    nlv = led["netliquidationvalue"]
    gross = sum(
        abs(market.last(c) * p.quantity * market.universe.by_conid[c].multiplier)
        * market.fx_rate(market.universe.by_conid[c].currency)
        for c, p in account.positions.items()
    )
    excess = nlv - maint
    available = nlv - init
    money = {
        "netliquidation": nlv,
        "totalcashvalue": led["cashbalance"],
        "settledcash": led["settledcash"],
        "grosspositionvalue": gross,
        "equitywithloanvalue": nlv,
        "previousdayequitywithloanvalue": account.start_nlv,
        "regtequity": nlv,
        "regtmargin": init,
        "sma": max(0.0, available),
        "initmarginreq": init,
        "maintmarginreq": maint,
        "fullinitmarginreq": init,
        "fullmaintmarginreq": maint,
        "availablefunds": available,
        "fullavailablefunds": available,
        "availabletotrade": available,
        "availabletowithdraw": available,
        "excessliquidity": excess,
        "fullexcessliquidity": excess,
        "lookaheadavailablefunds": available,
        "lookaheadexcessliquidity": excess,
        "lookaheadinitmarginreq": init,
        "lookaheadmaintmarginreq": maint,
        "buyingpower": max(0.0, available) * 4,
        "accruedcash": 0.0,
        "accrueddividend": 0.0,
        "leverage": gross / nlv if nlv else 0.0,
        "cushion": excess / nlv if nlv else 0.0,
        "daytradesremaining": -1.0,
    }
    out: dict[str, dict[str, Any]] = {}
    for key, amount in money.items():
        for suffix, share in (("", 1.0), ("-c", 0.0), ("-s", 1.0)):
            if key in {"leverage", "cushion", "daytradesremaining"} and suffix:
                continue
            out[key + suffix] = _summary_value(amount * share, BASE_CURRENCY, now_ms)
    for key, text in (
        ("accountcode", account.account_id),
        ("accounttype", "INDIVIDUAL"),
        ("accountready", "true"),
        ("tradingtype", "STKNOPT"),
        ("segmenttitle", None),
    ):
        out[key] = {
            "amount": 0.0,
            "currency": None,
            "isNull": text is None,
            "timestamp": now_ms,
            "value": text,
            "severity": 0,
        }
    return out


def _summary_value(amount: float, ccy: str, now_ms: int) -> dict[str, Any]:
    return {
        "amount": round(amount, 2),
        "currency": ccy,
        "isNull": False,
        "timestamp": now_ms,
        "value": None,
        "severity": 0,
    }


def pnl_row(account: Account, market: Market) -> dict[str, Any]:
    """One ``<acct>.Core`` row of ``/iserver/account/pnl/partitioned`` (and ws ``spl``)."""
    led = ledger(account, market, 0)["BASE"]
    init, maint = margin(account, market)
    nlv = float(led["netliquidationvalue"])
    return {
        "rowType": 1,
        "dpl": round(nlv - account.start_nlv, 2),
        "nl": round(nlv, 2),
        "upl": float(led["unrealizedpnl"]),
        "el": round(nlv - maint, 2),
        # REFERENCE §9 (gateway's spl sample and field list): ``uel`` is the unrounded excess
        # liquidity; it comes in both the REST rows and the ``spl`` frame (both use this row).
        "uel": nlv - maint,
        "mv": round(init, 2),
    }


# --------------------------------------------------------------------------------------------
# /iserver/account/{acct}/summary and its sub-paths (issue 16.6)
#
# REFERENCE §2 lists the paths (they exist in IBKR's OpenAPI) without their shapes. The field
# names of the summary follow IBKR's OpenAPI model (``accountType, status, balance, SMA,
# buyingPower, availableFunds, excessLiquidity, netLiquidationValue, equityWithLoanValue, regTLoan,
# securitiesGVP, totalCashValue, accruedInterest, regTMargin, initialMargin, maintenanceMargin,
# cashBalances[{currency, balance, settledCash}]``; the base aggregate's currency reads
# ``"Total (in USD)"``). The sub-paths answer segment -> label -> display text (``"1,112,961 USD"``)
# in the layout of IBKR's documented examples (as quoted with the clients generated from IBKR's
# OpenAPI): segments ``total``, ``Crypto at Paxos``, ``commodities``, ``securities`` with the labels
# of :data:`SECTION_LABELS`; ``market_value`` keyed by currency plus ``Total (in <base>)``. ibind #79
# reports the summary path answering 400 through OAuth at api.ibkr.com; the client surfaces that
# as an error.

SUMMARY_SEGMENTS = ("total", "Crypto at Paxos", "commodities", "securities")
SUMMARY_SECTIONS = ("available_funds", "balances", "margins", "market_value")


def _money(amount: float, ccy: str = BASE_CURRENCY) -> str:
    return f"{round(amount):,} {ccy}"


def _figures(account: Account, market: Market) -> dict[str, float]:
    led = ledger(account, market, 0)["BASE"]
    init, maint = margin(account, market)
    nlv = float(led["netliquidationvalue"])
    gross = sum(
        abs(market.last(c) * p.quantity * market.universe.by_conid[c].multiplier)
        * market.fx_rate(market.universe.by_conid[c].currency)
        for c, p in account.positions.items()
    )
    return {
        "nlv": nlv,
        "cash": float(led["cashbalance"]),
        "settled": float(led["settledcash"]),
        "init": init,
        "maint": maint,
        "gross": gross,
        "available": nlv - init,
        "excess": nlv - maint,
        "start": account.start_nlv,
    }


def brokerage_summary(account: Account, market: Market) -> dict[str, Any]:
    """``GET /iserver/account/{acct}/summary``."""
    f = _figures(account, market)
    entries = ledger(account, market, 0)
    balances = [
        {"currency": ccy, "balance": round(e["cashbalance"], 2), "settledCash": round(e["settledcash"], 2)}
        for ccy, e in sorted(entries.items())
        if ccy != "BASE"
    ]
    base = entries["BASE"]
    balances.append(
        {
            "currency": f"Total (in {BASE_CURRENCY})",
            "balance": round(base["cashbalance"], 2),
            "settledCash": round(base["settledcash"], 2),
        }
    )
    return {
        "accountType": "",
        "status": "",
        "balance": round(f["cash"], 2),
        "SMA": round(max(0.0, f["available"]), 2),
        "buyingPower": round(max(0.0, f["available"]) * 4, 2),
        "availableFunds": round(f["available"], 2),
        "excessLiquidity": round(f["excess"], 2),
        "netLiquidationValue": round(f["nlv"], 2),
        "equityWithLoanValue": round(f["nlv"], 2),
        "regTLoan": 0.0,
        "securitiesGVP": round(f["gross"], 2),
        "totalCashValue": round(f["cash"], 2),
        "accruedInterest": 0.0,
        "regTMargin": round(f["init"], 2),
        "initialMargin": round(f["init"], 2),
        "maintenanceMargin": round(f["maint"], 2),
        "cashBalances": balances,
    }


#: Section -> segment -> labels, in IBKR's documented layout (the total and securities segments carry
#: more labels than the commodities and crypto ones).
_AF_SEGMENT = (
    "current_available", "current_excess", "Prdctd Pst-xpry Excss", "Lk Ahd Avlbl Fnds",
    "Lk Ahd Excss Lqdty", "overnight_available", "overnight_excess",
)  # fmt: skip
_BAL_SEGMENT = ("net_liquidation", "equity_with_loan", "cash", "MTD Interest", "Pndng Dbt Crd Chrgs")
_BAL_SECURITIES = (
    "net_liquidation", "equity_with_loan", "Prvs Dy Eqty Wth Ln Vl", "Rg T Eqty Wth Ln Vl",
    "sec_gross_pos_val", "cash", "MTD Interest", "Pndng Dbt Crd Chrgs",
)  # fmt: skip
_MRG_SEGMENT = (
    "current_initial", "Prdctd Pst-xpry Mrgn @ Opn", "current_maint", "projected_liquidity_inital_margin",
    "Prjctd Lk Ahd Mntnnc Mrgn", "projected_overnight_initial_margin", "Prjctd Ovrnght Mntnnc Mrgn",
)  # fmt: skip
SECTION_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "available_funds": {
        "total": (
            *_AF_SEGMENT[:3], "SMA", *_AF_SEGMENT[3:], "buying_power", "leverage", "Lk Ahd Nxt Chng",
            "day_trades_left",
        ),
        "Crypto at Paxos": _AF_SEGMENT,
        "commodities": _AF_SEGMENT,
        "securities": (*_AF_SEGMENT[:3], "SMA", *_AF_SEGMENT[3:], "leverage"),
    },
    "balances": {
        "total": (*_BAL_SECURITIES[:1], "Nt Lqdtn Uncrtnty", *_BAL_SECURITIES[1:]),
        "Crypto at Paxos": _BAL_SEGMENT,
        "commodities": _BAL_SEGMENT,
        "securities": _BAL_SECURITIES,
    },
    "margins": {
        "total": ("RegT Margin", *_MRG_SEGMENT),
        "Crypto at Paxos": _MRG_SEGMENT,
        "commodities": _MRG_SEGMENT,
        "securities": ("RegT Margin", *_MRG_SEGMENT),
    },
}  # fmt: skip


#: The summary sections' labels that show one of :func:`_figures`, in money, by figure.
_SHOWN: dict[str, tuple[str, ...]] = {
    "available": ("current_available", "Lk Ahd Avlbl Fnds", "overnight_available"),
    "excess": ("current_excess", "Lk Ahd Excss Lqdty", "overnight_excess"),
    "nlv": ("net_liquidation", "equity_with_loan", "Rg T Eqty Wth Ln Vl"),
    "start": ("Prvs Dy Eqty Wth Ln Vl",),
    "gross": ("sec_gross_pos_val",),
    "cash": ("cash",),
    "init": (
        "RegT Margin", "current_initial", "projected_liquidity_inital_margin",
        "projected_overnight_initial_margin",
    ),
    "maint": ("current_maint", "Prjctd Lk Ahd Mntnnc Mrgn", "Prjctd Ovrnght Mntnnc Mrgn"),
}  # fmt: skip
#: ... and those the simulator does not model (projections, uncertainty, interest, pending charges): 0.
_NOT_MODELLED = (
    "Prdctd Pst-xpry Excss", "Nt Lqdtn Uncrtnty", "MTD Interest", "Pndng Dbt Crd Chrgs",
    "Prdctd Pst-xpry Mrgn @ Opn",
)  # fmt: skip


def brokerage_section(account: Account, market: Market, section: str) -> dict[str, dict[str, str]]:
    """``GET /iserver/account/{acct}/summary/{section}`` (one of :data:`SUMMARY_SECTIONS`)."""
    f = _figures(account, market)
    leverage = f"{f['gross'] / f['nlv']:.2f}" if f["nlv"] else "n/a"
    # Everything the simulator holds is a security: total = securities; commodities and crypto are 0.
    values = {label: _money(f[figure]) for figure, labels in _SHOWN.items() for label in labels}
    values.update(dict.fromkeys(_NOT_MODELLED, _money(0.0)))
    values.update(
        {
            "SMA": _money(max(0.0, f["available"])),
            "buying_power": _money(max(0.0, f["available"]) * 4),
            "leverage": leverage,
            "Lk Ahd Nxt Chng": "@ 16:00:00",
            "day_trades_left": "Unlimited",
        }
    )
    out: dict[str, dict[str, str]] = {}
    layout = SECTION_LABELS.get(section)
    if layout is not None:
        for segment, labels in layout.items():
            held = segment in ("total", "securities")
            out[segment] = {
                k: values[k] if held else ("0.00" if k == "leverage" else _money(0.0)) for k in labels
            }
        return out
    if section == "market_value":
        for ccy, e in sorted(ledger(account, market, 0).items()):
            label = f"Total (in {BASE_CURRENCY})" if ccy == "BASE" else ccy
            out[label] = {
                "total_cash": f"{round(e['cashbalance']):,}",
                "settled_cash": f"{round(e['settledcash']):,}",
                "MTD Interest": "0",
                "stock": f"{round(e['stockmarketvalue']):,}",
                "options": f"{round(e['stockoptionmarketvalue']):,}",
                "futures": f"{round(e['futuremarketvalue']):,}",
                "future_options": "0",
                "funds": "0",
                "dividends_receivable": "0",
                "mutual_funds": "0",
                "money_market": "0",
                "bonds": f"{round(e['corporatebondsmarketvalue']):,}",
                "Govt Bonds": f"{round(e['tbondsmarketvalue']):,}",
                "t_bills": f"{round(e['tbillsmarketvalue']):,}",
                "warrants": "0",
                "issuer_option": "0",
                "commodity": "0",
                "Notional CFD": "0",
                "cfd": "0",
                "Cryptocurrency": "0",
                "net_liquidation": f"{round(e['netliquidationvalue']):,}",
                "unrealized_pnl": f"{round(e['unrealizedpnl']):,}",
                "realized_pnl": f"{round(e['realizedpnl']):,}",
                "Exchange Rate": "1.00" if ccy == "BASE" else f"{float(e['exchangerate']):.6f}",
            }
        return out
    raise ValueError(f"unknown summary section {section!r}")
