"""A flow event's actions outside the database, kept until carried out

Written in the transaction that stores the run's new state; deleted once the bot's
messages (and the rest) are out; the worker carries out rows whose lease from
``leased_at`` ran out (a process killed in between).

Revision ID: carry_0010
Revises: flows_0009
Create Date: 2026-12-07 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "carry_0010"
down_revision = "flows_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_pending_actions",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["flow_runs.id"],
            name=op.f("fk_flow_pending_actions_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_flow_pending_actions")),
    )
    with op.batch_alter_table("flow_pending_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_pending_actions_run_id"), ["run_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_flow_pending_actions_leased_at"), ["leased_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("flow_pending_actions")
