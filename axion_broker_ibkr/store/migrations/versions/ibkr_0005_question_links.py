"""question links: an order placed again after its IBKR question expired names the first order

Revision ID: ibkr_0005
Revises: ibkr_0004
Create Date: 2026-12-03

``ibkr_order_log.linked_client_order_id`` (nullable, indexed): set on the row of a ticket placed
again under a new cOID because the first order's question expired before it was answered yes.
The ``awaiting_answer`` status needs no schema change (``status`` is a plain string).
(The revision ids of this chain are the short ``ibkr_000N`` ones; ``ibkr_0004`` is the
contract-rules migration, file ``ibkr_0004_contract_rules.py``.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ibkr_0005"
down_revision: str | None = "ibkr_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "ibkr_order_log"
COLUMN = "linked_client_order_id"
INDEX = "ix_ibkr_order_log_linked_client_order_id"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column(COLUMN, sa.String(64), nullable=True))
        batch.create_index(INDEX, [COLUMN])


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_index(INDEX)
        batch.drop_column(COLUMN)
