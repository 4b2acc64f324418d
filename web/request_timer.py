"""HTTP request latency by door, for ``/metrics`` (pure ASGI: nothing is buffered).

A door is what a request came in by: ``ingest`` (``POST /api/ingest/…``), a channel
webhook (``webhook_<kind>``: the handler names the channel's kind once it knows it, e.g.
``webhook_whatsapp``; ``webhook_meta`` or ``webhook_viber`` until then), ``api`` (the rest
of ``/api/``) and ``other`` (pages, assets, health). A request is timed from when the
server hands it to the app to when the last byte of its answer is handed back; WebSockets
are not timed here (their frames have their own metrics).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import metrics

DOOR = "inviaro.door"  # the scope key a handler may set to name its door more precisely


def door_of(path: str) -> str:
    if path.startswith("/api/"):
        return "ingest" if path.startswith("/api/ingest/") else "api"
    if path.startswith("/webhooks/"):
        kind = path[len("/webhooks/") :].split("/", 1)[0]
        return f"webhook_{kind}" if kind in ("meta", "viber") else "other"
    return "other"


def name_door(scope: Scope, door: str) -> None:
    """Called by a handler that knows its door better than its path does."""
    scope[DOOR] = door


class RequestTimer:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._histograms = {
            door: metrics.HTTP_SECONDS.labels(door=door)
            for door in ("ingest", "api", "other", "webhook_meta", "webhook_viber")
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope[DOOR] = door_of(scope["path"])

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self._observe(scope[DOOR], time.perf_counter() - started)

        await self.app(scope, receive, timed_send)

    def _observe(self, door: str, seconds: float) -> None:
        histogram = self._histograms.get(door)
        if histogram is None:  # a channel kind named by its handler: a handful at most
            histogram = self._histograms[door] = metrics.HTTP_SECONDS.labels(door=door)
        histogram.observe(seconds)
