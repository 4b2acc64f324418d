"""The schema: SQLAlchemy 2 declarative models, identical on SQLite and Postgres.

Nouns follow the domain: a workspace has operators and channels; a contact reaches the
workspace through one identity per channel; a conversation belongs to one contact on one
channel; messages have a gap-free ``seq`` per conversation. Ids are opaque strings made
by :func:`hub.ids.new_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.ids import new_id
from hub.model import utcnow

ID = String(40)

naming = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


def table_of(model: type[Base]) -> Table:
    """The model's Core table, typed as a Table (``__table__`` is typed as a FromClause)."""
    return cast(Table, model.__table__)


def _id(prefix: str) -> Mapped[str]:
    return mapped_column(ID, primary_key=True, default=lambda: new_id(prefix))


def _created() -> Mapped[datetime]:
    return mapped_column(default=utcnow)


def _workspace_fk() -> Mapped[str]:
    return mapped_column(ID, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[str] = _id("ws_")
    name: Mapped[str] = mapped_column(String(200))
    retention_days: Mapped[int | None]
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    business_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    require_2fa: Mapped[bool] = mapped_column(Boolean, default=False)
    agents_may_export: Mapped[bool] = mapped_column(Boolean, default=False)
    ai_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Tokens the workspace's AI calls may use per calendar month (UTC); None: no limit.
    ai_monthly_tokens: Mapped[int | None]
    created_at: Mapped[datetime] = _created()
    # Deleted workspaces stay recoverable for a while, then retention purges them.
    deleted_at: Mapped[datetime | None]


class Operator(Base):
    __tablename__ = "operators"
    id: Mapped[str] = _id("op_")
    workspace_id: Mapped[str] = _workspace_fk()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # owner | admin | agent
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[str | None] = mapped_column(Text)  # encrypted at rest
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last TOTP time step accepted: a code is good once, enforced by a conditional UPDATE.
    totp_last_step: Mapped[int | None]
    created_at: Mapped[datetime] = _created()


class BackupCode(Base):
    __tablename__ = "backup_codes"
    id: Mapped[str] = _id("bc_")
    operator_id: Mapped[str] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class Session(Base):
    """A signed-in browser. The cookie carries the signed id; only its hash is stored."""

    __tablename__ = "sessions"
    id: Mapped[str] = _id("ses_")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[str] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = _id("tok_")
    workspace_id: Mapped[str] = _workspace_fk()
    operator_id: Mapped[str] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """One failed sign-in, keyed by account and by address, for throttling."""

    __tablename__ = "login_failures"
    id: Mapped[str] = _id("lf_")
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Channel(Base):
    __tablename__ = "channels"
    id: Mapped[str] = _id("ch_")
    workspace_id: Mapped[str] = _workspace_fk()
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # readable settings
    secrets: Mapped[str | None] = mapped_column(Text)  # encrypted JSON, write-only via the API
    public_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # widget embed key
    ingest_token_hash: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _created()


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[str] = _id("ct_")
    workspace_id: Mapped[str] = _workspace_fk()
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactIdentity(Base):
    """The contact on one channel, with the channel's own user id (phone, PSID, Viber id)."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("channel_id", "external_id"),)
    id: Mapped[str] = _id("ci_")
    workspace_id: Mapped[str] = _workspace_fk()
    channel_id: Mapped[str] = mapped_column(ID, ForeignKey("channels.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(
        ID, ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_workspace_updated", "workspace_id", "updated_at"),)
    id: Mapped[str] = _id("cv_")
    workspace_id: Mapped[str] = _workspace_fk()
    channel_id: Mapped[str] = mapped_column(
        ID, ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[str] = mapped_column(
        ID, ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="SET NULL")
    )
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The operators' read position, for unread counts in the inbox.
    read_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(index=True)
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_id"),
        UniqueConstraint("channel_id", "provider_message_id"),
        Index("ix_messages_workspace_created", "workspace_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ID, ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    channel_id: Mapped[str] = mapped_column(ID, ForeignKey("channels.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(ID)
    author_name: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()
    # Structured content beside ``text`` (a WhatsApp template send: ``{"template": ...}``).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ErasedProviderMessage(Base):
    """A tombstone: a provider redelivering an erased message must not bring it back.

    Only a hash of the provider's id is kept, never the content.
    """

    __tablename__ = "erased_provider_messages"
    channel_id: Mapped[str] = mapped_column(
        ID, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxItem(Base):
    """An operator reply waiting to be sent to an external channel by the worker."""

    __tablename__ = "outbox"
    id: Mapped[str] = _id("ob_")
    workspace_id: Mapped[str] = _workspace_fk()
    message_id: Mapped[str] = mapped_column(
        ID, ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class Booking(Base):
    __tablename__ = "bookings"
    id: Mapped[str] = _id("bk_")
    workspace_id: Mapped[str] = _workspace_fk()
    contact_id: Mapped[str] = mapped_column(
        ID, ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(String(16))  # google | microsoft
    provider_event_id: Mapped[str | None] = mapped_column(String(1024))
    summary: Mapped[str] = mapped_column(String(500))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    created_at: Mapped[datetime] = _created()


class Flow(Base):
    __tablename__ = "flows"
    id: Mapped[str] = _id("fl_")
    workspace_id: Mapped[str] = _workspace_fk()
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(32))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created()


class AiCall(Base):
    """One call to the AI provider, or one refused before it (outcome ``budget_spent``,
    ``restricted``): what was sent and answered lives and dies with its conversation."""

    __tablename__ = "ai_calls"
    __table_args__ = (Index("ix_ai_calls_conversation_at", "conversation_id", "at"),)
    id: Mapped[str] = _id("ai_")
    workspace_id: Mapped[str] = _workspace_fk()
    conversation_id: Mapped[str] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    feature: Mapped[str] = mapped_column(String(32))  # summary | suggest_reply | ai_classify ...
    step: Mapped[str | None] = mapped_column(String(64))  # the flow step id, for a step
    at: Mapped[datetime] = mapped_column(default=utcnow)
    model: Mapped[str] = mapped_column(String(200), default="")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32))  # ok | failed | invalid | refusals
    detail: Mapped[str | None] = mapped_column(String(300))
    sent: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # redacted messages
    answer: Mapped[str | None] = mapped_column(Text)


class AiUsage(Base):
    """Tokens a workspace's AI calls used in one month, for its budget. Counts only, so
    it outlives erased conversations (an erasure does not refill a budget)."""

    __tablename__ = "ai_usage"
    workspace_id: Mapped[str] = mapped_column(
        ID, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    tokens: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """A security or data event. Never holds personal data or secrets: ids only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_workspace_at", "workspace_id", "at"),)
    id: Mapped[str] = _id("au_")
    workspace_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(ID)
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(ID)
    ip: Mapped[str | None] = mapped_column(String(64))
