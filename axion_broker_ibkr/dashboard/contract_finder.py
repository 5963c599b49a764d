"""The Trading tab's contract search: symbol + security type -> candidates -> one picked contract.

Options go underlying -> month -> right -> strike -> expiry; futures list the live expiries; forex
lists the pairs of a base currency; bonds list an issuer's bonds. The picked contract is kept in
``st.session_state[PICKED]`` as an :class:`~axion_broker_ibkr.models.IBKRContract`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import streamlit as st

from ..errors import IBKRError
from ..models import IBKRContract, SecdefInfo
from . import live, vm_trading
from .factory import DashboardSession
from .page_cache import cached
from .tables import table

PICKED = "trade_contract"
#: Seconds a search's candidates are reused for the same symbol and security type.
SEARCH_TTL = 300.0
_RESULTS = "trade_results"


def complete_contract(
    session: DashboardSession, conid: int, sec_type: str, symbol: str, **known: Any
) -> IBKRContract:
    """A contract from a search hit, with currency / exchange / multiplier from contract info."""
    # A conid's definition does not change during a session: picked again, it costs no request.
    info = cached(f"contract_info:{conid}", partial(session.client.contract_info, conid), 3600.0)
    values: dict[str, Any] = {
        "conid": conid,
        "sec_type": sec_type,
        "symbol": symbol,
        "exchange": "SMART" if sec_type == "STK" else (info.exchange or "SMART"),
        "currency": info.currency or "USD",
        "multiplier": info.multiplier,
        "description": info.company_name or symbol,
        "local_symbol": info.local_symbol,
        "trading_class": info.trading_class,
    }
    values.update({k: v for k, v in known.items() if v is not None})
    return IBKRContract(**values)


def _same(contract: IBKRContract) -> IBKRContract:
    return contract


def _stock_choices(session: DashboardSession, symbol: str) -> list[tuple[str, Callable[[], IBKRContract]]]:
    cands = vm_trading.search_candidates(session.client.search(symbol, sec_type="STK"))
    return [(c.label, partial(complete_contract, session, c.conid, "STK", c.symbol)) for c in cands]


def _future_choices(session: DashboardSession, symbol: str) -> list[tuple[str, Callable[[], IBKRContract]]]:
    found = session.client.futures([symbol])
    futures = [f for group in found.values() for f in group]
    return [
        (
            label,
            partial(
                complete_contract,
                session,
                int(f.conid or 0),
                "FUT",
                f.symbol or symbol,
                expiry=f.expiration_date.strftime("%Y%m%d") if f.expiration_date else None,
                underlying_conid=f.underlying_conid,
            ),
        )
        for label, f in vm_trading.future_choices(futures)
    ]


def _forex_choices(session: DashboardSession, symbol: str) -> list[tuple[str, Callable[[], IBKRContract]]]:
    base, _, quote = symbol.upper().partition(".")
    pairs = session.client.currency_pairs(base)
    out: list[tuple[str, Callable[[], IBKRContract]]] = []
    for pair in pairs:
        if pair.conid is None or (quote and pair.ccy_pair and pair.ccy_pair.upper() != quote):
            continue
        ccy = (pair.ccy_pair or quote or "").upper()
        contract = IBKRContract(
            conid=pair.conid,
            sec_type="CASH",
            symbol=base,
            exchange="IDEALPRO",
            currency=ccy,
            description=pair.symbol or f"{base}.{ccy}",
        )
        out.append((f"{pair.symbol or base + '.' + ccy} · conid {pair.conid}", partial(_same, contract)))
    return out


def _bond_choices(session: DashboardSession, symbol: str) -> list[tuple[str, Callable[[], IBKRContract]]]:
    out: list[tuple[str, Callable[[], IBKRContract]]] = []
    for hit in session.client.search(symbol, sec_type="BOND"):
        for issuer in hit.issuers:
            for info in session.client.secdef_info(sec_type="BOND", issuer_id=issuer.id):
                if info.conid is None:
                    continue
                contract = IBKRContract(
                    conid=info.conid,
                    sec_type="BOND",
                    symbol=info.symbol or symbol,
                    exchange=info.exchange or "SMART",
                    currency=info.currency or "USD",
                    maturity=info.maturity_date,
                    coupon=vm_trading.coupon_of(info.coupon),
                    issuer=issuer.name,
                    cusip=(info.cusip or "").strip() or None,
                    description=" ".join(x for x in (info.desc1, info.desc2) if x) or (issuer.name or symbol),
                )
                label = f"{issuer.name or issuer.id} · {contract.description} · conid {info.conid}"
                out.append((label, partial(_same, contract)))
    return out


_SEARCHERS = {"STK": _stock_choices, "FUT": _future_choices, "CASH": _forex_choices, "BOND": _bond_choices}


def _option_chain(session: DashboardSession, symbol: str) -> None:
    """Underlying -> month -> right -> strike -> the expiries IBKR lists for them."""
    underlyings = vm_trading.search_candidates(session.client.search(symbol, sec_type="STK"))
    underlyings = [u for u in underlyings if u.option_months]
    if not underlyings:
        st.warning(f"No optionable underlying found for {symbol!r}.")
        return
    und = st.selectbox("Underlying", underlyings, format_func=lambda u: u.label, key="trade_opt_underlying")
    if und is None:
        return
    c1, c2, c3 = st.columns(3)
    month = c1.selectbox("Month", und.option_months, key="trade_opt_month")
    right = c2.radio("Right", ["C", "P"], format_func={"C": "Call", "P": "Put"}.get, key="trade_opt_right",
                     horizontal=True)  # fmt: skip
    if month is None or right is None:
        return
    strikes = session.client.strikes(und.conid, month)
    listed = strikes.call if right == "C" else strikes.put
    strike = c3.selectbox("Strike", listed, key="trade_opt_strike")
    if strike is None:
        st.info("IBKR lists no strikes for this month.")
        return
    infos = session.client.secdef_info(
        conid=und.conid, sec_type="OPT", month=month, strike=strike, right=right
    )
    choices = vm_trading.option_choices(infos)
    if not choices:
        st.info("No contract for this month, strike and right.")
        return
    label = st.selectbox("Contract (expiry)", [c[0] for c in choices], key="trade_opt_contract")
    info = dict(choices)[label] if label else None
    if info is not None and info.maturity_date:
        _chain_table(session, und.conid, month, info.maturity_date, float(strike))
    if info is not None and st.button("Use this option", key="trade_opt_use"):
        st.session_state[PICKED] = vm_trading.contract_from_option(info, und.symbol)


CHAIN_TTL = 5.0


def _chain_infos(session: DashboardSession, conid: int, month: str) -> list[SecdefInfo]:
    # [unconfirmed] whether /secdef/info answers for a month without a strike: the docs list
    # strike as a parameter of OPT lookups and show one strike per call; the simulator (and, by
    # the docs' wording "one month can return several expiries and both rights", IBKR) accept
    # the month alone. An empty or refused answer leaves the chain out; the ticket still works.
    try:
        return session.client.secdef_info(conid=conid, sec_type="OPT", month=month)
    except IBKRError:
        return []


def _chain_table(session: DashboardSession, conid: int, month: str, expiry: str, strike: float) -> None:
    """Bid / ask / last / implied vol per strike of the picked expiry, calls and puts side by side."""
    infos = cached(f"chain:{conid}:{month}", partial(_chain_infos, session, conid, month), 300.0)
    rows = vm_trading.chain_rows(infos, {}, expiry, center=strike)
    if not rows:
        return
    conids = vm_trading.chain_conids(infos, rows, expiry)
    try:
        with st.spinner(f"Quoting {len(conids)} options of {expiry}…"):
            quotes = cached(
                f"chain:quotes:{expiry}:{','.join(map(str, conids))}",
                lambda: session.client.snapshot(conids, fields=vm_trading.CHAIN_FIELDS),
                CHAIN_TTL,
            )
    except IBKRError as exc:
        st.caption(f"No option quotes: {exc}")
        quotes = []
    rows = vm_trading.chain_rows(infos, {q.conid: q for q in quotes}, expiry, center=strike)
    st.caption(f"Option chain · expiry {expiry[:4]}-{expiry[4:6]}-{expiry[6:8]} · snapshot")
    table(rows, "trade_opt_chain")


def render(session: DashboardSession) -> IBKRContract | None:
    """Draw the search; return the picked contract (or ``None``)."""
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    sec_label = c1.selectbox("Security type", list(vm_trading.SEC_TYPES), key="trade_sectype")
    symbol = c2.text_input("Symbol", key="trade_symbol", placeholder="AAPL, ES, EUR.USD, IBM").strip().upper()
    sec_type = vm_trading.SEC_TYPES[sec_label][0] if sec_label else "STK"
    if sec_type == "OPT":
        if symbol:
            _option_chain(session, symbol)
    elif c3.button("Search", key="trade_search", icon=":material/search:") and symbol:
        with live.action(f"Searching {symbol}…"):
            # The candidates of a symbol do not change within minutes: searching again costs nothing.
            found = cached(
                f"search:{sec_type}:{symbol}", partial(_SEARCHERS[sec_type], session, symbol), SEARCH_TTL
            )
            st.session_state[_RESULTS] = (sec_type, symbol, found)
    results = st.session_state.get(_RESULTS)
    if sec_type != "OPT" and results and results[0] == sec_type:
        choices: list[tuple[str, Callable[[], IBKRContract]]] = results[2]
        if not choices:
            st.warning(f"Nothing found for {results[1]!r} as {sec_label}.")
        else:
            label = st.selectbox("Candidates", [c[0] for c in choices], key="trade_candidate")
            if label and st.button("Use this contract", key="trade_use"):
                st.session_state[PICKED] = dict(choices)[label]()
    picked: IBKRContract | None = st.session_state.get(PICKED)
    return picked
