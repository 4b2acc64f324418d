"""Viber's REST bot API on loopback (``set_webhook`` only), reached through
``INVIARO_PROVIDER_ORIGINS``; it accepts or refuses as the test says."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests import loopback
from tests.conftest import free_port

ORIGIN = "https://chatapi.viber.com"


class FakeViber:
    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (auth token, body)
        self.refusal: tuple[int, str] | None = None
        self.app = Starlette(routes=[Route("/pa/set_webhook", self.set_webhook, methods=["POST"])])

    @property
    def origins(self) -> tuple[tuple[str, str], ...]:
        return ((ORIGIN, f"http://127.0.0.1:{self.port}"),)

    def refuse(self, status: int, message: str) -> None:
        self.refusal = (status, message)

    def accept(self) -> None:
        self.refusal = None

    async def set_webhook(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.calls.append((request.headers.get("x-viber-auth-token", ""), body))
        if self.refusal is not None:
            status, message = self.refusal
            return JSONResponse({"status": status, "status_message": message})
        return JSONResponse(
            {"status": 0, "status_message": "ok", "event_types": body.get("event_types", [])}
        )

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[FakeViber]:
        async with loopback.serving(self.app, self.port):
            yield self
