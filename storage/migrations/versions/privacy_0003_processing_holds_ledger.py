"""privacy: contact processing (restriction, objection), operator deletion, legal holds,
erasure ledger

Revision ID: privacy_0003
Revises: 0003_calendar
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "privacy_0003"
down_revision = "0003_calendar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("processing", sa.String(length=16), server_default="normal", nullable=False)
        )
        batch_op.add_column(
            sa.Column("processing_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("processing_changed_by", sa.String(length=40), nullable=True))
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_legal_holds_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_legal_holds_workspace_id"), ["workspace_id"], unique=False
        )
    op.create_table(
        "erasure_ledger",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("contact_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_ledger")),
    )
    with op.batch_alter_table("erasure_ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasure_ledger_erased_at"), ["erased_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("erasure_ledger")
    op.drop_table("legal_holds")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("processing_changed_by")
        batch_op.drop_column("processing_changed_at")
        batch_op.drop_column("processing")
