"""web/ws_door.py: a socket for a socket route reaches its endpoint around the middleware,
refused for a NUL in its query and answered by the app's handlers, as the stack would."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.responses import PlainTextResponse, Response
from starlette.routing import WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from web.app import create_app
from web.config import load
from web.direct_doors import DirectDoors
from web.guard import RejectNul
from web.headers import SecurityHeaders
from web.request_timer import RequestTimer
from web.ws_door import SocketDoor, socket_handlers


class _Gone(Exception):
    pass


class _Record:
    """An ASGI app that notes it was called."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True


class _Raises:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise self.exc


def _scope(path: str = "/ws", query: bytes = b"", kind: str = "websocket") -> dict[str, Any]:
    return {"type": kind, "path": path, "query_string": query, "headers": []}


async def _receive() -> Message:
    return {"type": "websocket.connect"}


class _Sent:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)


def _door(endpoint: Any, stack: Any = None, handlers: Any = None) -> SocketDoor:
    return SocketDoor(stack or _Record(), [WebSocketRoute("/ws", endpoint)], handlers or {})


async def test_a_socket_for_a_socket_route_reaches_its_endpoint_and_not_the_stack() -> None:
    endpoint, stack = _Record(), _Record()
    await _door(endpoint, stack)(_scope(), _receive, _Sent())
    assert endpoint.called and not stack.called


@pytest.mark.parametrize("scope", [_scope("/elsewhere"), _scope(kind="http")])
async def test_anything_else_goes_to_the_middleware_stack(scope: dict[str, Any]) -> None:
    endpoint, stack = _Record(), _Record()
    await _door(endpoint, stack)(scope, _receive, _Sent())
    assert stack.called and not endpoint.called


async def test_a_nul_in_the_query_closes_the_socket_before_its_endpoint() -> None:
    endpoint, sent = _Record(), _Sent()
    await _door(endpoint)(_scope(query=b"token=a%00b"), _receive, sent)
    assert sent.messages == [{"type": "websocket.close", "code": 1008}]
    assert not endpoint.called


async def test_what_the_endpoint_raises_is_answered_by_the_handler_for_its_class() -> None:
    async def unavailable(conn: WebSocket, exc: Exception) -> Response:
        assert isinstance(conn, WebSocket)
        return PlainTextResponse("later", status_code=503)

    sent = _Sent()
    door = _door(_Raises(_Gone()), handlers={Exception: unavailable})
    await door(_scope(), _receive, sent)
    assert sent.messages[0]["type"] == "websocket.http.response.start"
    assert sent.messages[0]["status"] == 503


async def test_what_no_handler_answers_is_raised_to_the_server() -> None:
    with pytest.raises(_Gone):
        await _door(_Raises(_Gone()), handlers={KeyError: _Record()})(_scope(), _receive, _Sent())


def test_a_socket_is_not_answered_by_the_catch_all_handler_of_http_requests() -> None:
    async def handler(conn: Any, exc: Exception) -> None:
        return None

    assert socket_handlers({Exception: handler, 500: handler, _Gone: handler}) == {_Gone: handler}


def test_the_app_serves_its_sockets_through_the_door() -> None:
    settings = load({"INVIARO_SECRET_KEY": "door-test-secret-key-0123456789abcdef"})
    app = create_app(settings)
    assert isinstance(app.build_middleware_stack(), SocketDoor)


def test_the_app_has_only_the_middleware_the_door_was_written_for() -> None:
    # Sockets go around every middleware: one added here must be looked at (does a socket
    # need it? then the door must do its part) before this list is updated.
    app = create_app(load({"INVIARO_SECRET_KEY": "door-test-secret-key-0123456789abcdef"}))
    # DirectDoors serves HTTP requests only (sockets pass it untouched).
    expected = [RequestTimer, SecurityHeaders, RejectNul, DirectDoors]
    assert [m.cls for m in app.user_middleware] == expected
