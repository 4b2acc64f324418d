"""Studio flows over HTTP: drafts, validation, publishing, and a simulation for the
Studio's "try it" panel that runs a draft through the real interpreter and stores nothing.

Owners and admins edit and publish; every operator may read flows and try them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import UNSET
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.flows import document as doc
from hub.flows import engine
from hub.flows.hours import InvalidHours, parse_hours
from hub.model import as_utc, utcnow
from hub.store import NotFound
from storage import flows
from storage import models as m
from web import audit, flow_runner
from web.auth.context import MANAGERS, Principal, require
from web.contracts import flows as flows_contract
from web.errors import ApiError
from web.operation import declare

if TYPE_CHECKING:
    from web.services import Services


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "There is no such flow in your workspace.")


def _flow_id(request: Request) -> str:
    value = str(request.path_params["flow_id"])
    if len(value) > 64:
        raise _not_found()
    return value


def invalid_flow(problems: list[doc.Problem]) -> Response:
    """422 ``invalid_flow`` with every problem, each on its step."""
    count = len(problems)
    return JSONResponse(
        {
            "error": "invalid_flow",
            "detail": f"The flow has {count} problem{'s' if count != 1 else ''}: "
            + problems[0].detail,
            "problems": [{"step": p.step, "detail": p.detail} for p in problems],
        },
        status_code=422,
    )


DOCUMENT_KEYS = ("trigger", "start", "steps")


async def _capabilities(request: Request, who: Principal) -> frozenset[str]:
    async with _services(request).db() as db:
        workspace = await db.get(m.Workspace, who.workspace_id)
    ai_on = workspace is not None and workspace.ai_enabled
    # AI needs both keys: the owner's switch and a provider named by the server.
    return frozenset({"ai"}) if ai_on and _services(request).settings.ai_configured else frozenset()


async def _problems(
    db: Any, workspace_id: str, document: Any, available: frozenset[str]
) -> list[doc.Problem]:
    """Every problem of a document, with the ones only the workspace's data can tell: a
    ``book`` step naming a booking type the workspace does not have."""
    problems = doc.validate(document, available=available)
    steps = document.get("steps") if isinstance(document, dict) else None
    named = {
        step_id: raw["booking_type_id"]
        for step_id, raw in (steps if isinstance(steps, dict) else {}).items()
        if isinstance(raw, dict)
        and raw.get("type") == "book"
        and isinstance(raw.get("booking_type_id"), str)
    }
    if not named:
        return problems
    known = set(
        await db.scalars(
            select(m.BookingType.id).where(
                m.BookingType.workspace_id == workspace_id,
                m.BookingType.id.in_(set(named.values())),
            )
        )
    )
    return problems + [
        doc.Problem(step_id, f"There is no booking type {bt_id!r} in this workspace.")
        for step_id, bt_id in named.items()
        if bt_id not in known
    ]


@declare(flows_contract.LIST_FLOWS)
async def list_flows(request: Request) -> Response:
    who = await require(request)
    async with _services(request).db() as db:
        rows = await flows.list_flows(db, who.workspace_id)
    return JSONResponse({"items": [flows.to_wire(f) for f in rows]})


@declare(flows_contract.CREATE_FLOW)
async def create_flow(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    body = await flows_contract.CREATE_FLOW.parse(request, flows_contract.FlowCreate)
    document = {key: getattr(body, key) for key in DOCUMENT_KEYS}
    async with _services(request).db() as db, db.begin():
        flow = await flows.create(db, who.workspace_id, body.name, document, body.priority or 0)
        await audit.by_principal(db, request, who, "flow_created", "flow", flow.id)
        wire = flows.to_wire(flow)
    return JSONResponse(wire, status_code=201)


@declare(flows_contract.GET_FLOW)
async def get_flow(request: Request) -> Response:
    who = await require(request)
    try:
        async with _services(request).db() as db:
            flow = await flows.get(db, who.workspace_id, _flow_id(request))
    except NotFound:
        raise _not_found() from None
    return JSONResponse(flows.to_wire(flow))


@declare(flows_contract.UPDATE_FLOW)
async def update_flow(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    body = await flows_contract.UPDATE_FLOW.parse(request, flows_contract.FlowPatch)
    name = body.name or None
    priority = None if body.priority is UNSET else body.priority
    sent = {k: getattr(body, k) for k in DOCUMENT_KEYS if getattr(body, k) is not UNSET}
    document: dict[str, Any] | None = None
    try:
        async with _services(request).db() as db, db.begin():
            flow = await flows.get(db, who.workspace_id, _flow_id(request))
            if sent:
                document = {**(flow.definition or {}), **sent}
            flows.edit(flow, name=name, document=document, priority=priority)
            await audit.by_principal(db, request, who, "flow_updated", "flow", flow.id)
            wire = flows.to_wire(flow)
    except NotFound:
        raise _not_found() from None
    return JSONResponse(wire)


@declare(flows_contract.DELETE_FLOW)
async def delete_flow(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    try:
        async with _services(request).db() as db, db.begin():
            flow = await flows.get(db, who.workspace_id, _flow_id(request))
            await db.delete(flow)
            await audit.by_principal(db, request, who, "flow_deleted", "flow", flow.id)
    except NotFound:
        raise _not_found() from None
    return Response(status_code=204)


@declare(flows_contract.PUBLISH_FLOW)
async def publish_flow(request: Request) -> Response:
    """Freeze the draft as the next numbered version, or 422 with every problem."""
    who = await require(request, roles=MANAGERS)
    available = await _capabilities(request, who)
    try:
        async with _services(request).db() as db, db.begin():
            flow = await flows.get(db, who.workspace_id, _flow_id(request))
            draft = flow.definition or {}
            problems = await _problems(db, who.workspace_id, draft, available)
            if problems:
                return invalid_flow(problems)
            parsed, _ = doc.parse(draft)
            assert parsed is not None
            await flows.publish(db, flow, doc.to_wire(parsed))
            await audit.by_principal(db, request, who, "flow_published", "flow", flow.id)
            wire = flows.to_wire(flow)
    except NotFound:
        raise _not_found() from None
    return JSONResponse(wire)


@declare(flows_contract.UNPUBLISH_FLOW)
async def unpublish_flow(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    try:
        async with _services(request).db() as db, db.begin():
            flow = await flows.get(db, who.workspace_id, _flow_id(request))
            flows.unpublish(flow)
            await audit.by_principal(db, request, who, "flow_unpublished", "flow", flow.id)
            wire = flows.to_wire(flow)
    except NotFound:
        raise _not_found() from None
    return JSONResponse(wire)


@declare(flows_contract.VALIDATE_FLOW)
async def validate_flow(request: Request) -> Response:
    who = await require(request)
    body = await flows_contract.VALIDATE_FLOW.parse(request, flows_contract.FlowCheck)
    available = await _capabilities(request, who)
    async with _services(request).db() as db:
        problems = await _problems(db, who.workspace_id, body.document(), available)
    if problems:
        return invalid_flow(problems)
    return JSONResponse({"problems": []})


@declare(flows_contract.SIMULATE_FLOW)
async def simulate_flow(request: Request) -> Response:
    """Run a draft against a simulated contact: the replies in order, through the same
    interpreter. Nothing is stored and nothing is sent; an ``http`` step is not called
    (it takes its error branch) and timers do not fire."""
    who = await require(request)
    body = await flows_contract.SIMULATE_FLOW.parse(request, flows_contract.FlowSimulate)
    available = await _capabilities(request, who)
    async with _services(request).db() as db:
        problems = await _problems(db, who.workspace_id, body.document(), available)
    if problems:
        return invalid_flow(problems)
    document, _ = doc.parse(body.document())
    assert document is not None
    contact = msgspec.to_builtins(body.contact or flows_contract.SimulatedContact())
    replies = [engine.Reply(r.text, r.option) for r in body.replies]
    now = utcnow() if body.now is None else as_utc(body.now)
    ctx = engine.Context(contact=contact, now=now, hours=await _hours(request, who))
    transcript: list[dict[str, Any]] = []
    log: list[dict[str, str]] = []

    def record(outcome: engine.Outcome) -> None:
        for action in outcome.actions:
            if isinstance(action, engine.Say):
                line: dict[str, Any] = {"from": "bot", "text": action.text}
                if action.options:
                    line["options"] = [{"label": lb, "value": v} for lb, v in action.options]
                transcript.append(line)
            elif isinstance(action, engine.SaveContact):
                _apply(contact, action)
        log.extend({"step": e.step, "outcome": e.outcome} for e in outcome.log)

    first = replies[0].text if replies and document.trigger.on == "message" else ""
    outcome = engine.start(document, ctx, message_text=first)
    record(outcome)
    outcome = _settle_calls(document, outcome, ctx, record)
    for reply in replies[1 if first else 0 :]:
        transcript.append({"from": "contact", "text": reply.text, "option": reply.option})
        ctx = engine.Context(contact=contact, now=ctx.now, hours=ctx.hours)
        outcome = engine.advance(document, outcome.state, reply, ctx)
        record(outcome)
        outcome = _settle_calls(document, outcome, ctx, record)
    state = outcome.state
    return JSONResponse(
        {
            "transcript": transcript,
            "log": log,
            "status": state.status,
            "step": state.step,
            "error": state.error,
            "vars": state.vars,
            "contact": contact,
        }
    )


def _settle_calls(
    document: doc.Document, outcome: engine.Outcome, ctx: engine.Context, record: Any
) -> engine.Outcome:
    """A simulation calls nobody: each ``http`` step is answered as failed, and a ``book``
    step finds no slots (it takes ``on_none``)."""
    epoch = outcome.state.epoch
    while True:
        event: engine.Event
        if any(isinstance(a, engine.CallHttp) for a in outcome.actions):
            event = engine.HttpDone(epoch, False, error="not called in a simulation")
        elif any(isinstance(a, engine.FindSlots) for a in outcome.actions):
            event = engine.SlotsFound(epoch, (), error="not looked up in a simulation")
        else:
            return outcome
        outcome = engine.advance(document, outcome.state, event, ctx)
        epoch = outcome.state.epoch
        record(outcome)


def _apply(contact: dict[str, Any], action: engine.SaveContact) -> None:
    if action.field.startswith("attributes."):
        contact.setdefault("attributes", {})[action.field[11:]] = action.value
    else:
        contact[action.field] = action.value


async def _hours(request: Request, who: Principal) -> Any:
    async with _services(request).db() as db:
        workspace = await db.get(m.Workspace, who.workspace_id)
    if workspace is None or not workspace.business_hours:
        return None
    try:
        return parse_hours(workspace.business_hours)
    except InvalidHours:
        return None


@declare(flows_contract.GET_FLOW_SECRET)
async def flow_secret(request: Request) -> Response:
    """The key that signs this workspace's ``http`` steps (``X-Inviaro-Signature``), for
    the business's service to check them. Owners and admins; every read is audited."""
    who = await require(request, roles=MANAGERS)
    key = flow_runner.flow_secret(_services(request).settings.secret_key, who.workspace_id)
    async with _services(request).db() as db, db.begin():
        await audit.by_principal(
            db, request, who, "flow_secret_read", "workspace", who.workspace_id
        )
    return JSONResponse({"secret": key.hex(), "algorithm": "HMAC-SHA256 of the raw body"})


routes = [
    Route("/api/flows", list_flows, methods=["GET"]),
    Route("/api/flows", create_flow, methods=["POST"]),
    Route("/api/flows/validate", validate_flow, methods=["POST"]),
    Route("/api/flows/simulate", simulate_flow, methods=["POST"]),
    Route("/api/flows/secret", flow_secret, methods=["GET"]),
    Route("/api/flows/{flow_id}", get_flow, methods=["GET"]),
    Route("/api/flows/{flow_id}", update_flow, methods=["PATCH"]),
    Route("/api/flows/{flow_id}", delete_flow, methods=["DELETE"]),
    Route("/api/flows/{flow_id}/publish", publish_flow, methods=["POST"]),
    Route("/api/flows/{flow_id}/unpublish", unpublish_flow, methods=["POST"]),
]
