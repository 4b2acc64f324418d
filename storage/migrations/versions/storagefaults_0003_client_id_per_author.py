"""client_id per author: one author's resend is deduplicated, another author's equal id is not

Revision ID: storagefaults_0003
Revises: limits_drop_login_failures
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "storagefaults_0003"
down_revision = "limits_drop_login_failures"
branch_labels = None
depends_on = None

OLD = "uq_messages_conversation_id_client_id"
NEW = "uq_messages_conversation_id_client_id_author"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(OLD), type_="unique")
    op.create_index(
        NEW,
        "messages",
        ["conversation_id", "client_id", "author_kind", "author_id"],
        unique=True,
        postgresql_where=sa.text("client_id IS NOT NULL"),
        sqlite_where=sa.text("client_id IS NOT NULL"),
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_index(NEW, table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f(OLD), ["conversation_id", "client_id"])
