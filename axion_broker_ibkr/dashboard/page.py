"""``render()``: the IBKR page. Layout only; data comes through :mod:`.factory`."""

from __future__ import annotations

import streamlit as st

from . import tab_account, tab_gateway, tab_market, tab_trading
from .errors_text import explain
from .factory import DashboardSession, get_session
from .vm_gateway import banner

TABS: tuple[str, ...] = ("Account", "Trading", "Market Data", "Gateway")
TAB_KEY = "ibkr_tab"
_RENDERERS = (tab_account.render, tab_trading.render, tab_market.render, tab_gateway.render)


def _banner(session: DashboardSession) -> None:
    b = banner(session.mode, session.account_id, url=session.client.base_url, fallback=session.fallback)
    show = {"error": st.error, "warning": st.warning}.get(b.level, st.info)
    show(b.text, icon=":material/warning:" if b.live else ":material/public:")


def render() -> None:
    """Draw the page: the mode/account banner, then Account, Trading, Market Data and Gateway tabs.

    Only the selected tab runs (lazy tabs), so a click on one tab does not refetch the others.
    """
    st.header("Interactive Brokers", anchor=False)
    try:
        session = get_session()
    except Exception as exc:
        st.error(f"Cannot reach IBKR: {explain(exc)}", icon=":material/error:")
        st.caption(
            "Set AXION_IBKR_MODE=sim to use the embedded simulator, or start the Client Portal Gateway "
            "and log in at https://localhost:5000."
        )
        return
    _banner(session)
    tab_gateway.render_page_notice(session)  # an untrusted certificate: the fingerprint and "Trust"
    tabs = st.tabs(list(TABS), key=TAB_KEY, on_change="rerun")
    for tab, draw in zip(tabs, _RENDERERS, strict=True):
        with tab:
            if tab.open:
                try:
                    draw(session)
                except Exception as exc:  # a failing tab says why in plain words; the others keep working
                    st.error(explain(exc), icon=":material/error:")
