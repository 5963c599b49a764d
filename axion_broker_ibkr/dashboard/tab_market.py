"""Market Data tab: watchlist quotes (stream first, REST snapshots as the fallback) and candles."""

from __future__ import annotations

import datetime as dt
from functools import partial

import streamlit as st

from ..errors import IBKRError
from ..models import IBKRContract, Quote
from ..resolver import ContractResolver
from . import live, vm_market
from .charts import candle_chart
from .errors_text import explain
from .factory import DashboardSession
from .page_cache import cached, is_fresh
from .tables import table

REFRESH_SECONDS = 2.0
#: Resolved watchlist conids are stable; keep them for the session's life.
RESOLVE_TTL = 3600.0


_ASSET_TYPES = {"STK": "stock", "CASH": "forex", "FUT": "futures", "OPT": "option", "BOND": "bond"}


def resolve_item(session: DashboardSession, item: vm_market.WatchItem) -> IBKRContract:
    """Watchlist entry -> contract through the plugin's resolver (US listing for stocks, the pair
    for forex, the front month after IBKR's roll cut-offs for futures; cached in the order-log DB)."""
    resolver = ContractResolver(session.client, session.client.cache)
    details = dict(item.details) or None
    # A watchlist quotes, it does not trade: the contract rules are not fetched here.
    return resolver.resolve(item.symbol, _ASSET_TYPES[item.sec_type], details, rules=False)


def _resolve_watchlist(
    session: DashboardSession, items: list[vm_market.WatchItem]
) -> list[tuple[str, int | None]]:
    """Resolve every entry, with a progress bar; failures are listed, not fatal. Each resolved
    entry is labelled with its contract named in full (``ES Dec 2026 (ESZ6)``, not ``ES (FUT)``)."""
    out: list[tuple[str, int | None]] = []
    bar = st.progress(0.0, text="Resolving the watchlist…") if items else None
    _resolve_stocks_at_once(session, items)
    for i, item in enumerate(items, start=1):
        label, conid = item.label, None
        try:
            contract = cached(_key(item), partial(resolve_item, session, item), RESOLVE_TTL)
        except (LookupError, IBKRError, ValueError) as exc:
            st.warning(f"{item.label}: {explain(exc)}")
        else:
            label, conid = vm_market.watch_label(item, contract), contract.conid
        out.append((label, conid))
        if bar is not None:
            bar.progress(i / len(items), text=f"Resolved {i} of {len(items)}")
    if bar is not None:
        bar.empty()
    return out


def _resolve_stocks_at_once(session: DashboardSession, items: list[vm_market.WatchItem]) -> None:
    """The watchlist's stocks not resolved yet, in one ``/trsrv/stocks`` request instead of one
    each; a failure leaves them to the one-by-one resolution (which says which entry failed)."""
    stocks = [
        i for i in items if i.sec_type == "STK" and not i.details and not is_fresh(_key(i), RESOLVE_TTL)
    ]
    if len(stocks) < 2:
        return
    resolver = ContractResolver(session.client, session.client.cache)
    try:
        found = resolver.resolve_stocks([i.symbol for i in stocks])
    except (LookupError, IBKRError, ValueError):
        return
    for item in stocks:
        contract = found.get(item.symbol)
        if contract is not None:
            cached(_key(item), partial(_same, contract), RESOLVE_TTL)


def _key(item: vm_market.WatchItem) -> str:
    return f"md:contract:{item.key}"


def _same(contract: IBKRContract) -> IBKRContract:
    return contract


def _latest_quotes(session: DashboardSession, conids: list[int]) -> tuple[dict[int, Quote], str]:
    """Quotes from the stream when it runs, else a REST snapshot; the second value says which."""
    stream = session.streaming()
    if stream is not None:
        stream.subscribe_quotes(conids)
        latest = {c: q for c in conids if (q := stream.quote(c)) is not None}
        missing = [c for c in conids if c not in latest or not latest[c].has_data]
        if missing:  # first frames not in yet: fill the gap from REST (a background refresh)
            gap = live.refresh(
                session, f"md:gap:{missing}", partial(session.client.snapshot, missing), REFRESH_SECONDS
            )
            latest.update({q.conid: q for q in gap})
        return latest, "stream"
    return {q.conid: q for q in session.client.snapshot(conids)}, "snapshot"


def _quotes(session: DashboardSession, labels: list[tuple[str, int | None]]) -> None:
    conids = [c for _, c in labels if c is not None]
    if not conids:
        return
    latest, source = _latest_quotes(session, conids)
    rows = vm_market.quote_rows(vm_market.merge_quotes(labels, latest))
    table(rows, "md_quotes")
    if source == "stream":
        st.caption(f"Live from the WebSocket stream · {dt.datetime.now(dt.UTC):%H:%M:%S} UTC")
    else:
        why = f" ({session.streaming_error})" if session.streaming_error else ""
        st.caption(f"REST snapshots: streaming is not available{why}. Press Refresh for new prices.")


def _history(session: DashboardSession, labels: list[tuple[str, int | None]]) -> None:
    st.subheader("History", anchor=False)
    usable = [(label, conid) for label, conid in labels if conid is not None]
    if not usable:
        return
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    label = c1.selectbox("Instrument", [u[0] for u in usable], key="md_hist_symbol")
    period = c2.selectbox("Period", vm_market.PERIODS, index=2, key="md_period")
    bars = vm_market.bars_for_period(period or "1m")
    bar = c3.selectbox("Bar", bars, index=len(bars) // 2, key="md_bar")
    if c4.button("Load chart", key="md_hist_load", icon=":material/candlestick_chart:"):
        conid = dict(usable)[label]
        with live.action(f"Loading {period} of {bar} bars for {label}…"):
            st.session_state["md_history"] = (
                label,
                bar,
                period,
                session.client.history(conid, bar=bar, period=period),
            )
    loaded = st.session_state.get("md_history")
    if loaded:
        name, bar_, period_, history = loaded
        rows = vm_market.candle_rows(history)
        if rows:
            st.altair_chart(candle_chart(rows, f"{name} · {bar_} bars · {period_}"), key="md_candles")
            st.caption(f"{len(rows)} bars")
        else:
            st.info("IBKR returned no bars for this range.")


def render(session: DashboardSession) -> None:
    text = st.text_input(
        "Watchlist (comma separated; EUR.USD is forex, ES:FUT the front-month future; options, futures "
        "and bonds by their terms: AAPL 2027-01-15 185 P, ES Dec 2026, IBM 3.3% 2029-05-15)",
        value=vm_market.DEFAULT_WATCHLIST,
        key="md_watchlist",
    )
    try:
        items = vm_market.parse_watchlist(text or "")
    except ValueError as exc:
        st.error(str(exc))
        return
    with live.action("Resolving the watchlist…"):  # names any pacing wait of the first resolution
        labels = _resolve_watchlist(session, items)
    c1, c2 = st.columns([1, 4])
    auto = c1.toggle("Auto refresh", value=True, key="md_auto")
    c2.button("Refresh", key="md_refresh", icon=":material/refresh:")

    @st.fragment(run_every=REFRESH_SECONDS if auto else None)
    def live_quotes() -> None:
        try:
            _quotes(session, labels)
        except IBKRError as exc:
            st.error(explain(exc))

    live_quotes()
    _history(session, labels)
