"""initial: connections (+ events), order log (+ fills), contract cache

Revision ID: ibkr_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ibkr_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _amount(name: str, nullable: bool = True) -> sa.Column[float]:
    """Money, prices, quantities: exact decimals on PostgreSQL, floats in Python."""
    return sa.Column(name, sa.Numeric(precision=24, scale=8, asdecimal=False), nullable=nullable)


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    """Timezone-aware UTC timestamps."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _index(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "ibkr_connections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("account_type", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("gateway_host", sa.String(length=255), nullable=True),
        sa.Column("gateway_port", sa.Integer(), nullable=True),
        _amount("net_liquidation"),
        _amount("buying_power"),
        sa.Column("position_count", sa.Integer(), nullable=True),
        sa.Column("base_currency", sa.String(length=8), nullable=True),
        _ts("last_sync_at"),
        sa.Column("error_message", sa.Text(), nullable=True),
        _ts("connected_at"),
        _ts("disconnected_at"),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ibkr_connections")),
        sa.UniqueConstraint("connection_id", name=op.f("uq_ibkr_connections_connection_id")),
    )
    op.create_table(
        "ibkr_connection_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        _ts("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["ibkr_connections.connection_id"],
            name=op.f("fk_ibkr_connection_events_connection_id_ibkr_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ibkr_connection_events")),
    )
    _index("ibkr_connection_events", "connection_id", "created_at")

    op.create_table(
        "ibkr_order_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("log_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("parent_client_order_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("conid", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("sec_type", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("order_type", sa.String(length=32), nullable=False),
        _amount("quantity", nullable=False),
        _amount("filled_quantity", nullable=False),
        _amount("price"),
        _amount("aux_price"),
        _amount("avg_fill_price"),
        sa.Column("tif", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("ibkr_status", sa.String(length=32), nullable=True),
        sa.Column("exchange", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        _ts("reconciled_at"),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_client_order_id"],
            ["ibkr_order_log.client_order_id"],
            name=op.f("fk_ibkr_order_log_parent_client_order_id_ibkr_order_log"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ibkr_order_log")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_ibkr_order_log_client_order_id")),
        sa.UniqueConstraint("log_id", name=op.f("uq_ibkr_order_log_log_id")),
    )
    _index("ibkr_order_log", "account_id", "created_at", "order_id", "parent_client_order_id", "status")

    op.create_table(
        "ibkr_order_fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        _amount("size", nullable=False),
        _amount("price", nullable=False),
        _amount("commission"),
        sa.Column("exchange", sa.String(length=32), nullable=True),
        _ts("trade_time"),
        _ts("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["ibkr_order_log.client_order_id"],
            name=op.f("fk_ibkr_order_fills_client_order_id_ibkr_order_log"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ibkr_order_fills")),
        sa.UniqueConstraint("execution_id", name=op.f("uq_ibkr_order_fills_execution_id")),
    )
    _index("ibkr_order_fills", "client_order_id")

    op.create_table(
        "ibkr_contract_cache",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cache_key", sa.String(length=512), nullable=False),
        sa.Column("conid", sa.BigInteger(), nullable=False),
        sa.Column("sec_type", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        _amount("multiplier"),
        sa.Column("expiry", sa.String(length=16), nullable=True),
        _amount("strike"),
        sa.Column("right", sa.String(length=4), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("listing_exchange", sa.String(length=32), nullable=True),
        sa.Column("local_symbol", sa.String(length=64), nullable=True),
        sa.Column("trading_class", sa.String(length=32), nullable=True),
        sa.Column("underlying_conid", sa.BigInteger(), nullable=True),
        sa.Column("maturity", sa.String(length=16), nullable=True),
        _amount("coupon"),
        sa.Column("issuer", sa.String(length=128), nullable=True),
        _amount("tick_size"),
        _ts("fetched_at", nullable=False),
        _ts("expires_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ibkr_contract_cache")),
        sa.UniqueConstraint("cache_key", name=op.f("uq_ibkr_contract_cache_cache_key")),
    )
    _index("ibkr_contract_cache", "conid", "expires_at", "symbol")


def downgrade() -> None:
    # Indexes go with their tables; children before parents (foreign keys).
    for table in (
        "ibkr_contract_cache",
        "ibkr_order_fills",
        "ibkr_order_log",
        "ibkr_connection_events",
        "ibkr_connections",
    ):
        op.drop_table(table)
