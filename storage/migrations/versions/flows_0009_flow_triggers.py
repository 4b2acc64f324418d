"""Contact messages that may start or advance a flow, queued with the message

The writer adds a row in the message's own transaction; the runner deletes it once it
decided, and the worker takes rows whose lease from ``leased_at`` ran out (a process
killed between the acknowledgement and the flow's run).

Revision ID: flows_0009
Revises: ingest_0008
Create Date: 2026-12-07 19:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "flows_0009"
down_revision = "ingest_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_triggers",
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_flow_triggers_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_flow_triggers")),
    )
    with op.batch_alter_table("flow_triggers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_triggers_workspace_id"), ["workspace_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_flow_triggers_leased_at"), ["leased_at"], unique=False)


def downgrade() -> None:
    op.drop_table("flow_triggers")
