"""A workspace can switch CSAT surveys off; operators can keep a small picture

Revision ID: inbox2_0007
Revises: inboxday_0006
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "inbox2_0007"
down_revision = "media_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("csat_enabled", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("avatar_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "operator_avatars",
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("mime", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_avatars_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_operator_avatars_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operator_id", name=op.f("pk_operator_avatars")),
    )
    with op.batch_alter_table("operator_avatars", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operator_avatars_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("operator_avatars")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("avatar_at")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("csat_enabled")
