"""Google and Microsoft on loopback, speaking their documented OAuth and calendar formats.

One uvicorn server plays every origin the hub calls (``INVIARO_PROVIDER_ORIGINS`` points
them all here; the paths do not collide): Google's authorization, token and revocation
endpoints and Calendar v3 (``freeBusy``, events insert/patch/delete), and the Microsoft
identity platform's ``common`` authorize and token endpoints and Graph (``getSchedule``,
``/me/calendar``, ``/me/events``). The authorization endpoints check PKCE: a code is only
exchanged for the verifier whose S256 challenge came with it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests import loopback
from tests.conftest import free_port

CLIENTS = {"google": ("google-client", "google-secret"), "microsoft": ("ms-client", "ms-secret")}
ORIGINS = (
    "https://accounts.google.com",
    "https://oauth2.googleapis.com",
    "https://www.googleapis.com",
    "https://login.microsoftonline.com",
    "https://graph.microsoft.com",
)
AUTHORIZE_PATHS = frozenset({"/o/oauth2/v2/auth", "/common/oauth2/v2.0/authorize"})
GOOGLE_SCOPES = {
    "https://www.googleapis.com/auth/calendar.freebusy",
    "https://www.googleapis.com/auth/calendar.events",
}
MICROSOFT_SCOPES = {"offline_access", "https://graph.microsoft.com/Calendars.ReadWrite"}


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def _utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (no multipart library needed)."""
    return dict(parse_qsl((await request.body()).decode()))


class FakeCalendars:
    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[tuple[str, str]] = []
        self.codes: dict[str, dict[str, str]] = {}
        self.access: dict[str, str] = {}  # token -> provider
        self.refresh_tokens: dict[str, str] = {}
        self.pkce_checked = 0
        self.refused_refresh = False
        self.refreshes = 0
        self.revoked: list[str] = []
        self.unreadable = False
        self.expires_in = 3599
        self.failures: list[int] = []  # statuses the next calendar calls answer with
        self.unauthorized = 0
        self.busy: dict[str, list[tuple[datetime, datetime]]] = {"google": [], "microsoft": []}
        self.events: dict[str, dict[str, Any]] = {}
        self.app = Starlette(
            routes=[
                Route("/o/oauth2/v2/auth", self.authorize, methods=["GET"]),
                Route("/common/oauth2/v2.0/authorize", self.authorize, methods=["GET"]),
                Route("/token", self.token, methods=["POST"]),
                Route("/common/oauth2/v2.0/token", self.token, methods=["POST"]),
                Route("/revoke", self.revoke, methods=["POST"]),
                Route("/calendar/v3/freeBusy", self.free_busy, methods=["POST"]),
                Route("/calendar/v3/calendars/{cal}/events", self.google_list, methods=["GET"]),
                Route("/calendar/v3/calendars/{cal}/events", self.google_insert, methods=["POST"]),
                Route(
                    "/calendar/v3/calendars/{cal}/events/{id}",
                    self.event_change,
                    methods=["PATCH", "DELETE"],
                ),
                Route("/v1.0/me/calendar/getSchedule", self.get_schedule, methods=["POST"]),
                Route("/v1.0/me/calendar", self.graph_calendar, methods=["GET"]),
                Route("/v1.0/me/events", self.graph_insert, methods=["POST"]),
                Route("/v1.0/me/events/{id}", self.event_change, methods=["PATCH", "DELETE"]),
            ]
        )

    @property
    def origins(self) -> dict[str, str]:
        return {origin: f"http://127.0.0.1:{self.port}" for origin in ORIGINS}

    @property
    def origins_setting(self) -> tuple[tuple[str, str], ...]:
        return tuple(self.origins.items())

    def provider_calls(self) -> int:
        """Calls the hub made (the browser's visits to the authorize pages excluded)."""
        return sum(1 for _, path in self.calls if path not in AUTHORIZE_PATHS)

    def expire_access_tokens(self) -> None:
        self.access.clear()

    # OAuth ---------------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        provider = "google" if request.url.path.startswith("/o/") else "microsoft"
        self.calls.append(("GET", request.url.path))
        q = request.query_params
        scopes = set(q.get("scope", "").split())
        expected = GOOGLE_SCOPES if provider == "google" else MICROSOFT_SCOPES
        if (
            q.get("client_id") != CLIENTS[provider][0]
            or q.get("response_type") != "code"
            or q.get("code_challenge_method") != "S256"
            or not q.get("code_challenge")
            or scopes != expected
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = uuid.uuid4().hex
        self.codes[code] = {
            "provider": provider,
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
        }
        back = urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

    def _issue(self, provider: str) -> dict[str, Any]:
        access, refresh = f"at-{uuid.uuid4().hex}", f"rt-{uuid.uuid4().hex}"
        self.access[access] = provider
        self.refresh_tokens[refresh] = provider
        return {
            "access_token": access,
            "expires_in": self.expires_in,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "scope": " ".join(sorted(GOOGLE_SCOPES if provider == "google" else MICROSOFT_SCOPES)),
        }

    async def token(self, request: Request) -> Response:
        provider = "google" if request.url.path == "/token" else "microsoft"
        self.calls.append(("POST", request.url.path))
        form = await _form(request)
        if (form.get("client_id"), form.get("client_secret")) != CLIENTS[provider]:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if provider == "microsoft" and not MICROSOFT_SCOPES <= set(
            str(form.get("scope", "")).split()
        ):
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued = self.codes.pop(str(form.get("code")), None)
            if issued is None or issued["provider"] != provider:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if issued["redirect_uri"] != form.get("redirect_uri"):
                return JSONResponse({"error": "redirect_uri_mismatch"}, status_code=400)
            if s256(str(form.get("code_verifier", ""))) != issued["challenge"]:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "PKCE"}, status_code=400
                )
            self.pkce_checked += 1
            return JSONResponse(self._issue(provider))
        if grant == "refresh_token":
            self.refreshes += 1
            token = str(form.get("refresh_token"))
            if self.refused_refresh or self.refresh_tokens.get(token) != provider:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            body = self._issue(provider)
            if provider == "google":
                del body["refresh_token"]  # Google keeps the refresh token
            return JSONResponse(body)
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    async def revoke(self, request: Request) -> Response:
        self.calls.append(("POST", request.url.path))
        token = str((await _form(request)).get("token"))
        self.revoked.append(token)
        self.refresh_tokens.pop(token, None)
        return Response(status_code=200)

    # Calendars -----------------------------------------------------------------------------

    def _authorized(self, request: Request, provider: str) -> bool:
        self.calls.append((request.method, request.url.path))
        header = request.headers.get("authorization", "")
        if self.access.get(header.removeprefix("Bearer ")) != provider:
            self.unauthorized += 1
            return False
        return True

    @staticmethod
    def _unauthorized() -> JSONResponse:
        return JSONResponse(
            {"error": {"code": 401, "message": "Invalid Credentials"}}, status_code=401
        )

    def _busy_in(
        self, provider: str, lo: datetime, hi: datetime
    ) -> list[tuple[datetime, datetime]]:
        return [(s, e) for s, e in self.busy[provider] if s < hi and lo < e]

    async def free_busy(self, request: Request) -> Response:
        if not self._authorized(request, "google"):
            return self._unauthorized()
        if self.failures:
            status = self.failures.pop(0)
            return JSONResponse(
                {"error": {"code": status, "message": "Backend Error"}},
                status_code=status,
                headers={"Retry-After": "0"},
            )
        body = await request.json()
        lo, hi = _utc(body["timeMin"]), _utc(body["timeMax"])
        calendars: dict[str, Any] = {}
        for item in body["items"]:
            if self.unreadable:
                calendars[item["id"]] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
                continue
            calendars[item["id"]] = {
                "busy": [
                    {
                        "start": s.isoformat().replace("+00:00", "Z"),
                        "end": e.isoformat().replace("+00:00", "Z"),
                    }
                    for s, e in self._busy_in("google", lo, hi)
                ]
            }
        return JSONResponse(
            {
                "kind": "calendar#freeBusy",
                "timeMin": body["timeMin"],
                "timeMax": body["timeMax"],
                "calendars": calendars,
            }
        )

    async def google_list(self, request: Request) -> Response:
        if not self._authorized(request, "google"):
            return self._unauthorized()
        return JSONResponse({"kind": "calendar#events", "summary": "ada@example.com", "items": []})

    async def google_insert(self, request: Request) -> Response:
        if not self._authorized(request, "google"):
            return self._unauthorized()
        event = await request.json()
        if event["id"] in self.events:
            return JSONResponse({"error": {"code": 409, "message": "duplicate"}}, status_code=409)
        start, end = _utc(event["start"]["dateTime"]), _utc(event["end"]["dateTime"])
        self.events[event["id"]] = {
            "provider": "google",
            "summary": event["summary"],
            "start": start,
            "end": end,
        }
        self.busy["google"].append((start, end))
        return JSONResponse({"kind": "calendar#event", "status": "confirmed", **event})

    async def get_schedule(self, request: Request) -> Response:
        if not self._authorized(request, "microsoft"):
            return self._unauthorized()
        body = await request.json()
        lo = _utc(body["startTime"]["dateTime"])
        hi = _utc(body["endTime"]["dateTime"])
        value = []
        for schedule in body["schedules"]:
            if self.unreadable:
                value.append(
                    {
                        "scheduleId": schedule,
                        "error": {"message": "not found", "responseCode": "ErrorMailboxNotFound"},
                    }
                )
                continue
            items = [
                {
                    "status": "busy",
                    "subject": "private",
                    "start": {
                        "dateTime": s.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                        "timeZone": "UTC",
                    },
                    "end": {"dateTime": e.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
                }
                for s, e in self._busy_in("microsoft", lo, hi)
            ]
            value.append({"scheduleId": schedule, "availabilityView": "", "scheduleItems": items})
        return JSONResponse({"value": value})

    async def graph_calendar(self, request: Request) -> Response:
        if not self._authorized(request, "microsoft"):
            return self._unauthorized()
        return JSONResponse(
            {
                "id": "AAMkcal",
                "name": "Calendar",
                "owner": {"name": "Ada", "address": "ada@contoso.com"},
            }
        )

    async def graph_insert(self, request: Request) -> Response:
        if not self._authorized(request, "microsoft"):
            return self._unauthorized()
        event = await request.json()
        event_id = f"AAMk{uuid.uuid4().hex}"
        start, end = _utc(event["start"]["dateTime"]), _utc(event["end"]["dateTime"])
        self.events[event_id] = {
            "provider": "microsoft",
            "summary": event["subject"],
            "start": start,
            "end": end,
        }
        self.busy["microsoft"].append((start, end))
        return JSONResponse({"id": event_id, **event}, status_code=201)

    async def event_change(self, request: Request) -> Response:
        provider = "microsoft" if request.url.path.startswith("/v1.0/") else "google"
        if not self._authorized(request, provider):
            return self._unauthorized()
        event = self.events.get(request.path_params["id"])
        if event is None or event["provider"] != provider:
            return JSONResponse({"error": {"code": 404, "message": "Not Found"}}, status_code=404)
        self.busy[provider].remove((event["start"], event["end"]))
        if request.method == "DELETE":
            del self.events[request.path_params["id"]]
            return Response(status_code=204)
        body = await request.json()
        event["start"], event["end"] = (
            _utc(body["start"]["dateTime"]),
            _utc(body["end"]["dateTime"]),
        )
        self.busy[provider].append((event["start"], event["end"]))
        return JSONResponse({"id": request.path_params["id"]})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[FakeCalendars]:
        async with loopback.serving(self.app, self.port):
            yield self
