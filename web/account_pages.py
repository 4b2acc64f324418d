"""The pages behind account links: accept an invitation, set a new password, and ask for
a reset link. An expired, used or unknown link gets a page that says so (410), not a form.

The token is in the path; these pages are never cached and send no referrer, so the
token reaches neither a cache nor another site.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from web import limits
from web.auth import links
from web.contracts import account_pages as account_pages_contract
from web.errors import ApiError
from web.operation import declare
from web.pages import templates

_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _unusable(request: Request, title: str, problem: str, hint: str, status: int) -> Response:
    return templates.TemplateResponse(
        request,
        "link_unusable.html",
        {"title": title, "problem": problem, "hint": hint},
        status_code=status,
        headers=_HEADERS,
    )


async def _found(
    request: Request, purpose: links.Purpose
) -> tuple[Response | None, dict[str, Any]]:
    """The link's details for its form, or the page explaining why there is none."""
    title = "Invitation" if purpose == "invite" else "Password reset"
    hint = (
        "Ask whoever invited you to send a new invitation."
        if purpose == "invite"
        else "Ask for a new link from the sign-in page."
    )
    try:
        await limits.account_link(request)
    except ApiError as exc:
        return _unusable(request, title, exc.detail, hint, 429), {}
    token = request.path_params["token"]
    async with request.app.state.services.db() as db:
        try:
            link, workspace, operator = await links.find(db, purpose, token)
        except links.LinkUnusable as exc:
            return _unusable(request, title, str(exc), hint, 410), {}
    return None, {
        "token": token,
        "workspace_name": workspace.name,
        "email": link.email,
        "role": link.role,
        "needs_otp": bool(operator and operator.totp_enabled),
    }


@declare(account_pages_contract.INVITE_PAGE)
async def invite_page(request: Request) -> Response:
    problem, context = await _found(request, "invite")
    if problem is not None:
        return problem
    return templates.TemplateResponse(
        request, "invite.html", {"title": "Join the team", **context}, headers=_HEADERS
    )


@declare(account_pages_contract.RESET_PAGE)
async def reset_page(request: Request) -> Response:
    problem, context = await _found(request, "reset")
    if problem is not None:
        return problem
    return templates.TemplateResponse(
        request, "reset.html", {"title": "Set a new password", **context}, headers=_HEADERS
    )


@declare(account_pages_contract.FORGOT_PAGE)
async def forgot_page(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "forgot.html", {"title": "Forgot your password?"}, headers=_HEADERS
    )


@declare(account_pages_contract.PROFILE_PAGE)
async def profile_page(request: Request) -> Response:
    """The operator's profile lives in Settings; ``/profile`` is its short address."""
    return RedirectResponse("/settings?tab=profile", status_code=303)


routes = [
    Route("/profile", profile_page, methods=["GET"]),
    Route("/invite/{token}", invite_page, methods=["GET"]),
    Route("/reset/{token}", reset_page, methods=["GET"]),
    Route("/forgot", forgot_page, methods=["GET"]),
]
