"""Round trips to Postgres, counted on the wire: a loopback proxy in front of the server
that counts its ReadyForQuery messages. The server sends one for every simple query
(``BEGIN``, ``COMMIT``) and every extended-protocol Sync (a prepared statement's execution),
and the client waits for it before sending the next: one is one round trip, whichever
library sent it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

READY_FOR_QUERY = ord("Z")


class RoundTrips:
    """``async with RoundTrips(host, port) as trips``: connect to ``trips.port`` (with SSL
    off, so the messages can be read) and read ``trips.count``."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.count = 0  # ReadyForQuery messages after each connection's start-up
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])

    async def __aenter__(self) -> RoundTrips:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.transport.abort()
            await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self._target)
        self._writers |= {client_w, server_w}
        await asyncio.gather(
            self._pump(client_r, server_w, None),
            self._pump(server_r, client_w, _Counter(self)),
            return_exceptions=True,
        )
        for writer in (client_w, server_w):
            writer.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: _Counter | None
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if counter is not None:
                    counter.feed(data)
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


class _Counter:
    """Reads the server's side of one connection: after a refused SSL request (one byte,
    ``N``), typed messages (a byte, then a length that counts itself)."""

    def __init__(self, trips: RoundTrips) -> None:
        self._trips = trips
        self._buffer = b""
        self._first = True
        self._started = False  # the start-up's own ReadyForQuery is not a round trip

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if self._first and self._buffer:
            self._first = False
            if self._buffer[:1] == b"N":
                self._buffer = self._buffer[1:]
        while len(self._buffer) >= 5:
            kind = self._buffer[0]
            (length,) = struct.unpack("!i", self._buffer[1:5])
            if len(self._buffer) < 1 + length:
                return
            self._buffer = self._buffer[1 + length :]
            if kind == READY_FOR_QUERY:
                if self._started:
                    self._trips.count += 1
                self._started = True
