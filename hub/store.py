"""What the hub needs from the storage layer, as a Protocol the hub owns.

``storage/`` implements it (on SQLite and on Postgres); the hub never imports a database
driver. Every method is safe to call concurrently from many tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.model import NO_DELIVERY, Delivery, Inbound, Message, MessageStatus


class NotFound(Exception):
    """The conversation (or channel) does not exist, or belongs to another workspace."""


class Gone(Exception):
    """The conversation or contact was erased: the caller's credentials no longer open it."""


class Unavailable(Exception):
    """Storage cannot take the message now (the database is unreachable or stalled, the
    writer's queue is full, or its conversation is held locked elsewhere). Nothing was
    acknowledged: the sender retries later (HTTP 503, WebSocket close 1013)."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What :meth:`MessageStore.write` did.

    ``created`` is False when an idempotency key (message id, ``client_id``,
    ``provider_message_id``) matched an earlier message; ``message`` is then that earlier
    message, unchanged. ``conversation`` is the conversation's wire form when the write
    created or changed it (new, reopened), else None. ``could_move_flow`` says whether
    the write queued the message for the flow runner (a contact's message where a run is
    live or a flow is published for messages: ``storage.flow_triggers``), so the runner
    need not ask again; None where the store does not say.
    """

    message: Message
    created: bool
    conversation: dict[str, Any] | None = None
    could_move_flow: bool | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    workspace_id: str
    conversation_id: str
    message_id: str
    status: MessageStatus
    delivery: Delivery = NO_DELIVERY


class MessageStore(Protocol):
    async def write(self, inbound: Inbound) -> WriteResult:
        """Store ``inbound`` durably and give it the next ``seq`` of its conversation.

        Returns only after the transaction that holds the message has committed (group
        commit: many concurrent calls share one transaction). Raises :class:`NotFound` when
        ``inbound.conversation_id`` is not a conversation of ``inbound.workspace_id``, and
        :class:`Gone` when the message belongs to an erased conversation, and
        :class:`Unavailable` when it cannot be stored now.
        """
        ...

    async def check_owner(self, workspace_id: str, conversation_id: str) -> None:
        """Raise :class:`NotFound` unless the conversation belongs to the workspace."""
        ...

    async def replay(
        self,
        workspace_id: str,
        conversation_id: str,
        after_seq: int,
        limit: int,
        include_private: bool = True,
    ) -> list[Message]:
        """Messages of the conversation with ``seq > after_seq``, ascending, at most ``limit``;
        private notes only with ``include_private`` (operators; never a visitor).

        Raises :class:`NotFound` for a conversation of another workspace.
        """
        ...

    async def messages_since(
        self, workspace_ids: list[str], since: datetime, limit: int, after: Message | None = None
    ) -> list[Message]:
        """Messages stored at or after ``since`` in these workspaces, at most ``limit``, in
        one total order (``created_at``, then conversation, then ``seq``); with ``after``,
        only those that come after that message in it: the next page.

        The hub pages through this after its bus reconnects, to re-deliver what the bus
        may have dropped meanwhile.
        """
        ...

    async def last_seq(self, workspace_id: str, conversation_id: str) -> int:
        """The conversation's latest ``seq`` (0 before its first message).

        Raises :class:`NotFound` for a conversation of another workspace.
        """
        ...

    async def mark_read(self, workspace_id: str, conversation_id: str, seq: int) -> list[Receipt]:
        """A visitor read up to ``seq``: every outbound message up to it becomes ``read``.

        Returns one receipt per message whose status changed.
        """
        ...
