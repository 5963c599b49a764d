"""Gateway tab: session health, server info, pacing and stream counters, re-auth / take over,
and the browser-login steps when the SSO session is gone."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..models import GatewayStatus
from . import vm_gateway
from .factory import DashboardSession
from .tables import table


def _status(session: DashboardSession) -> GatewayStatus:
    status: GatewayStatus = session.gateway.check()
    return status


def _counters(session: DashboardSession) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pacer = session.client.pacer
    out["pacing"] = {
        "requests_sent": pacer.sent,
        "penalty_box_s": round(pacer.blocked_for, 1),
        "max_requests_per_minute": session.config.max_requests_per_minute,
    }
    out["reauthentications"] = session.client.reauthentications
    stream = session.running_stream
    if stream is not None:
        out["stream"] = stream.stats()
    elif session.streaming_error:
        out["stream"] = {"error": session.streaming_error}
    else:
        out["stream"] = {"state": "not started (the Market Data and Trading tabs start it)"}
    return out


def render(session: DashboardSession) -> None:
    c1, c2, c3 = st.columns(3)
    c1.button("Check again", key="gw_check", icon=":material/refresh:")
    if c2.button("Re-authenticate", key="gw_reauth", icon=":material/login:"):
        with st.spinner("Opening the brokerage session…"):
            session.gateway.reauthenticate()
    if c3.button("Take over competing session", key="gw_takeover", icon=":material/swap_horiz:"):
        with st.spinner("Taking over the brokerage session…"):
            session.gateway.take_over()
    status = _status(session)
    level, sentence = vm_gateway.health_state(status)
    {"success": st.success, "warning": st.warning}.get(level, st.error)(sentence)
    q_level, q_text = vm_gateway.question_policy(
        session.config.auto_confirm, session.config.suppress_questions
    )
    (st.warning if q_level == "warning" else st.caption)(q_text)
    if not status.sso_session or not status.reachable:
        with st.container(border=True):
            st.markdown("**Log in again**")
            st.markdown(vm_gateway.login_instructions(status))
    left, right = st.columns(2)
    with left:
        st.subheader("Session", anchor=False)
        table(vm_gateway.status_rows(status), "gw_status", all_rows=True)
    with right:
        st.subheader("Pacing and stream", anchor=False)
        rows = vm_gateway.counter_rows(_counters(session))
        if rows:
            table(rows, "gw_counters", all_rows=True)
        else:
            st.caption("No counters yet.")
