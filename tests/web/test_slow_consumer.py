"""A socket that stops reading is cut off with 1013; the others get every message."""

from __future__ import annotations

import asyncio
import socket

import httpx

from tests.conftest import LiveServer
from tests.helpers import new_client, signup
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
