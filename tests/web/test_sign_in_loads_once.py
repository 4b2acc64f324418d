"""A signed-in page or ``/api/me`` reads the operator and workspace once: the session
lookup's rows are reused, not loaded a second time."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import LiveServer
from tests.helpers import signup


@pytest.mark.parametrize("url", ["/api/me", "/inbox", "/settings"])
async def test_a_signed_in_request_reads_the_operator_once(
    live: LiveServer, client: httpx.AsyncClient, url: str
) -> None:
    owner = await signup(client)
    engine = live.app.state.services.engine.sync_engine  # type: ignore[attr-defined]
    reads: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "operators" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert (await owner.get(url)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(reads) == 1, reads
