"""Resume as a reconnecting client uses it: where the conversation really is, and a whole
inbox caught up at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tests.conftest import LiveServer
from tests.helpers import Account, new_client, signup
from tests.web.raw_socket import TEXT, RawSocket, frame
from tests.web.realtime import (
    close_all_sockets,
    operator_socket,
    visitor_session,
    visitor_socket,
    widget_channel,
)


@pytest.fixture
async def owner(live: LiveServer) -> AsyncIterator[Account]:
    async with new_client(live.url) as client:
        yield await signup(client)
    await close_all_sockets()


async def _conversation_of_three(owner: Account) -> str:
    session = await visitor_session(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    for n in range(3):
        await visitor.send({"type": "send", "ref": n, "text": f"m{n}"})
        await visitor.wait_for(type="ack", ref=n)
    await visitor.close()
    return str(session["conversation_id"])


async def test_resuming_ahead_of_the_conversation_answers_its_true_last_seq(
    owner: Account, live: LiveServer
) -> None:
    conv = await _conversation_of_three(owner)
    operator = await operator_socket(owner, live.ws_url)
    await operator.send({"type": "resume", "conversation_id": conv, "after_seq": 50})
    done = await operator.wait_for(type="resumed")
    assert done == {"type": "resumed", "conversation_id": conv, "last_seq": 3}
    assert [f for f in operator.frames if f["type"] == "message"] == []


async def test_a_visitor_resuming_ahead_learns_the_true_last_seq_too(
    owner: Account, live: LiveServer
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    await visitor.send({"type": "send", "ref": 1, "text": "hello"})
    await visitor.wait_for(type="ack", ref=1)
    conv = session["conversation_id"]
    await visitor.send({"type": "resume", "conversation_id": conv, "after_seq": 7})
    done = await visitor.wait_for(type="resumed")
    assert done["last_seq"] == 1


async def test_resumes_have_their_own_budget_apart_from_sends(
    owner: Account, live: LiveServer
) -> None:
    # An operator back after a restart catches up hundreds of conversations at once:
    # far more resumes than the socket may send messages in ten seconds.
    conv = await _conversation_of_three(owner)
    cookie = "; ".join(f"{c.name}={c.value}" for c in owner.client.cookies.jar)
    sock = await RawSocket.open(f"{live.ws_url}/ws/operator", {"Cookie": cookie})
    burst = live.settings.messages_per_10s * 6
    resume = orjson.dumps({"type": "resume", "conversation_id": conv, "after_seq": 2})
    await sock.send(*[frame(TEXT, resume)] * burst)
    answers: list[dict[str, Any]] = []
    while len(answers) < burst:
        opcode, payload = await sock.read_frame()
        assert opcode == TEXT, (opcode, payload)  # not a close
        reply = orjson.loads(payload)
        if reply["type"] in ("resumed", "error"):
            answers.append(reply)
    assert {a["type"] for a in answers} == {"resumed"}
    assert {a["last_seq"] for a in answers} == {3}
    sock.close()
