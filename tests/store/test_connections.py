"""ibkr_connections: the current state and last sync; ibkr_connection_events: every change."""

from __future__ import annotations

from axion_broker_ibkr.models import GatewayStatus, Position, SummaryValue
from axion_broker_ibkr.store import Store, connection_key
from axion_broker_ibkr.store.connections import gateway_status_word, record_gateway_status, sync_account


def test_connect_status_sync_disconnect_are_recorded(store: Store) -> None:
    rec = store.connections(
        mode="gateway", gateway_host="localhost", gateway_port=5000, account_id="DU1234567"
    )
    assert rec.connection_id == connection_key("gateway", "localhost", 5000, "DU1234567")
    assert rec.current() is None

    rec.connected(message="authenticated")
    rec.status_changed("competing", message="another session (TWS) for DU1234567")
    rec.status_changed("competing")  # unchanged: no new event
    rec.status_changed("connected")
    rec.account_synced(
        net_liquidation=1_000_123.45, buying_power=4_000_493.8, position_count=3, base_currency="USD"
    )
    rec.disconnected(reason="shutdown")

    row = rec.current()
    assert row is not None
    assert (row.status, row.mode, row.gateway_host, row.gateway_port) == (
        "disconnected",
        "gateway",
        "localhost",
        5000,
    )
    assert (row.account_id, row.account_type) == ("DU1234567", "paper")
    assert row.net_liquidation == 1_000_123.45
    assert (row.buying_power, row.position_count, row.base_currency) == (4_000_493.8, 3, "USD")
    assert row.last_sync_at is not None
    assert row.connected_at is not None
    assert row.disconnected_at is not None
    assert row.disconnected_at >= row.connected_at

    events = [(e.event, e.status) for e in rec.events()]
    assert events == [
        ("connect", "connected"),
        ("status", "competing"),
        ("status", "connected"),
        ("account_sync", "connected"),
        ("disconnect", "disconnected"),
    ]
    competing = rec.events()[1]
    assert competing.message is not None
    assert "DU1234567" not in competing.message  # masked
    assert rec.events()[3].details["position_count"] == 3


def test_errors_are_kept_and_cleared_on_reconnect(store: Store) -> None:
    rec = store.connections(mode="sim", gateway_host="127.0.0.1", gateway_port=5001)
    rec.status_changed("error", error="connection refused")
    row = rec.current()
    assert row is not None
    assert (row.status, row.error_message) == ("error", "connection refused")
    rec.connected()
    row = rec.current()
    assert row is not None
    assert (row.status, row.error_message) == ("connected", None)


def test_each_connection_has_its_own_row(store: Store) -> None:
    a = store.connections(mode="sim", gateway_host="127.0.0.1", gateway_port=1, account_id="DU1")
    b = store.connections(mode="gateway", gateway_host="localhost", gateway_port=5000, account_id="U7654321")
    a.connected()
    b.connected()
    row = b.current()
    assert row is not None
    assert row.account_type == "live"
    assert [e.event for e in a.events()] == ["connect"]


def test_gateway_status_words_and_changes(store: Store) -> None:
    rec = store.connections(mode="gateway", gateway_host="localhost", gateway_port=5000)

    def status(**kw: object) -> GatewayStatus:
        return GatewayStatus(mode="gateway", url="https://localhost:5000/v1/api", **kw)  # type: ignore[arg-type]

    assert gateway_status_word(status()) == "unreachable"
    assert gateway_status_word(status(reachable=True)) == "no_session"
    assert gateway_status_word(status(reachable=True, sso_session=True)) == "unauthenticated"
    assert gateway_status_word(status(reachable=True, connected=True, authenticated=True)) == "authenticated"
    assert gateway_status_word(status(reachable=True, connected=True, competing=True)) == "competing"

    healthy = status(reachable=True, connected=True, authenticated=True)
    record_gateway_status(rec, healthy)
    record_gateway_status(rec, healthy)  # no change, no event
    record_gateway_status(rec, status(reachable=True, connected=True, competing=True, fail="competing"))
    assert [(e.event, e.status) for e in rec.events()] == [
        ("status", "authenticated"),
        ("status", "competing"),
    ]
    row = rec.current()
    assert row is not None
    assert row.error_message == "competing"


class FakeAccounts:
    account_id = "DU1234567"

    def account_summary(self, account_id: str | None = None) -> dict[str, SummaryValue]:
        assert account_id == "DU1234567"
        return {
            "netliquidation": SummaryValue(amount=1_000_000.5, currency="USD"),
            "buyingpower": SummaryValue(amount=4_000_002.0, currency="USD"),
            "accountready": SummaryValue(value="true"),
        }

    def positions(self, account_id: str | None = None) -> list[Position]:
        return [
            Position(conid=1, position=10.0),
            Position(conid=2, position=-5.0),
            Position(conid=3, position=0.0),
        ]


def test_sync_account_from_a_client(store: Store) -> None:
    rec = store.connections(mode="sim", gateway_host="127.0.0.1", gateway_port=5001, account_id="DU1234567")
    sync_account(rec, FakeAccounts())
    row = rec.current()
    assert row is not None
    assert (row.net_liquidation, row.buying_power, row.position_count, row.base_currency) == (
        1_000_000.5,
        4_000_002.0,
        2,
        "USD",
    )
    assert [e.event for e in rec.events()] == ["account_sync"]
