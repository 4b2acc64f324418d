"""Consent records over HTTP: the workspace's question, the visitor's answer, and an
operator recording a withdrawal (:mod:`storage.consent`).

``GET/PUT /api/workspace/consent`` (managers change it) ``{enabled, text}``: off by default.
``POST /api/widget/consent {visitor_token, granted, version}``: the widget's visitor
agrees, refuses or withdraws; a yes to an older text answers 409 ``consent_outdated``. A
visitor who has not written yet has no contact: the answer is held and becomes a consent
record when the first message creates the contact (:mod:`storage.consent`).
``POST /api/contacts/{id}/consent/withdraw``: an operator records a withdrawal the contact
gave another way (audited). The widget learns the question from its session
(``consent: {text, version, granted}``).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.store import NotFound
from storage import consent, ledger
from web import audit
from web.api.widget import read_token
from web.auth.context import MANAGERS, require
from web.contracts import admin as admin_contract
from web.contracts import contacts as contacts_contract
from web.contracts import widget as widget_contract
from web.errors import ApiError
from web.operation import declare


def _db(request: Request) -> Any:
    return request.app.state.services.db()


@declare(admin_contract.GET_CONSENT_QUESTION)
async def get_question(request: Request) -> Response:
    who = await require(request)
    async with _db(request) as db:
        return JSONResponse(await consent.settings(await db.connection(), who.workspace_id))


@declare(admin_contract.PUT_CONSENT_QUESTION)
async def put_question(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    body = await admin_contract.PUT_CONSENT_QUESTION.parse(
        request, admin_contract.PutConsentQuestionBody
    )
    async with _db(request) as db, db.begin():
        try:
            question = await consent.set_question(
                await db.connection(), who.workspace_id, body.enabled, body.text
            )
        except consent.InvalidConsent as exc:
            raise ApiError(422, "invalid", str(exc)) from None
        await audit.by_principal(
            db, request, who, "consent_question_changed", "workspace", who.workspace_id
        )
    return JSONResponse(question)


@declare(widget_contract.ANSWER_CONSENT)
async def visitor_answer(request: Request) -> Response:
    body = await widget_contract.ANSWER_CONSENT.parse(request, widget_contract.AnswerConsentBody)
    token, granted, version = body.visitor_token, body.granted, body.version
    if granted and version is None:
        raise ApiError(422, "invalid", "'version' must be the version of the text agreed to.")
    settings = request.app.state.settings
    found = read_token(settings.secret_key, token)
    if found is None or time.time() - found[1] > settings.visitor_token_days * 86400:
        raise ApiError(403, "forbidden", "The visitor token is not valid.")
    visitor = found[0]
    async with _db(request) as db, db.begin():
        conn = await db.connection()
        if await ledger.erased(conn, visitor.workspace_id, [visitor.contact_id]):
            raise ApiError(403, "forbidden", "This visitor's data was erased.")
        try:
            # Before the first message there is no contact yet: the answer waits for it.
            answer = await consent.record(
                conn,
                visitor.workspace_id,
                visitor.contact_id,
                granted=granted,
                version=version,
                source="visitor",
                reserved=True,
            )
        except NotFound:
            raise ApiError(403, "forbidden", "This visitor's data was erased.") from None
        except consent.OutdatedConsent as exc:
            raise ApiError(409, "consent_outdated", str(exc)) from None
        except consent.InvalidConsent as exc:
            raise ApiError(422, "invalid", str(exc)) from None
    return JSONResponse(answer, status_code=201)


@declare(contacts_contract.WITHDRAW_CONSENT)
async def operator_withdrawal(request: Request) -> Response:
    who = await require(request)
    contact_id = str(request.path_params["contact_id"])[:64]
    async with _db(request) as db, db.begin():
        try:
            answer = await consent.record(
                await db.connection(),
                who.workspace_id,
                contact_id,
                granted=False,
                version=None,
                source="operator",
                operator_id=who.operator_id,
            )
        except NotFound:
            raise ApiError(404, "not_found", "There is no such contact.") from None
        except consent.InvalidConsent as exc:
            raise ApiError(422, "invalid", str(exc)) from None
        await audit.by_principal(db, request, who, "consent_withdrawn", "contact", contact_id)
    return JSONResponse(answer, status_code=201)


routes = [
    Route("/api/workspace/consent", get_question, methods=["GET"]),
    Route("/api/workspace/consent", put_question, methods=["PUT"]),
    Route("/api/widget/consent", visitor_answer, methods=["POST"]),
    Route("/api/contacts/{contact_id}/consent/withdraw", operator_withdrawal, methods=["POST"]),
]
