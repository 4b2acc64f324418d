"""Widget visitors store nothing before their first message: consent answers given before
it wait in pending_consents; the erasure ledger is indexed by contact hash; operators keep
their notification preferences; CSAT surveys and their ratings

Revision ID: inboxday_0006
Revises: ai_0005
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "inboxday_0006"
down_revision = "inboxteam_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", sa.JSON(), nullable=True))
    op.create_table(
        "pending_consents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_pending_consents_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_consents")),
    )
    with op.batch_alter_table("pending_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_consents_workspace_id"), ["workspace_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pending_consents_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_pending_consents_at"), ["at"], unique=False)
    op.create_table(
        "csat_ratings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.String(length=40), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=True),
        sa.Column("team_id", sa.String(length=40), nullable=True),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_csat_ratings_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_csat_ratings_operator_id_operators"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_csat_ratings_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_csat_ratings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_ratings")),
    )
    with op.batch_alter_table("csat_ratings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_csat_ratings_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            "ix_csat_ratings_workspace_requested", ["workspace_id", "requested_at"], unique=False
        )
    with op.batch_alter_table("erasure_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_erasure_ledger_workspace_hash", ["workspace_id", "contact_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("erasure_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_erasure_ledger_workspace_hash")
    op.drop_table("csat_ratings")
    op.drop_table("pending_consents")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("notify")
