"""Conversations are found by contact and channel through one index on both

The writer finds a sender's conversation by (contact, channel) for every batch of
first-contact messages. With only single-column indexes, Postgres (deciding with no
statistics yet, as on a fresh install under a burst of new senders) walked the channel's
index and filtered on the contact: every lookup read all of that channel's conversations,
57 ms per batch at 24,000 of them. The index on (contact_id, channel_id) answers it in
one probe and serves every lookup by contact alone, so it replaces the contact_id index.

Revision ID: ingest_0008
Revises: inbox2_0007
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "ingest_0008"
down_revision = "inbox2_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_conversations_contact_channel", "conversations", ["contact_id", "channel_id"]
    )
    op.drop_index("ix_conversations_contact_id", table_name="conversations")


def downgrade() -> None:
    op.create_index("ix_conversations_contact_id", "conversations", ["contact_id"])
    op.drop_index("ix_conversations_contact_channel", table_name="conversations")
