"""pacing: one gateway's shared pacing budget (pacing_store = "postgres")

Revision ID: ibkr_0006
Revises: ibkr_0005
Create Date: 2026-12-03

(After ibkr_0005, the question links.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ibkr_0006"
down_revision: str | None = "ibkr_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "ibkr_pacing"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("gateway", sa.String(length=300), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("gateway", name=op.f("pk_ibkr_pacing")),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
