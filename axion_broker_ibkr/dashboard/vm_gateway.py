"""View-models of the Gateway tab and the page banner (pure, no Streamlit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import define

from ..drivers.tls import UNTRUSTED
from ..masking import is_paper_account, mask_account, mask_text
from ..models import GatewayStatus

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


def health_state(status: GatewayStatus, *, answer_first: bool = False) -> tuple[str, str]:
    """(level, sentence) for the Gateway tab's headline, in the order a trader must act on it.

    ``answer_first`` (the CLI's one-line headline): an OAuth session IBKR did not open is said in
    IBKR's own answer, when there is one, rather than in the tab's explanation."""
    if status.message.startswith(UNTRUSTED):  # reachable, but its certificate is not trusted: say the pin
        return "error", status.message
    if status.mode == "oauth" and not (status.reachable and status.sso_session):
        return "error", _oauth_trouble(status, answer_first)
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


def _oauth_trouble(status: GatewayStatus, answer_first: bool) -> str:
    """OAuth mode has no gateway to start and no browser login: what is wrong with the session."""
    said = f": {status.message}" if status.message else ""
    if not status.reachable:
        return f"IBKR's Web API at {status.url} does not answer{said}. Check the network and oauth_base_url."
    if answer_first and status.message:
        return status.message  # e.g. the live session token was refused, and why
    expires = status.oauth_token_expires_at
    if expires is not None and expires <= dt.datetime.now(dt.UTC).timestamp():
        when = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"The OAuth live session token expired at {when} and no new one was obtained{said}."
    return (
        f"The OAuth session is not open: IBKR did not accept the live session token{said}. Check the "
        "OAuth credentials (consumer key, access token and secret, signing and encryption keys); "
        "OAuth mode has no browser login."
    )


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


# ---------------------------------------------------------------------------------------------
# Health first, in plain words (issue 11 item 4)

#: Stream channels by the name a trader knows them by (the WebSocket topic in brackets).
CHANNEL_NAMES: dict[str, str] = {
    "quote": "Quotes (smd)",
    "orders": "Orders (sor)",
    "trades": "Fills (str)",
    "pnl": "P&L (spl)",
    "depth": "Market depth (sbd)",
    "system": "System messages",
}


@define(frozen=True, kw_only=True)
class Pacing:
    """What the page's pacer says: ``blocked_for`` seconds of a 429 back-off left, ``sent``
    requests so far, ``per_minute`` this client's budget (``max_requests_per_minute``)."""

    blocked_for: float
    sent: int
    per_minute: int


def _yes_no(flag: bool, yes: str, no: str) -> str:
    return yes if flag else no


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.0f} min"


def pacing_text(pacing: Pacing) -> str:
    """Pacing headroom in one sentence."""
    if pacing.blocked_for > 0:
        return (
            f"Backing off after IBKR answered 429 (too many requests): {_seconds(pacing.blocked_for)} left; "
            "nothing is sent until then."
        )
    return (
        f"Within limits: no back-off; this page may send up to {pacing.per_minute} requests a minute "
        f"(IBKR allows 600) plus IBKR's per-endpoint limits; {pacing.sent} sent so far."
    )


def stream_state_text(entry: Mapping[str, Any]) -> str:
    """One channel of ``IBKRStreaming.health()`` (``state``, ``last_message_age``, ``resubscribes``)."""
    state = str(entry.get("state") or "unknown")
    age = entry.get("last_message_age")
    resubs = int(entry.get("resubscribes") or 0)
    last = "no message yet" if age is None else f"last message {_seconds(float(age))} ago"
    words = {
        "live": f"live, {last}",
        "silent": f"silent ({last}); the subscription is re-sent",
        "polling": "socket down: polling over REST until it is back",
        "down": f"down ({last})",
    }.get(state, f"{state} ({last})")
    if resubs:
        words += f"; re-subscribed {resubs} time{'s' if resubs != 1 else ''}"
    return words


def stream_health_fallback(stats: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-channel health from ``IBKRStreaming.stats()`` for a stream without ``health()``:
    a subscribed channel is ``live`` while the socket is connected, else ``down``."""
    connected = bool(stats.get("connected"))
    out: dict[str, dict[str, Any]] = {}
    for sub in stats.get("subscriptions") or ():
        channel = str(sub.get("channel"))
        entry = out.setdefault(channel, {"state": "down", "last_message_age": None, "resubscribes": 0})
        if connected and sub.get("active"):
            entry["state"] = "live"
        entry["resubscribes"] += max(0, int(sub.get("sends") or 0) - 1)
    return out


def health_rows(
    status: GatewayStatus,
    *,
    pacing: Pacing,
    stream: Mapping[str, Mapping[str, Any]] | None,
    stream_note: str | None = None,
    now: dt.datetime | None = None,
) -> list[Row]:
    """The Gateway tab's health table, one plain sentence per line, in the order a trader reads it.

    ``stream``: ``IBKRStreaming.health()`` (channel -> state), ``None`` when no stream runs; then
    ``stream_note`` says why (not started yet, or the error that stopped it).
    """
    now = now or dt.datetime.now(dt.UTC)
    where = {"sim": "the embedded simulator", "oauth": "IBKR's Web API (OAuth)"}.get(
        status.mode, "the Client Portal Gateway"
    )
    rows: list[Row] = [
        {"": "Gateway", "Value": f"{where} at {status.url} ({status.mode} mode)"},
    ]
    if not status.trusted:
        fp = status.certificate_fingerprint or "unreadable"
        rows.append({"": "Certificate", "Value": f"not trusted (fingerprint {fp})"})
    rows += [
        {"": "Reachable", "Value": _yes_no(status.reachable, "yes, it answers", "no, nothing answers")},
        {
            "": "Logged in",
            "Value": _yes_no(status.sso_session, "yes (SSO session)", "no: log in (see below)"),
        },
        {
            "": "Connected",
            "Value": _yes_no(status.connected, "yes, linked to IBKR's servers", "no link to IBKR's servers"),
        },
        {
            "": "Authenticated",
            "Value": _yes_no(
                status.authenticated, "yes, the brokerage session is open", "no brokerage session"
            ),
        },
        {
            "": "Competing session",
            "Value": _yes_no(status.competing, "yes: another platform holds the brokerage session", "none"),
        },
        {"": "Account", "Value": mask_account(status.selected_account) or "none selected"},
        {"": "Last tickle", "Value": _ago(status.last_tickle, now)},
        {"": "Pacing", "Value": pacing_text(pacing)},
    ]
    rows += oauth_rows(status, now=now)
    if stream is None:
        rows.append({"": "Stream", "Value": stream_note or "not started"})
    elif not stream:
        rows.append({"": "Stream", "Value": "connected, no channel subscribed yet"})
    else:
        for channel in sorted(stream):
            label = CHANNEL_NAMES.get(channel, channel)
            rows.append({"": f"Stream: {label}", "Value": stream_state_text(stream[channel])})
    return rows


def oauth_rows(status: GatewayStatus, *, now: dt.datetime | None = None) -> list[Row]:
    """OAuth token expiry and refreshes, when the status carries them (mode ``oauth``)."""
    expires = getattr(status, "oauth_token_expires_at", None)
    refreshes = int(getattr(status, "oauth_refreshes", 0) or 0)
    if expires is None and not refreshes:
        return []
    now = now or dt.datetime.now(dt.UTC)
    if expires is None:
        text = "no token"
    else:
        left = float(expires) - now.timestamp()
        when = dt.datetime.fromtimestamp(float(expires), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        text = f"expires {when} (in {_seconds(left)})" if left > 0 else f"expired at {when}"
    return [
        {"": "OAuth token", "Value": f"{text}; refreshed {refreshes} time{'s' if refreshes != 1 else ''}"}
    ]


def action_outcome(action: str, before: GatewayStatus, after: GatewayStatus) -> tuple[str, str]:
    """(level, sentence) saying what Re-authenticate (``reauth``) or Take over (``takeover``) did."""
    what = "Re-authenticate" if action == "reauth" else "Take over"
    if after.healthy:
        if action == "takeover":
            done = (
                "took the brokerage session over: the other platform (TWS, IBKR Mobile) was logged out"
                if before.competing
                else "no other platform held the session; the brokerage session is open"
            )
        else:
            done = (
                "opened the brokerage session again"
                if not before.authenticated
                else "the brokerage session was already open and has been re-opened"
            )
        return "success", f"{what}: {done} ({after.reauthentications} re-authentication(s) so far)."
    _level, why = health_state(after)
    return "error", f"{what} did not open the session: {mask_text(why)}"


# ---------------------------------------------------------------------------------------------
# Per-user settings (the user config file)

#: The per-user settings the page edits: key -> (label, help).
USER_SETTINGS: dict[str, tuple[str, str]] = {
    "futures_operator": (
        "Futures operator (CME Rule 536-B extOperator)",
        "Who is responsible for futures orders; futures orders are refused without it.",
    ),
    "auto_confirm": (
        "Questions answered yes without asking (auto_confirm)",
        "IBKR question ids, comma separated (o163, o354, ...): answered yes in this user's own orders only.",
    ),
    "manual_orders": (
        "Manual orders (manualIndicator)",
        "Marks orders as entered by a person. The page always sends its own orders as manual; this "
        "setting applies to the adapter and the command line.",
    ),
}


def parse_setting(key: str, raw: Any) -> Any:
    """The value to save for ``key`` (``None`` removes it), checked as IBKRConfig checks it.

    Raises :class:`~axion_broker_ibkr.errors.ConfigError` naming the key on a bad value.
    """
    from ..config import IBKRConfig

    if key not in USER_SETTINGS:
        raise KeyError(key)
    if key == "manual_orders":
        value: Any = True if raw else None  # off is the default: nothing to keep in the file
    elif key == "auto_confirm":
        parts = raw if isinstance(raw, list | tuple) else str(raw or "").split(",")
        value = [p.strip().lower() for p in parts if str(p).strip()] or None
    else:
        value = str(raw or "").strip() or None
    if value is not None:
        IBKRConfig(**{key: value})  # the same checks as every other way in (ConfigError names the key)
    return value


def setting_text(key: str, value: Any) -> str:
    """A setting's value as the page's text input shows it."""
    if value is None:
        return ""
    if key == "auto_confirm":
        return ", ".join(value)
    return str(value)


def display_path(path: Path, home: Path | None = None) -> str:
    """``path`` for the page: under the home directory as ``~/...`` (no user name on screenshots)."""
    home = home or Path.home()
    try:
        return "~/" + path.relative_to(home).as_posix()
    except ValueError:
        return str(path)


def setting_source(key: str, env: Mapping[str, str], file_values: Mapping[str, Any]) -> str:
    """Where the page's value of ``key`` comes from (environment > user file > default)."""
    from ..config import ENV_PREFIX

    name = ENV_PREFIX + key.upper()
    if name in env:
        return f"environment ({name}, wins over the file)"
    if key in file_values:
        return "your config file"
    return "default"


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>#+!|$~"})


def md_escape(text: str) -> str:
    """``text`` shown literally in Streamlit markdown (``DU***567`` is not emphasis)."""
    return text.translate(_MD_SPECIAL)
