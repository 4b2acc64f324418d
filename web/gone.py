"""When a principal goes away, on every process: announce it, receive it, sweep for it.

:func:`announce` applies a :class:`hub.gone.Gone` to this process's sockets at once and
publishes it on :data:`CONTROL_TOPIC`, which every process subscribes to at start-up; each
applies it to its own sockets as it arrives (milliseconds, not a heartbeat). Whoever ends
a session, revokes a token, disables an operator, deletes a workspace or channel, erases a
contact or switches on the 2FA requirement calls :func:`announce` after its commit.

The bus is at most once, so :func:`web.sweep.sweep` is the safety net: every heartbeat
(and right after the bus comes back from an outage) each process re-checks its own sockets
against the database.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgpack
import orjson

from hub.bus import BusUnavailable
from hub.gone import Gone, Holders

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger("inviaro.gone")

CONTROL_TOPIC = "ctl:gone"


async def announce(services: Services, event: Gone) -> None:
    """Close the local sockets now, then tell every other process (call after the commit)."""
    services.holders.apply(event)
    services.channels.forget(event)
    try:
        await services.hub.bus.publish(event.encode(), CONTROL_TOPIC)
    except BusUnavailable as err:
        log.warning("bus unavailable (%s): other processes close by their sweep", err)


def received(holders: Holders, payload: bytes) -> Gone | None:
    """The control topic's bus handler (on the event loop; never awaits): applies the
    event to the local sockets and answers it (None for a malformed one)."""
    event = Gone.decode(payload)
    if event is not None:
        holders.apply(event)
    return event


def is_ping(data: str | bytes) -> bool:
    """A bare ``{"type": "ping"}`` frame (keepalive, not activity); cheap for other frames."""
    if len(data) > 32:
        return False
    try:
        frame: Any = msgpack.unpackb(data) if isinstance(data, bytes) else orjson.loads(data)
    except Exception:
        return False
    return isinstance(frame, dict) and frame.get("type") == "ping"
