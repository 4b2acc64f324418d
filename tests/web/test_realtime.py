"""The real-time hub through its public sockets, on one process (SQLite and Postgres)."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import LiveServer
from tests.helpers import new_client, signup
from tests.web.realtime import (
    Socket,
    operator_socket,
    started_visitor,
    visitor_session,
    visitor_socket,
    widget_channel,
)


@pytest.fixture
async def owner(live: LiveServer):  # type: ignore[no-untyped-def]
    async with new_client(live.url) as client:
        yield await signup(client)


async def test_operator_socket_starts_with_hello(owner, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    sock = await operator_socket(owner, live.ws_url)
    assert sock.frames[0]["protocol"] == 1
    assert sock.frames[0]["heartbeat_s"] > 0
    await sock.close()


async def test_operator_handshake_without_credentials_is_refused_403(live: LiveServer) -> None:
    from websockets.asyncio.client import connect

    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{live.ws_url}/ws/operator")
    assert refused.value.response.status_code == 403


async def test_operator_handshake_from_a_foreign_origin_is_refused_403(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await operator_socket(owner, live.ws_url, origin="https://evil.example")
    assert refused.value.response.status_code == 403


async def test_operator_handshake_from_the_apps_own_origin_is_accepted(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    sock = await operator_socket(owner, live.ws_url, origin=live.settings.public_origin)
    await sock.close()


async def test_widget_handshake_with_a_forged_token_is_refused_403(live: LiveServer) -> None:
    from websockets.asyncio.client import connect

    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{live.ws_url}/ws/widget?token=forged.token")
    assert refused.value.response.status_code == 403


async def test_visitor_message_reaches_the_operator_and_the_reply_comes_back(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    operator = await operator_socket(owner, live.ws_url)
    visitor = await visitor_socket(session["ws_url"])

    await visitor.send({"type": "send", "ref": "r1", "text": "Hi, is my order shipped?"})
    ack = await visitor.wait_for(type="ack", ref="r1")
    assert ack["message"]["seq"] == 1
    seen = (await operator.wait_for(type="message"))["message"]
    assert seen["text"] == "Hi, is my order shipped?" and seen["direction"] == "in"

    await operator.send(
        {
            "type": "send",
            "ref": 7,
            "conversation_id": session["conversation_id"],
            "text": "Yes, yesterday.",
        }
    )
    assert (await operator.wait_for(type="ack", ref=7))["message"]["seq"] == 2
    reply = (
        await visitor.wait_for(
            type="message",
        )
    )["message"]
    while reply["seq"] != 2:
        reply = (await visitor.wait_for(type="message"))["message"]
    assert reply["text"] == "Yes, yesterday." and reply["author"]["kind"] == "operator"
    await operator.close()
    await visitor.close()


async def test_msgpack_subprotocol_speaks_binary_frames(owner, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    widget = await widget_channel(owner)
    session = await visitor_session(owner, widget)
    visitor = await visitor_socket(session["ws_url"], fmt="msgpack")
    await visitor.send({"type": "send", "ref": "m", "text": "binary hello"})
    ack = await visitor.wait_for(type="ack", ref="m")
    assert ack["message"]["text"] == "binary hello"
    await visitor.close()


async def test_a_resend_with_the_same_client_id_is_acknowledged_with_the_first_message(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    for ref in ("a", "b"):
        await visitor.send({"type": "send", "ref": ref, "text": "once", "client_id": "c-42"})
    first = await visitor.wait_for(type="ack", ref="a")
    second = await visitor.wait_for(type="ack", ref="b")
    assert first["message"]["id"] == second["message"]["id"]
    stored = await owner.get(f"/api/conversations/{session['conversation_id']}/messages")
    assert [m["text"] for m in stored.json()["items"]] == ["once"]
    await visitor.close()


async def test_resume_replays_exactly_the_missed_messages_in_order(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    conv = session["conversation_id"]
    visitor = await visitor_socket(session["ws_url"])
    for n in range(3):
        await visitor.send({"type": "send", "ref": n, "text": f"m{n}"})
        await visitor.wait_for(type="ack", ref=n)
    await visitor.close()
    for n in range(3, 8):  # the operator writes while the visitor is away
        response = await owner.post(f"/api/conversations/{conv}/messages", json={"text": f"m{n}"})
        assert response.status_code == 201
    visitor = await visitor_socket(session["ws_url"])
    await visitor.send({"type": "resume", "conversation_id": conv, "after_seq": 3})
    done = await visitor.wait_for(type="resumed")
    replayed = [f["message"]["seq"] for f in visitor.frames if f["type"] == "message"]
    assert replayed == [4, 5, 6, 7, 8]
    assert done["last_seq"] == 8
    await visitor.close()


async def test_a_visitor_cannot_send_into_another_conversation(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    widget = await widget_channel(owner)
    mine = await visitor_session(owner, widget)
    theirs = await visitor_session(owner, widget)
    visitor = await visitor_socket(mine["ws_url"])
    await visitor.send(
        {"type": "send", "ref": "x", "text": "sneaky", "conversation_id": theirs["conversation_id"]}
    )
    error = await visitor.wait_for(type="error")
    assert error["code"] == "forbidden"
    stored = await owner.get(f"/api/conversations/{theirs['conversation_id']}/messages")
    assert stored.status_code == 404  # nothing at all: that visitor never wrote
    await visitor.close()


async def test_an_operator_cannot_send_into_another_workspaces_conversation(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    async with new_client(live.url) as other_client:
        stranger = await signup(other_client)
        sock = await operator_socket(stranger, live.ws_url)
        await sock.send(
            {
                "type": "send",
                "ref": 1,
                "conversation_id": session["conversation_id"],
                "text": "hello from elsewhere",
            }
        )
        assert (await sock.wait_for(type="error"))["code"] == "not_found"
        await sock.close()


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        "{}",
        '{"type": "nope"}',
        '{"type": "send"}',
        '{"type": "send", "text": 5}',
        '{"type": "resume", "conversation_id": "x"}',
        '{"type": "read", "conversation_id": "c", "seq": -1}',
        '{"type": "send", "text": ""}',
    ],
)
async def test_bad_frames_get_an_error_frame_and_the_socket_stays_up(
    owner,
    live: LiveServer,
    raw: str,  # type: ignore[no-untyped-def]
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    await visitor.ws.send(raw)
    assert (await visitor.wait_for(type="error"))["code"] in {
        "bad_frame",
        "unknown_type",
        "forbidden",
        "not_found",
    }
    await visitor.send({"type": "ping"})
    await visitor.wait_for(type="pong")
    stored = await owner.get(f"/api/conversations/{session['conversation_id']}/messages")
    assert stored.status_code == 404  # not even a conversation: the visitor never wrote
    await visitor.close()


async def test_a_frame_over_the_size_limit_closes_with_1009(owner, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    session = await visitor_session(owner, await widget_channel(owner))
    visitor = await visitor_socket(session["ws_url"])
    await visitor.ws.send("x" * (live.settings.max_frame_bytes + 1))
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await visitor.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_logout_closes_the_operators_socket_with_1008(owner, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    sock = await operator_socket(owner, live.ws_url)
    assert (await owner.post("/api/logout")).status_code == 204
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await sock.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_visitor_read_gives_operators_a_read_receipt(owner, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    session = await started_visitor(owner, await widget_channel(owner))
    conv = session["conversation_id"]
    reply = await owner.post(f"/api/conversations/{conv}/messages", json={"text": "hello"})
    operator = await operator_socket(owner, live.ws_url)
    visitor = await visitor_socket(session["ws_url"])
    await visitor.send({"type": "read", "conversation_id": conv, "seq": 2})
    receipt = await operator.wait_for(type="receipt")
    assert receipt == {
        "type": "receipt",
        "conversation_id": conv,
        "message_id": reply.json()["id"],
        "status": "read",
    }
    await operator.close()
    await visitor.close()


async def test_operator_typing_reaches_the_visitor(owner, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    session = await started_visitor(owner, await widget_channel(owner))
    operator = await operator_socket(owner, live.ws_url)
    visitor = await visitor_socket(session["ws_url"])
    await operator.send(
        {"type": "typing", "conversation_id": session["conversation_id"], "active": True}
    )
    typing = await visitor.wait_for(type="typing")
    assert typing["active"] is True and typing["author"]["kind"] == "operator"
    await operator.close()
    await visitor.close()


async def test_a_new_operator_socket_is_announced_to_the_others(owner, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import add_operator

    first = await operator_socket(owner, live.ws_url)
    colleague = await add_operator(owner, "agent", live.url)
    second = await operator_socket(colleague, live.ws_url)
    presence = await first.wait_for(type="presence", operator_id=colleague.operator_id)
    assert presence["online"] is True
    await second.close()
    gone = await first.wait_for(type="presence", operator_id=colleague.operator_id)
    assert gone["online"] is False
    await first.close()
    await colleague.client.aclose()


async def test_widget_session_from_an_origin_not_allowed_is_403(owner, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    widget = await widget_channel(owner)
    response = await owner.client.post(
        "/api/widget/sessions", json={"key": widget.key}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "origin_not_allowed"


async def test_widget_socket_from_an_origin_not_allowed_is_refused_403(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    with pytest.raises(InvalidStatus) as refused:
        await visitor_socket(session["ws_url"], origin="https://evil.example")
    assert refused.value.response.status_code == 403


async def test_a_returning_visitor_token_resumes_the_same_conversation(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    widget = await widget_channel(owner)
    first = await visitor_session(owner, widget)
    again = await visitor_session(owner, widget, token=first["visitor_token"])
    assert again["conversation_id"] == first["conversation_id"]


async def test_many_concurrent_visitors_get_ordered_gap_free_seqs(
    owner,
    live: LiveServer,  # type: ignore[no-untyped-def]
) -> None:
    session = await visitor_session(owner, await widget_channel(owner))
    sockets: list[Socket] = [await visitor_socket(session["ws_url"]) for _ in range(4)]
    for n, sock in enumerate(sockets):
        for k in range(10):
            await sock.send({"type": "send", "ref": f"{n}-{k}", "text": f"{n}-{k}"})

    async def acks(sock: Socket) -> list[int]:
        got = [await sock.wait_for(type="ack") for _ in range(10)]
        return [a["message"]["seq"] for a in got]

    groups = await asyncio.gather(*(acks(s) for s in sockets))
    seqs = sorted(seq for group in groups for seq in group)
    assert seqs == list(range(1, 41))
    for sock in sockets:
        await sock.close()
