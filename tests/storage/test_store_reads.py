"""What the hub reads back after faults: every message since an outage, page by page, and
where a conversation really is."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hub.model import Message, utcnow
from hub.store import NotFound
from storage.store import SqlStore

from .conftest import Workspace, make_workspace
from .test_writer import inbound


async def test_messages_since_pages_through_everything_once_in_order(
    store: SqlStore, workspace: Workspace
) -> None:
    since = utcnow() - timedelta(seconds=1)
    # Written concurrently from five senders: group commits give many rows one timestamp.
    await asyncio.gather(
        *(store.write(inbound(workspace, sender=f"+49151{n % 5}", text=f"m{n}")) for n in range(23))
    )
    pages: list[list[Message]] = []
    after: Message | None = None
    while True:
        page = await store.messages_since([workspace.id], since, 4, after)
        pages.append(page)
        if len(page) < 4:
            break
        after = page[-1]
    paged = [m.id for page in pages for m in page]
    whole = [m.id for m in await store.messages_since([workspace.id], since, 1000)]
    assert len(paged) == len(set(paged)) == 23
    assert paged == whole


async def test_last_seq_is_the_conversations_own(store: SqlStore, workspace: Workspace) -> None:
    conv = (await store.write(inbound(workspace))).message.conversation_id
    for n in range(2):
        await store.write(inbound(workspace, conversation_id=conv, text=f"m{n}"))
    assert await store.last_seq(workspace.id, conv) == 3
    other = await make_workspace(store.engine)
    with pytest.raises(NotFound):
        await store.last_seq(other.id, conv)
