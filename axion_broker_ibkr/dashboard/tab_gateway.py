"""Gateway tab: health first in plain words (session, account, mode, last tickle, pacing, stream
per channel), what Re-authenticate / Take over did, the browser-login steps when the SSO session is
gone, "Trust this gateway" for an untrusted certificate, the per-user settings (saved in the user
config file), and the raw counters in a collapsed section."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import streamlit as st

from ..config import IBKRConfig
from ..drivers import tls
from ..errors import ConfigError, GatewayError
from ..models import GatewayStatus
from ..userconfig import save_user_setting, user_config_path, user_settings
from . import vm_gateway
from .factory import DashboardSession, apply_settings, reset_sessions
from .tables import table

#: The outcome of the last Re-authenticate / Take over / Save, shown on the next run.
OUTCOME = "gw_outcome"
#: The outcome of the last "Trust this gateway", shown at the top of the page on the next run.
TRUST_OUTCOME = "gw_trust_outcome"


#: A status checked less than this many seconds ago is shown as it is (no new request): switching
#: to the tab then costs no slot of the pacing budget (bench/page.py). "Check again" always asks.
STATUS_FRESH_S = 10.0


def _status(session: DashboardSession, *, force: bool) -> GatewayStatus:
    last: GatewayStatus = session.gateway.status
    checked = last.last_checked
    age = None if checked is None else (dt.datetime.now(dt.UTC) - checked).total_seconds()
    if not force and last.trusted and age is not None and age < STATUS_FRESH_S:
        return last
    status: GatewayStatus = session.gateway.check()
    return status


def _pacing(session: DashboardSession) -> vm_gateway.Pacing:
    pacer = session.client.pacer
    return vm_gateway.Pacing(
        blocked_for=pacer.blocked_for, sent=pacer.sent, per_minute=session.config.max_requests_per_minute
    )


def stream_health(session: DashboardSession) -> tuple[dict[str, dict[str, Any]] | None, str | None]:
    """(channel -> health, note): ``IBKRStreaming.health()`` when the stream has it, else a summary
    of its ``stats()``; ``None`` and the reason when no stream runs."""
    sync = session.running_stream
    if sync is None:
        if session.streaming_error:
            return None, f"not available ({session.streaming_error}); the page shows REST snapshots"
        return None, "not started yet (the Trading and Market Data tabs start it)"
    health = getattr(sync, "health", None)
    if health is None:
        health = getattr(sync.stream, "health", None)
    if callable(health):
        return {str(k): dict(v) for k, v in health().items()}, None
    return vm_gateway.stream_health_fallback(sync.stats()), None


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


def _say(level: str, text: str) -> None:
    {"success": st.success, "warning": st.warning, "info": st.info}.get(level, st.error)(text)


def _show_outcome() -> None:
    outcome = st.session_state.pop(OUTCOME, None)
    if outcome:
        _say(*outcome)


# ---------------------------------------------------------------------------------------------
# Trust this gateway (issue 12 item 1)


def trust(session: DashboardSession, shown: str | None) -> tuple[str, str]:
    """Trust the configured gateway's certificate, as ``axion-ibkr trust`` does
    (:func:`~axion_broker_ibkr.drivers.tls.trust_gateway` saves its pin in the user config file), but only
    when it still presents the certificate whose fingerprint the trader was shown. Then the
    page's sessions are re-opened so that the next run connects with the pin."""
    host, port = session.config.gateway_host, session.config.gateway_port
    timeout = session.config.connect_timeout
    try:
        now = "sha256:" + tls.fingerprint_of(tls.fetch_certificate(host, port, timeout))
        if shown is not None and now != shown:
            return "error", (
                f"The gateway at {host}:{port} now presents another certificate ({now}, not the {shown} "
                "shown); nothing was saved. Check again and compare the fingerprint."
            )
        saved = tls.trust_gateway(host, port, timeout=timeout)
    except (GatewayError, ConfigError) as exc:
        return "error", f"Could not trust the gateway: {exc}"
    reset_sessions()  # every cached session re-reads the configuration, now with the pin
    where = vm_gateway.display_path(user_config_path())
    return "success", (
        f"Trusted the gateway at {host}:{port}: certificate {saved} saved in {where} "
        "(the same as `axion-ibkr trust`); the page connects with it now."
    )


def render_trust(session: DashboardSession, status: GatewayStatus, *, key: str) -> None:
    """The untrusted-certificate box: what was presented, and the button that trusts it."""
    host, port = session.config.gateway_host, session.config.gateway_port
    fp = status.certificate_fingerprint
    with st.container(border=True):
        st.markdown(f"**Certificate not trusted** — the gateway at `{host}:{port}` presented:")
        st.code(fp or "a certificate that could not be read", language=None)
        st.caption(
            "Compare this fingerprint with the one your Client Portal Gateway shows (its certificate "
            "file), then trust it here or with "
            f"`{tls.TRUST_COMMAND} --host {host} --port {port}`. Nothing is sent before you do, and "
            "the simulator is never used instead."
        )
        if st.button("Trust this gateway", key=key, icon=":material/verified_user:", disabled=fp is None):
            with st.spinner(f"Trusting {host}:{port}…"):
                st.session_state[TRUST_OUTCOME] = trust(session, fp)
            st.rerun()


def render_page_notice(session: DashboardSession) -> None:
    """Above the tabs: the outcome of "Trust this gateway", and the trust box while the gateway's
    certificate is not trusted (whichever tab is open: nothing works before it is trusted)."""
    outcome = st.session_state.pop(TRUST_OUTCOME, None)
    if outcome:
        _say(*outcome)
    status = session.gateway.status
    if not status.trusted:
        st.error(status.message, icon=":material/gpp_bad:")
        render_trust(session, status, key="page_trust")


# ---------------------------------------------------------------------------------------------
# Per-user settings (the user config file)


def save_settings(raw: dict[str, Any]) -> tuple[str, str]:
    """Check every setting the trader entered, save the changed ones in the user config file, and
    give them to the page's open sessions (no reconnect)."""
    try:
        values = {key: vm_gateway.parse_setting(key, value) for key, value in raw.items()}
        file_values = user_settings()
    except ConfigError as exc:
        return "error", f"Not saved: {exc}"
    changed: list[str] = []
    path = user_config_path()
    try:
        for key, value in values.items():
            if file_values.get(key) != value and not (value is None and key not in file_values):
                path = save_user_setting(key, value)
                changed.append(f"{key} = {vm_gateway.setting_text(key, value) or '(removed)'}")
    except (OSError, ConfigError) as exc:
        done = f" (saved before the failure: {'; '.join(changed)})" if changed else ""
        return "error", f"Not saved: {exc}{done}"
    if not changed:
        return "info", "Nothing changed."
    # The page's clients take the new values now (environment > file, as at start); the page's own
    # orders stay manual (manualIndicator) whatever the file says.
    fresh = IBKRConfig.from_env()
    apply_settings({k: getattr(fresh, k) for k in vm_gateway.USER_SETTINGS if k != "manual_orders"})
    return "success", f"Saved {'; '.join(changed)} in {vm_gateway.display_path(path)}; the page uses it now."


def render_settings() -> None:
    file_values = user_settings()
    path = user_config_path()
    env = os.environ
    st.subheader("Your settings", anchor=False)
    st.caption(
        f"Saved in your config file `{vm_gateway.display_path(path)}`. Each setting is read after the "
        "host's config and the `AXION_IBKR_*` environment: a value set there wins over the file."
    )
    with st.form("gw_settings", border=True):
        raw: dict[str, Any] = {}
        for key, (label, help_text) in vm_gateway.USER_SETTINGS.items():
            source = vm_gateway.setting_source(key, env, file_values)
            help_full = f"{help_text} Now from: {source}."
            if key == "manual_orders":
                raw[key] = st.checkbox(
                    label, value=bool(file_values.get(key, False)), key=f"gw_set_{key}", help=help_full
                )
            else:
                raw[key] = st.text_input(
                    label,
                    value=vm_gateway.setting_text(key, file_values.get(key)),
                    key=f"gw_set_{key}",
                    help=help_full,
                )
            if source.startswith("environment"):
                st.caption(f"`{key}` comes from the {source}.")
        if st.form_submit_button("Save settings", key="gw_settings_save", icon=":material/save:"):
            st.session_state[OUTCOME] = save_settings(raw)
            st.rerun()


# ---------------------------------------------------------------------------------------------


def render(session: DashboardSession) -> None:
    c1, c2, c3 = st.columns(3)
    check = c1.button("Check again", key="gw_check", icon=":material/refresh:")
    if c2.button("Re-authenticate", key="gw_reauth", icon=":material/login:"):
        before = session.gateway.status
        with st.spinner("Opening the brokerage session (ssodh/init)…"):
            after = session.gateway.reauthenticate()
        st.session_state[OUTCOME] = vm_gateway.action_outcome("reauth", before, after)
    if c3.button("Take over competing session", key="gw_takeover", icon=":material/swap_horiz:"):
        before = session.gateway.status
        with st.spinner("Taking over the brokerage session (the other platform is logged out)…"):
            after = session.gateway.take_over()
        st.session_state[OUTCOME] = vm_gateway.action_outcome("takeover", before, after)
    _show_outcome()
    status = _status(session, force=check)
    level, sentence = vm_gateway.health_state(status)
    _say(level, sentence)
    if status.trusted and (not status.sso_session or not status.reachable):
        with st.container(border=True):
            st.markdown("**Log in again**")
            st.markdown(vm_gateway.login_instructions(status))
    stream, note = stream_health(session)
    rows = vm_gateway.health_rows(status, pacing=_pacing(session), stream=stream, stream_note=note)
    st.markdown("\n".join(f"- **{row['']}:** {vm_gateway.md_escape(row['Value'])}" for row in rows))
    q_level, q_text = vm_gateway.question_policy(
        session.config.auto_confirm, session.config.suppress_questions
    )
    (st.warning if q_level == "warning" else st.caption)(q_text)
    render_settings()
    with st.expander("Raw status and counters", expanded=False):
        left, right = st.columns(2)
        with left:
            table(vm_gateway.status_rows(status), "gw_status", all_rows=True)
        with right:
            counters = vm_gateway.counter_rows(_counters(session))
            if counters:
                table(counters, "gw_counters", all_rows=True)
            else:
                st.caption("No counters yet.")
