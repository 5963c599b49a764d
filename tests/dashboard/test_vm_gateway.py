"""The Gateway tab's view-models: health in plain words, stream channels, pacing, OAuth, outcomes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest

from axion_broker_ibkr.dashboard import vm_gateway as vm
from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.models import GatewayStatus

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
HEALTHY = GatewayStatus(
    mode="gateway", url="https://localhost:5000/v1/api", reachable=True, sso_session=True,
    connected=True, authenticated=True, selected_account="DU1234567",
    last_tickle=NOW - dt.timedelta(seconds=42), reauthentications=1,
)  # fmt: skip
PACING = vm.Pacing(blocked_for=0.0, sent=12, per_minute=50)


def _rows(status: GatewayStatus = HEALTHY, **kw: object) -> dict[str, str]:
    kw.setdefault("pacing", PACING)
    kw.setdefault("stream", None)
    return {r[""]: r["Value"] for r in vm.health_rows(status, now=NOW, **kw)}  # type: ignore[arg-type]


def test_health_rows_in_plain_words_with_the_account_masked() -> None:
    rows = _rows(stream_note="not started yet")
    assert rows["Connected"] == "yes, linked to IBKR's servers"
    assert rows["Competing session"] == "none"
    assert rows["Account"] == "DU***567"
    assert rows["Last tickle"] == "42 s ago"
    assert rows["Pacing"].startswith("Within limits: no back-off; this page may send up to 50 requests")
    assert rows["Stream"] == "not started yet"
    assert "Certificate" not in rows and "OAuth token" not in rows
    assert "DU1234567" not in str(rows)


def test_untrusted_gateway_row_names_the_fingerprint() -> None:
    status = attrs.evolve(HEALTHY, trusted=False, certificate_fingerprint="sha256:ab12", authenticated=False)
    assert _rows(status)["Certificate"] == "not trusted (fingerprint sha256:ab12)"


def test_stream_channels_each_get_a_sentence() -> None:
    health = {
        "orders": {"state": "live", "last_message_age": 1.4, "resubscribes": 0},
        "quote": {"state": "silent", "last_message_age": 40.0, "resubscribes": 2},
        "pnl": {"state": "polling", "last_message_age": None, "resubscribes": 1},
        "trades": {"state": "down", "last_message_age": None, "resubscribes": 0},
    }
    rows = _rows(stream=health)
    assert rows["Stream: Orders (sor)"] == "live, last message 1 s ago"
    assert rows["Stream: Quotes (smd)"] == (
        "silent (last message 40 s ago); the subscription is re-sent; re-subscribed 2 times"
    )
    assert (
        rows["Stream: P&L (spl)"] == "socket down: polling over REST until it is back; re-subscribed 1 time"
    )
    assert rows["Stream: Fills (str)"] == "down (no message yet)"
    assert _rows(stream={})["Stream"] == "connected, no channel subscribed yet"


def test_stream_health_fallback_from_stats() -> None:
    stats = {
        "connected": True,
        "subscriptions": [
            {"channel": "orders", "target": "", "sends": 3, "active": True},
            {"channel": "quote", "target": "265598", "sends": 1, "active": False},
        ],
    }
    health = vm.stream_health_fallback(stats)
    assert health["orders"] == {"state": "live", "last_message_age": None, "resubscribes": 2}
    assert health["quote"]["state"] == "down"
    assert all(
        h["state"] == "down" for h in vm.stream_health_fallback({**stats, "connected": False}).values()
    )


def test_pacing_names_the_back_off() -> None:
    text = vm.pacing_text(vm.Pacing(blocked_for=54.2, sent=80, per_minute=50))
    assert text.startswith("Backing off after IBKR answered 429 (too many requests): 54 s left")


def test_oauth_rows_only_when_the_status_carries_them() -> None:
    assert vm.oauth_rows(HEALTHY, now=NOW) == []

    @attrs.define(frozen=True, kw_only=True)
    class OAuthStatus(GatewayStatus):  # the oauth helper's fields, as they will be
        oauth_token_expires_at: float | None = None
        oauth_refreshes: int = 0

    status = OAuthStatus(mode="oauth", url="https://api.ibkr.com/v1/api",
                         oauth_token_expires_at=NOW.timestamp() + 600, oauth_refreshes=3)  # fmt: skip
    [row] = vm.oauth_rows(status, now=NOW)
    assert row["Value"] == "expires 2026-12-03 12:10 UTC (in 10 min); refreshed 3 times"


def test_action_outcomes_say_what_happened() -> None:
    dropped = attrs.evolve(HEALTHY, authenticated=False)
    level, text = vm.action_outcome("reauth", dropped, HEALTHY)
    assert level == "success" and text.startswith("Re-authenticate: opened the brokerage session again")
    competing = attrs.evolve(HEALTHY, competing=True)
    level, text = vm.action_outcome("takeover", competing, HEALTHY)
    assert "the other platform (TWS, IBKR Mobile) was logged out" in text
    level, text = vm.action_outcome(
        "reauth", dropped, attrs.evolve(HEALTHY, sso_session=False, authenticated=False)
    )
    assert level == "error" and "Not logged in" in text


def test_parse_setting_checks_like_the_config() -> None:
    assert vm.parse_setting("auto_confirm", "O163, o354 ,") == ["o163", "o354"]
    assert vm.parse_setting("auto_confirm", "") is None
    assert vm.parse_setting("futures_operator", "  jdoe ") == "jdoe"
    assert vm.parse_setting("futures_operator", "  ") is None
    assert vm.parse_setting("manual_orders", True) is True
    assert vm.parse_setting("manual_orders", False) is None  # the default: removed from the file
    with pytest.raises(ConfigError, match="auto_confirm"):
        vm.parse_setting("auto_confirm", "yes please")


def test_setting_source_order() -> None:
    env = {"AXION_IBKR_FUTURES_OPERATOR": "x"}
    assert vm.setting_source("futures_operator", env, {"futures_operator": "y"}).startswith("environment")
    assert vm.setting_source("auto_confirm", env, {"auto_confirm": ["o163"]}) == "your config file"
    assert vm.setting_source("manual_orders", env, {}) == "default"


def test_md_escape_keeps_masked_accounts_literal() -> None:
    assert vm.md_escape("DU***567 $5") == r"DU\*\*\*567 \$5"


def test_display_path_hides_the_home_directory(tmp_path: Path) -> None:
    assert vm.display_path(tmp_path / ".config" / "x.toml", home=tmp_path) == "~/.config/x.toml"
    assert vm.display_path(Path("/etc/x.toml"), home=tmp_path) == "/etc/x.toml"


def test_oauth_mode_is_named_as_such() -> None:
    rows = _rows(attrs.evolve(HEALTHY, mode="oauth", url="https://api.ibkr.com/v1/api"))
    assert rows["Gateway"] == "IBKR's Web API (OAuth) at https://api.ibkr.com/v1/api (oauth mode)"
