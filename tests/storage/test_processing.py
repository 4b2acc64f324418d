"""The one place automated features ask whether they may act for a contact."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.model import Author, Inbound
from hub.store import NotFound
from storage import models as m
from storage import processing
from storage.store import SqlStore
from tests.storage.conftest import Workspace


@pytest.mark.parametrize(
    ("value", "allowed"), [("normal", True), ("restricted", False), ("objected", False)]
)
def test_only_a_normally_processed_contact_gets_automation(value: str, allowed: bool) -> None:
    assert processing.may_automate(value) is allowed
    assert processing.may_automate({"processing": value}) is allowed
    assert processing.may_automate(m.Contact(processing=value)) is allowed


@pytest.mark.parametrize(
    ("value", "confirmed", "refused"),
    [
        ("normal", False, False),
        ("restricted", False, False),
        ("objected", False, True),
        ("objected", True, False),
    ],
)
def test_only_an_unconfirmed_message_to_an_objected_contact_is_refused(
    value: str, confirmed: bool, refused: bool
) -> None:
    refusal = processing.refusal_for_operator_message(value, confirmed)
    assert (refusal is not None) is refused


def test_an_unknown_processing_value_is_invalid() -> None:
    with pytest.raises(processing.InvalidProcessing):
        processing.validate("paused")


async def test_a_flow_runner_asks_by_conversation(
    engine: AsyncEngine, store: SqlStore, workspace: Workspace
) -> None:
    written = await store.write(
        Inbound(
            workspace_id=workspace.id,
            channel_id=workspace.custom,
            direction="in",
            author=Author("contact", None, "Ann"),
            text="hello",
            contact_external_id="ann-1",
        )
    )
    conv = written.message.conversation_id
    assert await processing.may_automate_conversation(engine, conv) is True
    async with engine.begin() as conn:
        await conn.execute(
            update(m.Contact)
            .where(m.Contact.workspace_id == workspace.id)
            .values(processing="restricted")
        )
    assert await processing.may_automate_conversation(engine, conv) is False
    with pytest.raises(NotFound):
        await processing.may_automate_conversation(engine, "cv_missing")
