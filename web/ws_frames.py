"""RFC 6455 server frames, built once per payload and shared by every socket it goes to.

With compression off (``web.server``: ``ws_per_message_deflate=False``) every socket gets
byte-identical frames, so a fan-out can frame a payload once and write the same bytes to a
thousand transports (:meth:`web.ws_protocol.WebSocketProtocol.write_frames`) instead of
having websockets build, serialise and join a frame per socket.
"""

from __future__ import annotations

from struct import Struct

_FIN_TEXT = 0x81  # FIN, no RSV bits, opcode 1
_FIN_BINARY = 0x82  # FIN, no RSV bits, opcode 2
_HEAD_16 = Struct("!BBH")
_HEAD_64 = Struct("!BBQ")


def server_frame(data: str | bytes) -> bytes:
    """One complete, unmasked, unfragmented frame: text for ``str`` (UTF-8), binary for
    ``bytes``; the length in 7, 16 or 64 bits, the shortest that fits (as RFC 6455 5.2
    requires and websockets writes it)."""
    if isinstance(data, str):
        body = data.encode()
        opcode = _FIN_TEXT
    else:
        body = data
        opcode = _FIN_BINARY
    size = len(body)
    if size < 126:
        head = bytes((opcode, size))
    elif size < 65536:
        head = _HEAD_16.pack(opcode, 126, size)
    else:
        head = _HEAD_64.pack(opcode, 127, size)
    return head + body
