"""contract rules: the resolver's cache keeps each contract's /iserver/contract/rules answer

Revision ID: ibkr_0004
Revises: ibkr_0002
Create Date: 2026-12-03

(Another branch adds ibkr_0003 for the order log; the integrator chains the two.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ibkr_0004"
down_revision: str | None = "ibkr_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "ibkr_contract_cache"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("rules", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("rules")
