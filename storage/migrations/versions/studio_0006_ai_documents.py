"""AI: the documents a workspace maintains for ai_reply to answer from

Revision ID: studio_0006
Revises: ai_0005
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "studio_0006"
down_revision = "billing_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_documents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ai_documents_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_documents")),
    )
    with op.batch_alter_table("ai_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ai_documents_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ai_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_documents_workspace_id"))
    op.drop_table("ai_documents")
