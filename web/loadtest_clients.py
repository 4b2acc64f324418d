"""The sockets of ``inviaro loadtest``: one generator process's share of the load.

A generator process (see :func:`run_share`) opens its share of subscriber and sender
sockets, reports progress on a queue, waits for the controller's ``go``, sends for the
given time (at a rate, or as fast as acknowledged), then waits for ``stop`` and reports a
latency histogram. Two wire protocols: the hub's own (operator sockets subscribe to their
workspace, widget visitors send) and Socket.IO v5 (``bench/``'s reference servers), so
every target is measured by the very same client code: the lean sockets of
:mod:`web.loadtest_wire`, whose frames are read in ``data_received`` and their latency
stamps found in the raw bytes, so the generator costs little beside the servers it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from web.loadtest_wire import Handler, WireSocket, connect

ORIGIN = "http://loadtest.invalid"


def client_headers() -> dict[str, str]:
    """Headers of one simulated client: its own address (``X-Forwarded-For``, believed from
    the server's trusted proxies, loopback by default), since sign-ups and widget sessions
    are rate-limited per address. Against a remote hub, raise those limits instead."""
    address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    return {"Origin": ORIGIN, "X-Forwarded-For": address}


HIST_SCALE = 50  # histogram buckets per e-fold of latency (about 2% resolution)


@dataclass
class Room:
    """One room: a workspace's operators (or a Socket.IO room) and how to join or send."""

    index: int
    token: str  # operator bearer token (hub) or room auth token (Socket.IO)
    widget_key: str = ""


@dataclass
class Share:
    """What one generator process opens and sends."""

    protocol: str  # "inviaro" or "socketio"
    subscribers: list[tuple[str, int]]  # (base URL, room index)
    senders: list[tuple[str, int]]
    rooms: list[Room]
    rate: float  # messages a second from this process; 0: as fast as acknowledged
    window: int  # unacknowledged messages per sender in acknowledged mode
    duration: float
    concurrency: int


@dataclass
class Stats:
    opened: int = 0
    senders_open: int = 0
    connect_errors: int = 0
    sent: int = 0
    acked: int = 0
    received: int = 0
    errors: int = 0
    generator_errors: int = 0  # this generator's own failures (a send that raised)
    acked_by_room: Counter[int] = field(default_factory=Counter)
    subscribers_by_room: Counter[int] = field(default_factory=Counter)
    close_codes: Counter[str] = field(default_factory=Counter)
    hist: Counter[int] = field(default_factory=Counter)
    max_s: float = 0.0
    connect_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU from go to stop: what the load itself cost it

    def observe(self, sent_at: float) -> None:
        lat = time.time() - sent_at
        self.received += 1
        if lat > self.max_s:
            self.max_s = lat
        self.hist[int(math.log(max(lat, 1e-6) * 1e6) * HIST_SCALE)] += 1

    def progress(self) -> dict[str, Any]:
        return {
            "opened": self.opened,
            "senders": self.senders_open,
            "connect_errors": self.connect_errors,
            "sent": self.sent,
            "acked": self.acked,
            "received": self.received,
            "errors": self.errors,
            "generator_errors": self.generator_errors,
            "acked_by_room": dict(self.acked_by_room),
            "subscribers_by_room": dict(self.subscribers_by_room),
        }


def hist_value_s(bucket: int) -> float:
    return math.exp((bucket + 0.5) / HIST_SCALE) / 1e6


STAMP = b'"lt '  # a message's text: "lt <send time>", a JSON string in every protocol


def stamp(raw: bytes) -> float | None:
    """The send time in a frame's ``"lt <time>"`` text, found without decoding the frame
    (what this client sends never needs escaping); None if it has none."""
    at = raw.find(STAMP)
    if at < 0:
        return None
    at += len(STAMP)
    return float(raw[at : raw.index(b'"', at)])


def ws_base(url: str) -> str:
    return "ws" + url[4:] if url.startswith("http") else url


async def _connect(url: str, headers: dict[str, str] | None = None) -> WireSocket:
    return await connect(url, headers, timeout=60)


# --- the hub's protocol ---------------------------------------------------------------

HUB_MESSAGE = b'{"type":"message"'


async def _hub_subscribe(url: str, room: Room) -> WireSocket:
    return await _connect(f"{ws_base(url)}/ws/operator", {"Authorization": f"Bearer {room.token}"})


def _hub_deliveries(ws: WireSocket, stats: Stats) -> Handler:
    """Operator frames: a ``message`` frame's latency stamp, found without decoding it."""
    observe = stats.observe

    def frame(raw: bytes) -> None:
        if raw.startswith(HUB_MESSAGE) and (sent_at := stamp(raw)) is not None:
            observe(sent_at)

    return frame


class _Sender:
    """One sending socket: a window of unacknowledged messages, acks counted by room."""

    def __init__(self, ws: WireSocket, room: Room, stats: Stats, window: int) -> None:
        self.ws = ws
        self.room = room
        self.stats = stats
        self.window = window
        self.in_flight = 0
        self.ref = 0
        self.room_free = asyncio.Event()
        self.room_free.set()
        ws.listen(self.frame)

    def acked(self) -> None:
        self.in_flight -= 1
        self.stats.acked += 1
        self.stats.acked_by_room[self.room.index] += 1
        if self.in_flight < self.window:
            self.room_free.set()

    def refused(self) -> None:
        self.stats.errors += 1
        self.in_flight -= 1
        self.room_free.set()

    def send(self) -> None:
        self.ref += 1
        self.in_flight += 1
        if self.in_flight >= self.window:
            self.room_free.clear()
        self.ws.send(self.encode(self.ref, f"lt {time.time()!r}"))
        self.stats.sent += 1  # written: it will be answered, unless the socket dies

    def encode(self, ref: int, text: str) -> bytes:
        raise NotImplementedError

    def frame(self, raw: bytes) -> None:
        raise NotImplementedError


class _HubSender(_Sender):
    def encode(self, ref: int, text: str) -> bytes:
        return orjson.dumps({"type": "send", "ref": ref, "text": text})

    def frame(self, raw: bytes) -> None:
        if raw.startswith(b'{"type":"ack"'):
            self.acked()
        elif raw.startswith(b'{"type":"error"'):
            self.refused()


async def _hub_sender(
    url: str, room: Room, stats: Stats, window: int, http: httpx.AsyncClient
) -> _Sender:
    response = await http.post(
        f"{url}/api/widget/sessions", json={"key": room.widget_key}, headers=client_headers()
    )
    response.raise_for_status()
    ws = await _connect(response.json()["ws_url"], {"Origin": ORIGIN})
    return _HubSender(ws, room, stats, window)


# --- Socket.IO v5 over a raw WebSocket (Engine.IO v4) ----------------------------------

SIO_MESSAGE = b'42["message",'


async def _sio_open(url: str, query: str) -> WireSocket:
    ws = await _connect(f"{ws_base(url)}/socket.io/?EIO=4&transport=websocket&{query}")
    try:
        opening = await ws.recv()  # 0{"sid":...}: the Engine.IO handshake
        if not opening.startswith(b"0"):
            raise ConnectionError("not an Engine.IO server")
        ws.send(b"40")  # connect to the default namespace
        while True:
            reply = await ws.recv()
            if reply.startswith(b"40"):
                return ws
            if reply.startswith(b"44"):
                raise ConnectionError("Socket.IO connection refused")
            if reply == b"2":
                ws.send(b"3")
    except BaseException:
        ws.abort()
        raise


async def _sio_subscribe(url: str, room: Room) -> WireSocket:
    return await _sio_open(url, f"room={room.index}&token={room.token}")


def _sio_deliveries(ws: WireSocket, stats: Stats) -> Handler:
    """Socket.IO packets: a ``message`` event's stamp, found without decoding it; the
    Engine.IO ping answered."""
    observe = stats.observe

    def packet(raw: bytes) -> None:
        if raw.startswith(SIO_MESSAGE):
            if (sent_at := stamp(raw)) is not None:
                observe(sent_at)
        elif raw == b"2":
            ws.send(b"3")

    return packet


class _SioSender(_Sender):
    def encode(self, ref: int, text: str) -> bytes:
        body = orjson.dumps(["send", {"room": self.room.index, "text": text}])
        return b"42%d%s" % (ref, body)

    def frame(self, raw: bytes) -> None:
        if raw.startswith(b"43"):
            self.acked()
        elif raw == b"2":
            self.ws.send(b"3")


async def _sio_sender(
    url: str, room: Room, stats: Stats, window: int, http: httpx.AsyncClient
) -> _Sender:
    ws = await _sio_open(url, f"room=-1&token={room.token}")
    return _SioSender(ws, room, stats, window)


# --- one generator process ------------------------------------------------------------


async def _send_at_rate(senders: list[_Sender], rate: float, until: float) -> None:
    """Messages at ``rate`` a second, round-robin over the senders, paced by the clock."""
    begin = time.perf_counter()
    n = 0
    while (now := time.perf_counter()) < until:
        due = int((now - begin) * rate) + 1
        while n < due:
            sender = senders[n % len(senders)]
            n += 1
            try:
                sender.send()
            except Exception:  # counted, never hidden: a failing sender skews every figure
                sender.stats.generator_errors += 1
        await asyncio.sleep(min(0.005, 1 / rate))


async def _send_acked(sender: _Sender, until: float) -> None:
    """As fast as acknowledged: keep ``window`` messages in flight."""
    try:
        while time.perf_counter() < until:
            await sender.room_free.wait()
            if time.perf_counter() >= until:
                return
            sender.send()
    except Exception:  # this sender stops; counted, never hidden
        sender.stats.generator_errors += 1


async def run_share(share: Share, report: Any, go: Any, stop_flag: Any) -> None:
    """One generator process: connect, ``ready``, wait for go, send, wait for stop, result."""
    stats = Stats()
    stop = asyncio.Event()
    gate = asyncio.Semaphore(share.concurrency)
    rooms = {r.index: r for r in share.rooms}
    subscribe = _hub_subscribe if share.protocol == "inviaro" else _sio_subscribe
    deliveries = _hub_deliveries if share.protocol == "inviaro" else _sio_deliveries
    open_sender = _hub_sender if share.protocol == "inviaro" else _sio_sender
    stop_reporting = asyncio.Event()

    async def progress() -> None:
        while not stop_reporting.is_set():
            report.put(("progress", stats.progress()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_reporting.wait(), 0.5)

    async def subscriber(url: str, room: Room) -> None:
        try:
            async with gate:
                ws = await subscribe(url, room)
        except Exception:
            stats.connect_errors += 1
            return
        stats.opened += 1
        stats.subscribers_by_room[room.index] += 1
        try:
            ws.listen(deliveries(ws, stats))
            code = await ws.wait_closed()
            stats.close_codes[str(code) if not stop.is_set() else "1000"] += 1
        except asyncio.CancelledError:
            stats.close_codes["1000"] += 1
            with contextlib.suppress(Exception):
                await ws.close()
            raise
        except Exception:  # reading a frame failed here, in the generator: never hidden
            stats.generator_errors += 1
            stats.close_codes["none"] += 1

    reporter = asyncio.ensure_future(progress())
    started = time.perf_counter()
    subs = [asyncio.ensure_future(subscriber(u, rooms[r])) for u, r in share.subscribers]
    senders: list[_Sender] = []
    async with httpx.AsyncClient(timeout=60) as http:  # one TLS context, not one per sender
        for url, r in share.senders:
            try:
                senders.append(await open_sender(url, rooms[r], stats, share.window, http))
                stats.senders_open += 1
            except Exception:
                stats.connect_errors += 1
    wanted = len(share.subscribers) + len(share.senders)
    while stats.opened + stats.senders_open + stats.connect_errors < wanted:
        if all(t.done() for t in subs):
            break
        await asyncio.sleep(0.02)
    stats.connect_s = time.perf_counter() - started
    report.put(("ready", stats.progress() | {"connect_s": stats.connect_s}))
    while not go.is_set():
        await asyncio.sleep(0.01)
    until = time.perf_counter() + share.duration
    cpu_go = time.process_time()
    if senders:
        if share.rate > 0:
            await _send_at_rate(senders, share.rate, until)
        else:
            await asyncio.gather(*(_send_acked(s, until) for s in senders))
    else:  # only holding sockets open: until the time is up, or until told to stop
        while time.perf_counter() < until and not stop_flag.is_set():
            await asyncio.sleep(0.05)
    report.put(("sent", stats.progress()))
    while not stop_flag.is_set():
        await asyncio.sleep(0.02)
    stats.cpu_s = time.process_time() - cpu_go
    stop.set()
    stop_reporting.set()
    await reporter
    await asyncio.gather(*(s.ws.close() for s in senders), return_exceptions=True)
    for t in subs:
        t.cancel()
    await asyncio.gather(*subs, return_exceptions=True)
    report.put(
        (
            "result",
            stats.progress()
            | {
                "connect_s": stats.connect_s,
                "close_codes": dict(stats.close_codes),
                "hist": dict(stats.hist),
                "max_s": stats.max_s,
                "cpu_s": stats.cpu_s,
            },
        )
    )


class _Tagged:
    """The report queue, each report tagged with this generator's index."""

    def __init__(self, index: int, report: Any) -> None:
        self.index = index
        self.report = report

    def put(self, item: tuple[str, Any]) -> None:
        self.report.put((self.index, *item))


def share_main(index: int, share: Share, report: Any, go: Any, stop_flag: Any) -> None:
    """The entry point of a generator process."""
    report = _Tagged(index, report)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    try:
        runner(run_share(share, report, go, stop_flag))
    except BaseException as err:
        report.put(("failed", repr(err)))
        raise
