"""client_id per author: one author's resend is deduplicated, another author's equal id is not

Revision ID: storagefaults_0003
Revises: 0002
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "storagefaults_0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD = "uq_messages_conversation_id_client_id"
NEW = "uq_messages_conversation_id_client_id_author_kind_author_id"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(OLD), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f(NEW), ["conversation_id", "client_id", "author_kind", "author_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(NEW), type_="unique")
        batch_op.create_unique_constraint(batch_op.f(OLD), ["conversation_id", "client_id"])
