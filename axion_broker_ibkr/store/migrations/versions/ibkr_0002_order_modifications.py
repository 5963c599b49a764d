"""order modifications: one row per modification of a live order (write-ahead, then settled)

Revision ID: ibkr_0002
Revises: ibkr_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ibkr_0002"
down_revision: str | None = "ibkr_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "ibkr_order_modifications"


def _amount(name: str, nullable: bool = True) -> sa.Column[float]:
    """Prices and quantities: exact decimals on PostgreSQL, floats in Python (as in ibkr_0001)."""
    return sa.Column(name, sa.Numeric(precision=24, scale=8, asdecimal=False), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("order_type", sa.String(length=32), nullable=False),
        _amount("quantity", nullable=False),
        _amount("price"),
        _amount("aux_price"),
        sa.Column("tif", sa.String(length=16), nullable=True),
        sa.Column("previous", sa.JSON(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("ibkr_status", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["ibkr_order_log.client_order_id"],
            name=op.f("fk_ibkr_order_modifications_client_order_id_ibkr_order_log"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ibkr_order_modifications")),
    )
    for column in ("client_order_id", "order_id", "status"):
        op.create_index(op.f(f"ix_{TABLE}_{column}"), TABLE, [column], unique=False)


def downgrade() -> None:
    op.drop_table(TABLE)  # its indexes go with it
