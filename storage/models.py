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
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
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
    # The purpose the widget asks visitors' consent to (None: it asks nothing, the
    # default); the version counts the texts, so each answer names the text it answered.
    consent_text: Mapped[str | None] = mapped_column(Text)
    consent_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Whether contacts are asked to rate a resolved conversation (web/csat.py).
    csat_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())


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
    # Set when an owner deleted the account: the row stays, without personal data, so
    # messages and audit entries keep pointing at "former operator".
    deleted_at: Mapped[datetime | None]
    # What the inbox notifies this operator of (web/api/notifications.py); None: defaults.
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When the operator last set their picture (OperatorAvatar); None: initials are shown.
    avatar_at: Mapped[datetime | None]


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
    # normal | restricted | objected (storage.processing); who set it last, and when.
    processing: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    processing_changed_at: Mapped[datetime | None]
    processing_changed_by: Mapped[str | None] = mapped_column(ID)


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
    __table_args__ = (
        # Also every lookup by workspace alone. Every message rewrites its conversation's
        # row, and each index here is written for each (the update is never HOT: updated_at
        # is indexed), so there is no index no query reads.
        Index("ix_conversations_workspace_updated", "workspace_id", "updated_at"),
        # A sender's conversation on a channel (the writer, per first-contact batch); also
        # every lookup by contact alone.
        Index("ix_conversations_contact_channel", "contact_id", "channel_id"),
        # Only snoozed conversations have an entry: the worker's "snoozed_until <= now".
        Index(
            "ix_conversations_snoozed_until",
            "snoozed_until",
            postgresql_where=text("snoozed_until IS NOT NULL"),
            sqlite_where=text("snoozed_until IS NOT NULL"),
        ),
    )
    id: Mapped[str] = _id("cv_")
    workspace_id: Mapped[str] = mapped_column(ID, ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(
        ID, ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[str] = mapped_column(ID, ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="SET NULL")
    )
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    team_id: Mapped[str | None] = mapped_column(ID, ForeignKey("teams.id", ondelete="SET NULL"))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The operators' read position, for unread counts in the inbox.
    read_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None]
    last_inbound_at: Mapped[datetime | None]
    # Snoozed: ``pending`` until then, when the worker reopens it.
    snoozed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


CLIENT_ID_INDEX = "uq_messages_conversation_id_client_id_author"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        # A client_id is its author's: an operator's and a visitor's equal ids are two
        # messages. An author without id is one author (NULLS NOT DISTINCT: Postgres 15+;
        # SQLite's one writer finds copies inside its exclusive transaction).
        Index(
            CLIENT_ID_INDEX,
            "conversation_id",
            "client_id",
            "author_kind",
            "author_id",
            unique=True,
            postgresql_where=text("client_id IS NOT NULL"),
            sqlite_where=text("client_id IS NOT NULL"),
            postgresql_nulls_not_distinct=True,
        ),
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
    # Why a send failed (or why its last attempt did, while it waits to retry): a sentence
    # for people, and the provider's error code or one of ours.
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    # A private note: operators only; never published to the visitor, never sent out.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    client_id: Mapped[str | None] = mapped_column(String(64))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()
    # When its sender's system says it was sent (a provider's timestamp, the ingest API's
    # ``sent_at``); ``created_at`` is when the hub stored it. Unknown for most messages.
    sent_at: Mapped[datetime | None]
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


class CalendarConnection(Base):
    """An operator's Google or Microsoft calendar, connected through OAuth.

    ``tokens`` is Fernet-encrypted JSON (access and refresh token, expiry), deleted on
    disconnect; ``disconnected_at`` starts the 30 days after which retention removes the
    cached event metadata of its bookings (``cache_purged_at`` says when that happened).
    """

    __tablename__ = "calendar_connections"
    id: Mapped[str] = _id("cal_")
    workspace_id: Mapped[str] = _workspace_fk()
    provider: Mapped[str] = mapped_column(String(16))  # google | microsoft
    account: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(16), default="connected")  # | broken | disconnected
    tokens: Mapped[str | None] = mapped_column(Text)
    availability_calendars: Mapped[list[str]] = mapped_column(JSON, default=list)
    event_calendar: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = _created()
    disconnected_at: Mapped[datetime | None] = mapped_column(index=True)
    cache_purged_at: Mapped[datetime | None]


class OAuthState(Base):
    """One pending OAuth redirect: single use, expiring, bound to the operator's session.

    Only a hash of ``state`` is kept; the PKCE verifier is encrypted.
    """

    __tablename__ = "oauth_states"
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = _workspace_fk()
    operator_id: Mapped[str] = mapped_column(ID, ForeignKey("operators.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))
    verifier: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class BookingType(Base):
    """What a workspace lets contacts book (CONTRACT.md, "Calendars and bookings")."""

    __tablename__ = "booking_types"
    id: Mapped[str] = _id("bt_")
    workspace_id: Mapped[str] = _workspace_fk()
    calendar_id: Mapped[str] = mapped_column(
        ID, ForeignKey("calendar_connections.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    days_ahead: Mapped[int] = mapped_column(Integer, default=30)
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _created()


class CannedResponse(Base):
    """A saved reply: workspace-wide (``operator_id`` None) or one operator's own."""

    __tablename__ = "canned_responses"
    id: Mapped[str] = _id("cr_")
    workspace_id: Mapped[str] = _workspace_fk()
    operator_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="CASCADE")
    )
    shortcut: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Booking(Base):
    """An appointment. Two live bookings of one calendar never share a start (the unique
    index is the last word when two contacts race for one slot)."""

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_live_start",
            "calendar_id",
            "starts_at",
            unique=True,
            sqlite_where=text("status = 'confirmed'"),
            postgresql_where=text("status = 'confirmed'"),
        ),
    )
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
    booking_type_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("booking_types.id", ondelete="SET NULL")
    )
    calendar_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("calendar_connections.id", ondelete="SET NULL"), index=True
    )
    event_calendar: Mapped[str | None] = mapped_column(String(1024))


class Flow(Base):
    """A Studio flow: ``definition`` is the draft document (trigger, start, steps);
    ``version`` is the newest published one while ``status`` is ``published``."""

    __tablename__ = "flows"
    id: Mapped[str] = _id("fl_")
    workspace_id: Mapped[str] = _workspace_fk()
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(32))  # the draft trigger's ``on``
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlowVersion(Base):
    """A published version of a flow, frozen: runs keep the version they started with."""

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("flow_id", "version"),)
    id: Mapped[str] = _id("fv_")
    workspace_id: Mapped[str] = _workspace_fk()
    flow_id: Mapped[str] = mapped_column(ID, ForeignKey("flows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = _created()


class FlowRun(Base):
    """One run of a flow version in a conversation; ``state`` is the interpreter's."""

    __tablename__ = "flow_runs"
    __table_args__ = (Index("ix_flow_runs_conversation_status", "conversation_id", "status"),)
    id: Mapped[str] = _id("fr_")
    workspace_id: Mapped[str] = _workspace_fk()
    flow_id: Mapped[str] = mapped_column(ID, ForeignKey("flows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    conversation_id: Mapped[str] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlowRunStep(Base):
    """What the bot did at a step of a run (the run's readable history)."""

    __tablename__ = "flow_run_steps"
    id: Mapped[str] = _id("fs_")
    run_id: Mapped[str] = mapped_column(
        ID, ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = _created()


class FlowEvent(Base):
    """An event a run consumed (``msg:<id>``, ``timer:<id>``, ``http:<run>:<epoch>``):
    written in the transaction that stores the run's new state, so whichever process gets
    an event, and however often, it advances a run once."""

    __tablename__ = "flow_events"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        ID, ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = _created()


class FlowPendingActions(Base):
    """What a consumed event left to do outside the database (bot messages, operators'
    lines, the survey, calls), written with the run's new state and deleted once carried
    out; the worker carries out a row whose lease from ``leased_at`` ran out (a process
    killed in between). ``actions`` is :mod:`hub.flows.carry`'s JSON."""

    __tablename__ = "flow_pending_actions"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        ID, ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    actions: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_at: Mapped[datetime] = mapped_column(index=True)


class FlowTimer(Base):
    """A run's timer (an ``ask`` timeout, a ``wait``); the worker fires it when due."""

    __tablename__ = "flow_timers"
    id: Mapped[str] = _id("ft_")
    run_id: Mapped[str] = mapped_column(
        ID, ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    epoch: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(index=True)
    locked_until: Mapped[datetime | None]


class FlowTrigger(Base):
    """A contact's message that may start or advance a flow, not yet handled: written by the
    writer in the message's own transaction (so an acknowledged message is never forgotten),
    deleted by the runner once it decided (:mod:`web.flow_runner`), taken by the worker
    when its lease from ``leased_at`` ran out (:mod:`storage.flow_triggers`)."""

    __tablename__ = "flow_triggers"
    message_id: Mapped[str] = mapped_column(ID, primary_key=True)
    workspace_id: Mapped[str] = _workspace_fk()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_at: Mapped[datetime] = mapped_column(index=True)


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[str] = _id("tm_")
    workspace_id: Mapped[str] = _workspace_fk()
    name: Mapped[str] = mapped_column(String(200))
    # Where round robin continues: the member who got the team's last conversation.
    last_assigned_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = _created()


class TeamMember(Base):
    __tablename__ = "team_members"
    team_id: Mapped[str] = mapped_column(
        ID, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    operator_id: Mapped[str] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )


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


class AiDocument(Base):
    """A text the workspace maintains for ``ai_reply`` to answer from (its prices, its
    terms, its FAQ): the business's own text, kept until an owner or admin deletes it or
    the workspace goes."""

    __tablename__ = "ai_documents"
    id: Mapped[str] = _id("doc_")
    workspace_id: Mapped[str] = _workspace_fk()
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


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


class LegalHold(Base):
    """Audit entries of ``[starts_at, ends_at)`` outlive retention while the hold is on.

    ``workspace_id`` None: a hold the server admin placed over every workspace (CLI).
    A lifted hold stays as a record of the investigation (``lifted_at``).
    """

    __tablename__ = "legal_holds"
    id: Mapped[str] = _id("lh_")
    workspace_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(ID)  # operator id; None: the server admin
    created_at: Mapped[datetime] = _created()
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(ID)


class ErasureLedgerEntry(Base):
    """A contact erased, by a one-way hash of its id (erasure leaves no id behind): an
    older backup's restore erases the contact whose id hashes to it again.

    No foreign keys: the entry must outlive its workspace's rows. The backup job copies
    new entries to a ledger file beside the backups (storage.backup), which a restore reads.
    """

    __tablename__ = "erasure_ledger"
    __table_args__ = (Index("ix_erasure_ledger_workspace_hash", "workspace_id", "contact_hash"),)
    id: Mapped[str] = _id("er_")
    workspace_id: Mapped[str] = mapped_column(ID)
    contact_hash: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ConsentRecord(Base):
    """One answer to the workspace's consent question: given, refused or withdrawn.

    The newest record is the contact's current answer; older ones are its history. The
    text is kept as shown, beside its version, so the answer proves what was agreed to.
    """

    __tablename__ = "consent_records"
    id: Mapped[str] = _id("cr_")
    workspace_id: Mapped[str] = _workspace_fk()
    contact_id: Mapped[str] = mapped_column(
        ID, ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    granted: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # visitor | operator
    operator_id: Mapped[str | None] = mapped_column(ID)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# Billing records (storage.billing). No foreign key to the workspace: invoices and payments
# are business records that outlive the workspace's deletion and purge (tax law: 10 years).


class BillingAccount(Base):
    """A workspace's billing details, plan and seats, as the owner last set them."""

    __tablename__ = "billing_accounts"
    workspace_id: Mapped[str] = mapped_column(ID, primary_key=True)
    company_name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500))
    country: Mapped[str] = mapped_column(String(2))
    vat_id: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    plan: Mapped[str] = mapped_column(String(32))
    seats: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceCounter(Base):
    """The last number used in one series and year: incremented in the issuing
    transaction, so a number is used exactly when its invoice is (no gaps)."""

    __tablename__ = "invoice_counters"
    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class Invoice(Base):
    """An issued invoice or credit note: never changed once written (paid is derived
    from payments); the buyer and seller are copied in as they were at issue."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("series", "year", "seq"),)
    id: Mapped[str] = _id("inv_")
    workspace_id: Mapped[str] = mapped_column(ID, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # invoice | credit_note
    series: Mapped[str] = mapped_column(String(8))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    corrects_id: Mapped[str | None] = mapped_column(ID)
    issued_at: Mapped[datetime] = mapped_column(index=True)
    period: Mapped[str | None] = mapped_column(String(7))
    currency: Mapped[str] = mapped_column(String(3))
    buyer: Mapped[dict[str, Any]] = mapped_column(JSON)
    seller: Mapped[list[str]] = mapped_column(JSON)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    net: Mapped[int] = mapped_column(Integer)
    vat_percent: Mapped[int] = mapped_column(Integer)
    vat: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(500))


class Payment(Base):
    """Money received for an invoice; ``event_id`` (the provider's) makes it idempotent."""

    __tablename__ = "payments"
    id: Mapped[str] = _id("pay_")
    invoice_id: Mapped[str] = mapped_column(ID, index=True)
    workspace_id: Mapped[str] = mapped_column(ID, index=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    reference: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[datetime]


class AccountLink(Base):
    """A single-use, expiring link mailed or handed to someone: an invitation to join the
    workspace (``purpose`` invite: ``email`` and ``role`` say who and as what) or a
    password reset (``operator_id``). Only the token's SHA-256 is kept."""

    __tablename__ = "account_links"
    id: Mapped[str] = _id("al_")
    workspace_id: Mapped[str] = _workspace_fk()
    purpose: Mapped[str] = mapped_column(String(16))  # invite | reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(16))
    operator_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(ID)  # the operator who asked for it
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PendingConsent(Base):
    """A widget visitor's consent answer given before their first message, when no contact
    exists yet (:mod:`storage.reserved`): held under the visitor's reserved contact id and
    moved into :class:`ConsentRecord` when the first message creates the contact. No
    foreign key to contacts, since that contact does not exist yet; removed with its
    workspace, and by retention once no visitor token can name it any more."""

    __tablename__ = "pending_consents"
    id: Mapped[str] = _id("pc_")
    workspace_id: Mapped[str] = _workspace_fk()
    contact_id: Mapped[str] = mapped_column(ID, index=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OperatorAvatar(Base):
    """An operator's picture (web/avatars.py): a small PNG, JPEG or WebP kept in its own
    row, so the operator row every request reads stays small."""

    __tablename__ = "operator_avatars"
    operator_id: Mapped[str] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = _workspace_fk()
    mime: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CsatRating(Base):
    """A satisfaction survey sent when an operator resolved a conversation, and its answer
    (1 to 5) once the contact gave one (:mod:`storage.csat`). Goes with its conversation."""

    __tablename__ = "csat_ratings"
    __table_args__ = (Index("ix_csat_ratings_workspace_requested", "workspace_id", "requested_at"),)
    id: Mapped[str] = _id("cs_")
    workspace_id: Mapped[str] = mapped_column(ID, ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # Who is rated: the conversation's operator and team when it was resolved.
    operator_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("operators.id", ondelete="SET NULL")
    )
    team_id: Mapped[str | None] = mapped_column(ID, ForeignKey("teams.id", ondelete="SET NULL"))
    message_id: Mapped[str] = mapped_column(ID)  # the survey message
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None]


class Media(Base):
    """A file the hub keeps (:mod:`storage.media`): the bytes live on disk under the media
    directory, named by this row's id; the row says whose they are and what they are.

    ``conversation_id`` and ``contact_id`` carry no foreign key: a widget visitor may upload
    before their first message creates either. Erasure and retention delete rows by these
    columns, and the files with them (:func:`storage.media.sweep_files`)."""

    __tablename__ = "media"
    id: Mapped[str] = _id("md_")
    workspace_id: Mapped[str] = _workspace_fk()
    conversation_id: Mapped[str | None] = mapped_column(ID, index=True)
    contact_id: Mapped[str | None] = mapped_column(ID, index=True)
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    # The file's thumbnail beside it (images only), relative to the media directory.
    thumbnail: Mapped[str | None] = mapped_column(String(200))
    # The contact may open it: they sent it, or an operator sent it to them (a file only
    # ever attached to private notes stays the operators').
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class MediaFetch(Base):
    """A channel message whose provider media is not in media storage yet: written with the
    message (so an acknowledged file is never forgotten), downloaded by the worker
    (:mod:`web.media_inbound`) and retried until it works or gives up; the message keeps the
    provider's reference meanwhile."""

    __tablename__ = "media_fetches"
    message_id: Mapped[str] = mapped_column(ID, primary_key=True)
    workspace_id: Mapped[str] = _workspace_fk()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
