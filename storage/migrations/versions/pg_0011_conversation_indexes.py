"""Conversations keep only the indexes a query reads: fewer to write per message

Every message rewrites its conversation's row (its counters, ``updated_at``,
``last_message_at``). ``updated_at`` is indexed, so the update is never HOT: Postgres
adds an entry to every index of the table, for every conversation of every batch (7 of
the writer's 15 WAL records per message, measured with ``bench/writer_explain.py``).
Three of those indexes earned nothing:

- ``ix_conversations_last_message_at``: no query orders or filters by the column alone
  (retention reads ``coalesce(last_message_at, created_at)`` per workspace);
- ``ix_conversations_workspace_id``: every lookup by workspace is served by
  ``ix_conversations_workspace_updated``, which leads with it;
- ``ix_conversations_snoozed_until``, on every row though only snoozed conversations
  have the column: now partial, so an update of an unsnoozed conversation adds nothing
  to it (the worker's ``snoozed_until <= now`` implies the predicate).

Revision ID: pg_0011
Revises: carry_0010
Create Date: 2026-12-08 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "pg_0011"
down_revision = "carry_0010"
branch_labels = None
depends_on = None

SNOOZED = sa.text("snoozed_until IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_last_message_at")
        batch_op.drop_index("ix_conversations_workspace_id")
        batch_op.drop_index("ix_conversations_snoozed_until")
        batch_op.create_index(
            "ix_conversations_snoozed_until",
            ["snoozed_until"],
            postgresql_where=SNOOZED,
            sqlite_where=SNOOZED,
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_snoozed_until")
        batch_op.create_index("ix_conversations_snoozed_until", ["snoozed_until"])
        batch_op.create_index("ix_conversations_workspace_id", ["workspace_id"])
        batch_op.create_index("ix_conversations_last_message_at", ["last_message_at"])
