"""A lean WebSocket client for ``inviaro loadtest``: one asyncio ``Protocol`` per socket.

The load generator holds thousands of sockets and reads about twenty thousand frames a
second on the same machine as the servers it measures, so each frame must cost it as
little as possible: frames are parsed straight from ``data_received`` and handed, whole,
to one callback, with no queue, task or coroutine step per frame, and no UTF-8 decoding
(the load client only looks for a few ASCII bytes). The same client drives every target,
so the ratios between them stay fair.

RFC 6455, client side, no extensions: the opening handshake (``Sec-WebSocket-Accept``
checked), masked client frames, fragmented messages joined, pings answered, the close
handshake (the server's code kept; 1006 when the connection ends without one). A frame
the RFC forbids a server to send (masked, reserved bits, unknown opcode) fails the
connection with 1002. Not a general-purpose client: no UTF-8 validation, no size limit,
no write flow control (the generator's load is bounded by its rate and duration).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN = 0x80
ABNORMAL = 1006  # the connection ended without a close frame (RFC 6455, 7.1.5)
NO_STATUS = 1005  # a close frame without a code
PROTOCOL_ERROR = 1002
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_OPENING = 65536  # bytes of response headers before the handshake is given up

Handler = Callable[[bytes], None]


class HandshakeError(ConnectionError):
    """The server did not switch protocols (its status line says why) or answered wrongly."""


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XOR the repeated four-byte ``key``, as one big-integer XOR (no per-byte
    loop in Python, no library internals)."""
    n = len(payload)
    if not n:
        return b""
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One whole, masked client frame."""
    n = len(payload)
    if n < 126:
        head = bytes((FIN | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((FIN | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((FIN | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + mask(payload, key)


class WireSocket(asyncio.Protocol):
    """One client socket. Whole messages go to the handler given to :meth:`listen`
    (before that, they wait for :meth:`recv`); :meth:`wait_closed` returns the close code."""

    __slots__ = (  # no instance dict: the generator holds thousands of these
        "_accept",
        "_arrived",
        "_closing",
        "_handler",
        "_inbox",
        "_lost",
        "_need",
        "_opened",
        "_opening",
        "_parts",
        "_request",
        "_rest",
        "close_code",
        "error",
        "transport",
    )

    def __init__(self, request: bytes, key: bytes) -> None:
        self.transport: asyncio.Transport | None = None
        self.close_code: int | None = None  # the server's, once its close frame came
        self._request = request
        self._accept = accept_key(key)
        loop = asyncio.get_running_loop()
        self._opened: asyncio.Future[None] = loop.create_future()
        self._lost: asyncio.Future[None] = loop.create_future()
        self._opening = True  # still reading the response to the opening handshake
        self._rest = bytearray()  # bytes of a frame (or the response) not yet whole
        self._need = 0  # how many bytes that frame needs in all
        self._parts: list[bytes] = []  # fragments of a message not yet finished
        self._closing = False  # a close frame has been sent
        self._handler: Handler = self._keep
        self._inbox: list[bytes] = []
        self._arrived: asyncio.Future[None] | None = None
        self.error: BaseException | None = None  # the handler raised: the socket was cut

    # --- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._opened.done():
            self._opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self._lost.done():
            self._lost.set_result(None)
        self._wake()

    def data_received(self, data: bytes) -> None:
        if self._rest:
            self._rest += data
            if len(self._rest) < self._need:
                return
            data = bytes(self._rest)
            self._rest.clear()
        if self._opening:
            data = self._read_opening(data)
        try:
            self._read_frames(data)
        except Exception as err:  # the handler's own failure: counted by the caller
            self.error = err
            self.abort()

    def eof_received(self) -> bool:
        return False

    # --- reading ------------------------------------------------------------------

    def _read_opening(self, data: bytes) -> bytes:
        """The response to the opening handshake; what follows it is frames."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_OPENING:
                self._fail_opening(HandshakeError("response headers too long"))
            else:
                self._rest += data
            return b""
        self._opening = False
        head = data[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head[0].split(" ", 2)[1:2] != ["101"]:
            self._fail_opening(HandshakeError(f"server answered {head[0]!r}"))
        elif headers.get("upgrade", "").lower() != "websocket":
            self._fail_opening(HandshakeError("no Upgrade: websocket"))
        elif headers.get("sec-websocket-accept", "").encode() != self._accept:
            self._fail_opening(HandshakeError("wrong Sec-WebSocket-Accept"))
        elif headers.get("sec-websocket-extensions"):
            self._fail_opening(HandshakeError("an extension nobody asked for"))
        else:
            if not self._opened.done():  # not given up on meanwhile
                self._opened.set_result(None)
            return data[end + 4 :]
        return b""

    def _fail_opening(self, err: Exception) -> None:
        self._opening = False
        if not self._opened.done():
            self._opened.set_exception(err)
        self.abort()

    def _read_frames(self, data: bytes) -> None:
        pos, end = 0, len(data)
        self._need = 2
        while end - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            n = b1 & 0x7F
            head = pos + 2
            if n == 126:
                head = pos + 4
                n = int.from_bytes(data[pos + 2 : head], "big")
            elif n == 127:
                head = pos + 10
                n = int.from_bytes(data[pos + 2 : head], "big")
            stop = head + n
            if stop > end:  # wait for the rest: of the length itself, or of the payload
                self._need = (head if head > end else stop) - pos
                break
            payload = data[head:stop]
            pos = stop
            if b0 == FIN | TEXT or b0 == FIN | BINARY:  # the common case, first
                if b1 & 0x80:  # a server never masks
                    self._fail(PROTOCOL_ERROR)
                    return
                self._handler(payload)
            elif self._other(b0, b1, payload):
                return
        if pos < end:
            self._rest += data[pos:]

    def _other(self, b0: int, b1: int, payload: bytes) -> bool:
        """Control frames, fragments, and what a server may not send; True: stop reading."""
        opcode = b0 & 0x0F
        if b1 & 0x80 or b0 & 0x70 or opcode not in (CONT, TEXT, BINARY, CLOSE, PING, PONG):
            self._fail(PROTOCOL_ERROR)
            return True
        if opcode == PING:
            self._write(PONG, payload)
        elif opcode == CLOSE:
            self._closed_by_server(payload)
        elif opcode == PONG:
            pass
        elif (opcode == CONT) != bool(self._parts):  # a continuation of nothing, or a
            self._fail(PROTOCOL_ERROR)  # new message before the last one finished
            return True
        elif b0 & FIN:
            self._parts.append(payload)
            message = b"".join(self._parts)
            self._parts.clear()
            self._handler(message)
        else:
            self._parts.append(payload)
        return False

    def _closed_by_server(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else NO_STATUS
        self.close_code = code
        if not self._closing:  # echo it; the server then ends the TCP connection
            self._closing = True
            self._write(CLOSE, payload[:2])

    def _fail(self, code: int) -> None:
        """A frame the RFC forbids: close with ``code`` and cut the connection."""
        self.close_code = code
        if not self._closing:
            self._closing = True
            self._write(CLOSE, code.to_bytes(2, "big"))
        self.abort()

    async def opened(self) -> None:
        """Wait for the opening handshake; on failure (or cancellation) cut the connection."""
        try:
            await self._opened
        except BaseException:
            self.abort()
            raise

    # --- messages -----------------------------------------------------------------

    def _keep(self, message: bytes) -> None:
        self._inbox.append(message)
        self._wake()

    def _wake(self) -> None:
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    async def recv(self) -> bytes:
        """The next message, for a handshake's few frames before :meth:`listen`."""
        while not self._inbox:
            if self._lost.done():
                raise ConnectionError(f"closed with {self.close_code or ABNORMAL}")
            self._arrived = asyncio.get_running_loop().create_future()
            await self._arrived
        return self._inbox.pop(0)

    def listen(self, handler: Handler) -> None:
        """From now on every whole message goes to ``handler``, those kept so far first.
        It runs inside ``data_received``: what it raises cuts the socket (see ``error``)."""
        self._handler = handler
        kept, self._inbox = self._inbox, []
        for message in kept:
            handler(message)

    # --- writing and closing --------------------------------------------------------

    def _write(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def send(self, message: bytes) -> None:
        """Send one text message (UTF-8 bytes); raises once the socket is closing."""
        if self._closing or self.transport is None or self.transport.is_closing():
            raise ConnectionError("the socket is closed")
        self.transport.write(client_frame(TEXT, message))

    async def wait_closed(self) -> int:
        """Wait for the connection to end: the server's close code, or 1006 without one.
        Raises what the handler raised, if it did."""
        await asyncio.shield(self._lost)
        if self.error is not None:
            raise self.error
        return self.close_code or ABNORMAL

    async def close(self, code: int = 1000, timeout: float = 10.0) -> None:
        """The close handshake: send ``code``, wait for the server to end the connection."""
        if not self._closing:
            self._closing = True
            self._write(CLOSE, code.to_bytes(2, "big"))
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._lost)
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect(
    url: str, headers: dict[str, str] | None = None, timeout: float = 60.0
) -> WireSocket:
    """Open a socket to ``url`` (``ws://`` or ``wss://``) with extra request ``headers``,
    within ``timeout`` seconds for the TCP connection and the handshake together."""
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if secure else None
    async with asyncio.timeout(timeout):
        _, socket = await loop.create_connection(
            lambda: WireSocket(request, key), host, port, ssl=context
        )
        await socket.opened()
    return socket
