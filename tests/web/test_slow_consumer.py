"""A socket that stops reading is cut off with 1013; the others get every message."""

from __future__ import annotations

import asyncio
import re
import socket

import httpx
import orjson
import pytest

from tests.conftest import LiveServer
from tests.helpers import new_client, signup
from tests.web.raw_socket import TEXT as TEXT_FRAME
from tests.web.raw_socket import RawSocket, frame
from tests.web.realtime import close_all_sockets, operator_socket

BATCHES = 8
PER_BATCH = 200
TEXT = "x" * 9000  # big frames fill the stalled socket's buffers quickly
CLOSE_1013 = b"\x88\x02\x03\xf5"  # a close frame carrying code 1013


async def _stalled_operator(
    live: LiveServer, cookie: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open /ws/operator by hand, read the 101, then never read again."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", live.settings.port))
    reader, writer = await asyncio.open_connection(sock=raw)
    writer.write(
        (
            f"GET /ws/operator HTTP/1.1\r\nHost: 127.0.0.1:{live.settings.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readuntil(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 101"), status
    return reader, writer


async def test_a_socket_that_stops_reading_is_closed_1013_and_others_get_everything(
    live: LiveServer,
) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
        channel = await owner.post("/api/channels", {"kind": "custom", "name": "Feed"})
        ingest = channel.json()
        healthy = await operator_socket(owner, live.ws_url)
        reader, writer = await _stalled_operator(live, cookie)
        counters = live.app.state.services.hub.registry.counters  # type: ignore[attr-defined]
        cut_before = counters.overloaded
        async with httpx.AsyncClient(base_url=live.url, timeout=60) as feed:
            for batch in range(BATCHES):
                messages = [
                    {
                        "external_id": f"e{batch}-{n}",
                        "contact": {"external_id": f"c{n % 7}"},
                        "text": TEXT,
                    }
                    for n in range(PER_BATCH)
                ]
                response = await feed.post(
                    f"/api/ingest/{ingest['id']}",
                    json={"messages": messages},
                    headers={"Authorization": f"Bearer {ingest['ingest_token']}"},
                )
                assert response.status_code == 202, response.text
        # The healthy socket got every message, nothing waited for the stalled one...
        assert len(await healthy.messages(BATCHES * PER_BATCH)) == BATCHES * PER_BATCH
        assert counters.overloaded > cut_before
        # ...which, once it reads again, finds a 1013 close after what was queued for it.
        tail = b""
        while CLOSE_1013 not in tail:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                break
            tail = (tail + chunk)[-65536:]
        assert CLOSE_1013 in tail
        writer.close()
        await close_all_sockets()


def _closed_slow(metrics: str) -> float:
    [value] = re.findall(r"^inviaro_sockets_closed_slow_total (\S+)$", metrics, re.M)
    return float(value)


async def test_a_reader_that_never_reads_is_cut_1013_before_its_frames_fill_the_queue(
    live: LiveServer,
) -> None:
    # Fewer frames than the queue bound, but far more bytes than a megabyte: the kernel's
    # and uvicorn's buffers must not hide them from the bound until a keepalive gives up.
    frames = live.settings.send_queue_frames * 3 // 4
    async with new_client(live.url) as client:
        owner = await signup(client)
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
        ingest = (await owner.post("/api/channels", {"kind": "custom", "name": "Feed"})).json()
        stalled = await RawSocket.open(
            f"{live.ws_url}/ws/operator", {"Cookie": cookie}, receive_buffer=4096
        )
        before = _closed_slow((await client.get("/metrics")).text)
        response = await client.post(
            f"/api/ingest/{ingest['id']}",
            json={
                "messages": [
                    {"external_id": f"big{n}", "contact": {"external_id": "c"}, "text": TEXT}
                    for n in range(frames)
                ]
            },
            headers={"Authorization": f"Bearer {ingest['ingest_token']}"},
        )
        assert response.status_code == 202, response.text
        for _ in range(300):  # a failure guard: 30 s, well under a keepalive's 50
            if _closed_slow((await client.get("/metrics")).text) > before:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the stalled reader was never cut off")
        # When it reads again, it finds the 1013 after what the buffers held.
        assert await stalled.close_code() == 1013
        stalled.close()


async def test_a_burst_of_pings_is_answered_and_does_not_cut_the_socket(
    live: LiveServer,
) -> None:
    async with new_client(live.url) as client:
        await signup(client)
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
    sock = await RawSocket.open(f"{live.ws_url}/ws/operator", {"Cookie": cookie})
    burst = live.settings.send_queue_frames + 44  # 300: more replies than the queue holds
    await sock.send(*[frame(TEXT_FRAME, b'{"type":"ping"}')] * burst)
    replies: list[str] = []
    while len(replies) < burst:
        opcode, payload = await sock.read_frame()
        assert opcode == TEXT_FRAME, (opcode, payload)  # not a close
        kind = orjson.loads(payload)["type"]
        if kind != "presence" and kind != "hello":
            replies.append(kind)
    assert set(replies) == {"pong"}
    await sock.send(frame(TEXT_FRAME, b'{"type":"ping"}'))  # and the socket is still open
    assert orjson.loads((await sock.read_frame())[1]) == {"type": "pong"}
    sock.close()
