"""inbox: delivery state, private notes, canned responses, full-text search

Messages gain ``error_code``, ``attempts``, ``next_attempt_at`` (where a send stands) and
``private`` (a note for operators only). ``canned_responses`` holds saved replies.
Conversations gain ``snoozed_until`` (the worker reopens them then).

Search has one branch per database: on Postgres a GIN index over the messages' text as a
``simple`` tsvector (no stemming: a workspace writes in many languages); on SQLite an FTS5
table over the messages' text (external content: the text is stored once, in
``messages``), kept in step by triggers, so an erased message leaves the index with it.
Both stay out of the models' metadata (see :mod:`storage.search`).

Revision ID: inbox_0003
Revises: flows_0004
Create Date: 2026-12-07 05:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "inbox_0003"
down_revision = "flows_0004"
branch_labels = None
depends_on = None

SQLITE_UP = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "text, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.rowid, new.text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);"
    " END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);"
    " INSERT INTO messages_fts(rowid, text) VALUES (new.rowid, new.text); END",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TABLE IF EXISTS messages_fts",
)
POSTGRES_UP = ("CREATE INDEX ix_messages_fts ON messages USING gin (to_tsvector('simple', text))",)
POSTGRES_DOWN = ("DROP INDEX IF EXISTS ix_messages_fts",)


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_conversations_snoozed_until"), ["snoozed_until"], unique=False
        )
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=True),
        sa.Column("shortcut", sa.String(length=50), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_canned_responses_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_canned_responses_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
    )
    with op.batch_alter_table("canned_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_canned_responses_workspace_id"), ["workspace_id"], unique=False
        )
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    statements = SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN
    for statement in statements:
        op.execute(statement)
    with op.batch_alter_table("canned_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_canned_responses_workspace_id"))
    op.drop_table("canned_responses")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_snoozed_until"))
        batch_op.drop_column("snoozed_until")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("private")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("error_code")
