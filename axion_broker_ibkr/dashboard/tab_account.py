"""Account tab: headline figures, cash per currency with rates, positions across assets, P&L chart."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from ..errors import IBKRError
from ..models import Position
from . import live, vm_account
from .factory import DashboardSession
from .page_cache import cached, invalidate
from .tables import table

#: Portfolio endpoints are paced by IBKR; the tab reuses what it fetched for this long.
TTL = 15.0
#: Positions follow the P&L stream, re-read at most this often while it moves.
FOLLOW_TTL = 3.0
FOLLOW_EVERY = 1.0
PNL_SEEN = "acct_pnl_seen"


def _positions(session: DashboardSession) -> None:
    """Positions and their P&L chart, following the P&L stream: when a ``spl`` frame moved the
    account's P&L, positions are read again (at most every :data:`FOLLOW_TTL` seconds)."""
    pnl = live.pnl(session)
    signature = tuple(sorted((k, r.dpl, r.upl) for k, r in pnl.items())) if pnl else None
    moved = signature is not None and signature != st.session_state.get(PNL_SEEN)
    st.session_state[PNL_SEEN] = signature
    # A background refresh: it leaves the budget's burst to the trader's actions (live.refresh).
    ttl = FOLLOW_TTL if moved else TTL
    positions = live.refresh(session, "acct:positions", session.client.positions, ttl)
    cusips = _bond_cusips(session, positions)
    st.subheader("Positions", anchor=False)
    rows = vm_account.position_rows(positions, cusips)
    if rows:
        table(rows, "acct_positions")
        table(vm_account.asset_class_totals(positions), "acct_asset_totals")
    else:
        st.info("No positions.")

    st.subheader("Unrealized P&L by position", anchor=False)
    chart = vm_account.pnl_chart_rows(positions, cusips)
    if chart:
        st.bar_chart(pd.DataFrame(chart), x="Position", y="P&L", color="Asset", horizontal=True)
    else:
        st.caption("No P&L figures yet.")


def _bond_cusips(session: DashboardSession, positions: list[Position]) -> dict[int, str]:
    """conid -> CUSIP of the bond positions, from IBKR's contract info (read once per conid and
    kept, under the same name as the contract search's); a failed read leaves the name without it."""
    out: dict[int, str] = {}
    for pos in positions:
        if pos.conid is None or (pos.asset_class or "").upper() != "BOND":
            continue
        conid = int(pos.conid)
        try:
            info = cached(f"contract_info:{conid}", partial(session.client.contract_info, conid), 3600.0)
        except IBKRError:
            continue
        if info.cusip:
            out[conid] = info.cusip
    return out


def render(session: DashboardSession) -> None:
    client = session.client
    if st.button("Refresh account", key="acct_refresh", icon=":material/refresh:"):
        invalidate("acct:")
    # Refreshes: the last figures are kept (at most 30 s more) while the trader's actions need the
    # request budget; "Refresh account" reads them again at once.
    summary = live.refresh(session, "acct:summary", client.account_summary, TTL)
    ledger = live.refresh(session, "acct:ledger", client.ledger, TTL)
    base = ledger["BASE"].currency if "BASE" in ledger and ledger["BASE"].currency != "BASE" else None
    metrics = vm_account.headline_metrics(summary, base_currency=base)

    cols = st.columns(4)
    for i, metric in enumerate(metrics):
        cols[i % 4].metric(metric.label, metric.text)

    st.subheader("Cash by currency", anchor=False)
    st.caption("From the ledger; each currency converted into the base currency at IBKR's rate.")
    table(vm_account.cash_rows(ledger), "acct_cash")

    every = FOLLOW_EVERY if live.stream_of(session) is not None else None
    st.fragment(run_every=every)(_positions)(session)
    with st.expander("P&L (partitioned, daily)"):
        streamed = live.pnl(session)
        pnl = streamed if streamed is not None else live.paced(session, "acct:pnl", client.pnl, TTL, 5.5)
        table(vm_account.pnl_partition_rows(pnl), "acct_pnl")
        st.caption("Live from IBKR's P&L stream." if streamed is not None else "REST snapshot.")
