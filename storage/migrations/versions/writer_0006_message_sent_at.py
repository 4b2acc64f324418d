"""Messages keep ``sent_at``: when the sender's system says a message was sent

The ingest API and the channel webhooks read it; until now the writer dropped it.

Revision ID: writer_0006
Revises: ai_0005
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "writer_0006"
down_revision = "ai_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sent_at")
