"""View-models of the Gateway tab and the page banner (pure, no Streamlit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from attrs import define

from ..masking import is_paper_account, mask_account, mask_text
from ..models import GatewayStatus
from ..tls import UNTRUSTED

Row = dict[str, Any]


@define(frozen=True, kw_only=True)
class Banner:
    """What the top of the page says: ``level`` is ``error`` (red) for a live account,
    ``warning`` for the simulator, ``info`` for a paper account on a real gateway."""

    level: str
    text: str
    live: bool


def banner(mode: str, account_id: str | None, *, url: str | None = None, fallback: bool = False) -> Banner:
    """The mode + masked account banner. A non-paper account is always red, whatever the mode."""
    acct = mask_account(account_id) or "no account selected"
    where = f" at {url}" if url else ""
    if account_id and not is_paper_account(account_id):
        return Banner(
            level="error",
            text=f"LIVE ACCOUNT {acct} · {mode} mode{where} · orders placed here use real money",
            live=True,
        )
    if mode == "sim":
        why = " (no gateway answered, auto mode fell back)" if fallback else ""
        return Banner(
            level="warning",
            text=f"SIMULATOR{why} · paper account {acct}{where} · no order reaches IBKR",
            live=False,
        )
    return Banner(level="info", text=f"IBKR gateway · paper account {acct}{where}", live=False)


def _ago(moment: dt.datetime | None, now: dt.datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    return f"{seconds // 60} min ago"


def health_state(status: GatewayStatus) -> tuple[str, str]:
    """(level, sentence) for the Gateway tab's headline, in the order a trader must act on it."""
    if status.message.startswith(UNTRUSTED):  # reachable, but its certificate is not trusted: say the pin
        return "error", status.message
    if not status.reachable:
        return "error", f"The gateway at {status.url} does not answer. Start it (or `axion-ibkr sim`)."
    if not status.sso_session:
        return "error", "Not logged in: the SSO session is gone. Log in through the browser (see below)."
    if status.competing:
        return "error", "Another platform (TWS, IBKR Mobile, another gateway) holds the brokerage session."
    if not status.connected:
        return "warning", "The gateway has lost its link to IBKR's servers."
    if not status.authenticated:
        return "warning", "The brokerage session is not open. Press Re-authenticate."
    return "success", "Connected and authenticated."


def question_policy(auto_confirm: tuple[str, ...], suppressed: tuple[str, ...]) -> tuple[str, str]:
    """(level, sentence) on how IBKR's order questions are answered from this page's session."""
    own = ", ".join(auto_confirm) or "none"
    if suppressed:
        return "warning", (
            f"Questions {', '.join(suppressed)} are switched off for the whole brokerage session "
            "(suppress_questions): every program on this gateway places such orders without being asked. "
            f"Answered yes in this session's own orders (auto_confirm): {own}."
        )
    return "info", (
        f"Answered yes in this session's own orders (auto_confirm): {own}. "
        "No question is switched off for the whole brokerage session."
    )


def status_rows(status: GatewayStatus, now: dt.datetime | None = None) -> list[Row]:
    """The gateway status as label/value rows (account masked, message texts masked)."""
    now = now or dt.datetime.now(dt.UTC)

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    rows: list[Row] = [
        {"": "Mode", "Value": status.mode},
        {"": "URL", "Value": status.url},
        {"": "Reachable", "Value": yes(status.reachable)},
        {"": "Logged in (SSO)", "Value": yes(status.sso_session)},
        {"": "Connected", "Value": yes(status.connected)},
        {"": "Authenticated", "Value": yes(status.authenticated)},
        {"": "Competing session", "Value": yes(status.competing)},
        {"": "Selected account", "Value": mask_account(status.selected_account) or "—"},
        {"": "Server", "Value": " ".join(x for x in (status.server_name, status.server_version) if x) or "—"},
        {"": "Last tickle", "Value": _ago(status.last_tickle, now)},
        {"": "Last checked", "Value": _ago(status.last_checked, now)},
        {"": "Re-authentications", "Value": str(status.reauthentications)},
    ]
    if status.message:
        rows.append({"": "Message", "Value": mask_text(status.message)})
    if status.fail:
        rows.append({"": "Failure", "Value": mask_text(status.fail)})
    return rows


def counter_rows(counters: Mapping[str, Any], prefix: str = "") -> list[Row]:
    """Flatten a stats mapping (pacing or streaming ``stats()``) into name/value rows.

    Nested mappings become ``outer.inner`` names; every value is shown as text (one column of
    mixed numbers and words), account ids masked; ``None`` is ``—``.
    """
    rows: list[Row] = []
    for key in sorted(counters):
        value = counters[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(counter_rows(value, prefix=f"{name}."))
        else:
            rows.append({"Counter": name, "Value": "—" if value is None else mask_text(str(value))})
    return rows


def login_instructions(status: GatewayStatus) -> str:
    """Markdown telling the trader how to log in again when the SSO session is gone."""
    url = status.login_url or status.url.split("/v1/")[0]
    if status.mode == "sim":
        return (
            f"This is the embedded simulator. Open [{url}]({url}) to log in again "
            "(any user name; the simulator accepts it), then press **Check again**."
        )
    return (
        f"1. Open [{url}]({url}) in a browser on the machine that runs the Client Portal Gateway.\n"
        "2. Log in with your IBKR user name and complete the second factor (IBKR Mobile / security device).\n"
        "3. Wait for *Client login succeeds*, then press **Check again** here.\n\n"
        "IBKR resets the SSO session once a day (around midnight in your region), so expect this daily. "
        "A session held by TWS or IBKR Mobile under the same user name shows up as *competing*."
    )
